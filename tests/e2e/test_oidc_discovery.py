"""OpenID Connect Discovery 1.0: /.well-known/openid-configuration, one
document with the RFC 8414 metadata (the same bytes at both paths), its
fields and values, the path settings it follows, an issuer with a path
(Keycloak's shape), and openid_configuration_path equal to metadata_path
or to another endpoint's path. scopes_supported reads the clients, so
this runs on both backends."""
import subprocess

from lk_harness import LATCHKEYD, LatchkeyTestCase, add_client

OIDC = "/.well-known/openid-configuration"
RFC8414 = "/.well-known/oauth-authorization-server"

CLAIMS = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
          "sid", "amr", "name", "family_name", "given_name",
          "middle_name", "nickname", "preferred_username", "profile",
          "picture", "website", "gender", "birthdate", "zoneinfo", "locale",
          "updated_at", "email", "email_verified", "address", "phone_number",
          "phone_number_verified"]


class DiscoveryDocumentTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        add_client(self.db, "svc", "--scope", "read", "--scope", "openid",
                   "--scope", "b:c")
        add_client(self.db, "other", "--scope", "write", "--scope", "email")

    def get(self, s, path):
        r = s.request("GET", path)
        self.assertEqual(r.status, 200, (path, r.body))
        self.assertEqual(r.headers["content-type"], "application/json")
        self.assertEqual(r.headers["cache-control"], "public, max-age=300")
        return r

    def test_every_field_and_value(self):
        s = self.start()
        iss = s.issuer
        md = self.get(s, OIDC).json()
        # Discovery 1.0 section 3, REQUIRED.
        self.assertEqual(md["issuer"], iss)
        self.assertEqual(md["authorization_endpoint"], iss + "/authorize")
        self.assertEqual(md["token_endpoint"], iss + "/token")
        self.assertEqual(md["jwks_uri"], iss + "/jwks.json")
        self.assertEqual(md["response_types_supported"], ["code"])
        self.assertEqual(md["subject_types_supported"], ["public"])
        self.assertEqual(md["id_token_signing_alg_values_supported"],
                         ["RS256", "ES256"])
        # OpenID Connect endpoints and facts.
        self.assertEqual(md["userinfo_endpoint"], iss + "/userinfo")
        self.assertEqual(md["end_session_endpoint"], iss + "/logout")
        # The OpenID Connect scopes first, then the clients' (in the
        # order of their ids), each once.
        self.assertEqual(md["scopes_supported"][:5],
                         ["openid", "profile", "email", "address", "phone"])
        self.assertEqual(sorted(md["scopes_supported"][5:]),
                         ["b:c", "read", "write"])
        self.assertEqual(md["claims_supported"], CLAIMS)
        self.assertEqual(md["response_modes_supported"], ["query"])
        self.assertEqual(md["prompt_values_supported"],
                         ["none", "login", "consent", "select_account"])
        self.assertIs(md["request_parameter_supported"], False)
        self.assertIs(md["request_uri_parameter_supported"], False)
        self.assertIs(md["claims_parameter_supported"], False)
        # What the RFC 8414 document had before.
        self.assertEqual(md["grant_types_supported"],
                         ["authorization_code", "client_credentials",
                          "password", "refresh_token",
                          "urn:ietf:params:oauth:grant-type:token-exchange",
                          "urn:ietf:params:oauth:grant-type:device_code",
                          "urn:ietf:params:oauth:grant-type:jwt-bearer"])
        self.assertEqual(md["token_endpoint_auth_methods_supported"],
                         ["client_secret_basic", "client_secret_post",
                          "private_key_jwt", "none"])
        self.assertEqual(md["revocation_endpoint_auth_methods_supported"],
                         ["client_secret_basic", "client_secret_post",
                          "private_key_jwt", "none"])
        self.assertEqual(md["introspection_endpoint_auth_methods_supported"],
                         ["client_secret_basic", "client_secret_post",
                          "private_key_jwt"])
        # RFC 8414 section 2: with private_key_jwt, the algorithms.
        for ep in ("token", "revocation", "introspection"):
            self.assertEqual(
                md[ep + "_endpoint_auth_signing_alg_values_supported"],
                ["RS256", "PS256", "ES256"])
        # RFC 9449 section 5.1
        self.assertEqual(md["dpop_signing_alg_values_supported"],
                         ["RS256", "PS256", "ES256"])
        self.assertEqual(md["code_challenge_methods_supported"], ["S256"])
        self.assertEqual(md["revocation_endpoint"], iss + "/revoke")
        self.assertEqual(md["introspection_endpoint"], iss + "/introspect")
        # RFC 8628 section 4
        self.assertEqual(md["device_authorization_endpoint"],
                         iss + "/device_authorization")
        self.assertIs(md["authorization_response_iss_parameter_supported"],
                      True)
        self.assertEqual(len(md), 29, sorted(md))

    def test_same_document_as_rfc8414(self):
        s = self.start("--pkce-allow-plain")
        a, b = self.get(s, OIDC), self.get(s, RFC8414)
        self.assertEqual(a.body, b.body)
        self.assertEqual(a.json()["code_challenge_methods_supported"],
                         ["S256", "plain"])
        # A client added while the server runs is in both at once.
        add_client(self.db, "late", "--scope", "late:scope")
        a, b = self.get(s, OIDC), self.get(s, RFC8414)
        self.assertEqual(a.body, b.body)
        self.assertIn("late:scope", a.json()["scopes_supported"])
        h = s.request("HEAD", OIDC)
        self.assertEqual((h.status, h.body), (200, b""))
        r = s.request("POST", OIDC, body="")
        self.assertOAuthError(r, 405, "method_not_allowed")
        self.assertEqual(r.headers["allow"], "GET, HEAD")

    def test_paths_follow_the_settings(self):
        s = self.start("--token-path", "/oauth/token",
                       "--authorize-path", "/oauth/auth",
                       "--userinfo-path", "/oidc/me",
                       "--end-session-path", "/oidc/bye",
                       "--jwks-path", "/oidc/keys",
                       "--revoke-path", "/oauth/revoke",
                       "--introspect-path", "/oauth/introspect",
                       "--openid-configuration-path", "/oidc/config")
        iss = s.issuer
        md = self.get(s, "/oidc/config").json()
        self.assertEqual(md["token_endpoint"], iss + "/oauth/token")
        self.assertEqual(md["authorization_endpoint"], iss + "/oauth/auth")
        self.assertEqual(md["userinfo_endpoint"], iss + "/oidc/me")
        self.assertEqual(md["end_session_endpoint"], iss + "/oidc/bye")
        self.assertEqual(md["jwks_uri"], iss + "/oidc/keys")
        self.assertEqual(md["revocation_endpoint"], iss + "/oauth/revoke")
        self.assertEqual(md["introspection_endpoint"],
                         iss + "/oauth/introspect")
        self.assertEqual(self.get(s, RFC8414).body,
                         self.get(s, "/oidc/config").body)
        # A configured path replaces the default one.
        self.assertOAuthError(s.request("GET", OIDC), 404, "not_found")

    def test_issuer_with_a_path(self):
        """Keycloak's shape: the issuer http://HOST/realms/test, the
        document at the issuer plus /.well-known/openid-configuration
        (Discovery 1.0 section 4), and, for a reverse proxy that strips
        the issuer's path, at /.well-known/openid-configuration too."""
        iss = "http://kc.test/realms/test"
        s = self.start("--issuer", iss)
        md = self.get(s, "/realms/test" + OIDC).json()
        self.assertEqual(md["issuer"], iss)
        self.assertEqual(md["token_endpoint"], iss + "/token")
        self.assertEqual(md["userinfo_endpoint"], iss + "/userinfo")
        self.assertEqual(md["end_session_endpoint"], iss + "/logout")
        self.assertEqual(self.get(s, OIDC).body,
                         self.get(s, "/realms/test" + OIDC).body)
        self.assertEqual(self.get(s, RFC8414).body,
                         self.get(s, "/realms/test" + OIDC).body)

    def test_keycloak_paths_with_metadata_path_on_the_discovery_path(self):
        """docs/test-double.md put metadata_path on Keycloak's discovery
        path: with the issuer's path the same, both documents are one at
        that path, and start-up goes on."""
        iss = "http://kc.test/realms/test"
        s = self.start("--issuer", iss,
                       "--metadata-path", "/realms/test" + OIDC)
        md = self.get(s, "/realms/test" + OIDC).json()
        self.assertEqual(md["issuer"], iss)
        self.assertIn("/realms/test" + OIDC, s.log_text())
        self.assertOAuthError(s.request("GET", RFC8414), 404, "not_found")
        self.assertEqual(self.get(s, OIDC).body,
                         self.get(s, "/realms/test" + OIDC).body)

    def test_openid_configuration_path_equal_to_metadata_path(self):
        s = self.start("--openid-configuration-path", RFC8414)
        md = self.get(s, RFC8414).json()
        self.assertEqual(md["subject_types_supported"], ["public"])
        self.assertEqual(md["end_session_endpoint"], s.issuer + "/logout")
        self.assertIn("the one document is served there", s.log_text())
        self.assertOAuthError(s.request("GET", OIDC), 404, "not_found")
        # ... and the other way round: metadata_path on the OIDC path.
        s = self.start("--metadata-path", OIDC)
        self.assertEqual(self.get(s, OIDC).json()["issuer"], s.issuer)
        self.assertOAuthError(s.request("GET", RFC8414), 404, "not_found")

    def test_a_path_shared_with_another_endpoint_stops_start_up(self):
        for args, names in (
                (["--openid-configuration-path", "/token"],
                 "token and openid_configuration"),
                (["--openid-configuration-path", "/jwks.json"],
                 "jwks and openid_configuration"),
                (["--issuer", "http://h.test/x", "--token-path",
                  "/x" + OIDC], "token and openid_configuration"),
                (["--token-path", OIDC], "token and openid_configuration")):
            with self.subTest(args=args):
                p = subprocess.run([LATCHKEYD, "--listen", "127.0.0.1:0",
                                    "--db", self.db, *args],
                                   capture_output=True, text=True, timeout=30)
                self.assertNotEqual(p.returncode, 0)
                self.assertIn("share the path", p.stderr)
                self.assertIn(names, p.stderr)
                self.assertEqual(p.stdout, "")

    def test_bad_openid_configuration_path(self):
        for path in ("oidc", "/a b", "/_control/oidc", "/healthz"):
            with self.subTest(path=path):
                p = subprocess.run([LATCHKEYD, "--listen", "127.0.0.1:0",
                                    "--db", self.db,
                                    "--openid-configuration-path", path],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn("openid_configuration_path", p.stderr)
