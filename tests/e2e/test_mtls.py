"""TLS client certificates (RFC 8705, issue 19) against the real latchkeyd
serving HTTPS itself, with certificates openssl made for the test:
tls_client_auth (a CA's certificate naming the client by subject DN, DNS
name or URI), self_signed_tls_client_auth (a certificate among the
client's registered keys), certificate-bound access tokens (cnf.x5t#S256)
at /resource, /userinfo, /introspect and in a token exchange, the
metadata, the settings, and authlib's OAuth2Session doing what a service
configured for mutual TLS does."""
import base64
import hashlib
import json
import os
import shutil
import subprocess

import jwt
import requests

from lk_harness import LatchkeyTestCase, add_client, cli, skip_or_fail

X = "urn:ietf:params:oauth:grant-type:token-exchange"
AT = "urn:ietf:params:oauth:token-type:access_token"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   capture_output=True, timeout=60)


def x5t(pem_path):
    """The certificate's x5t#S256 (RFC 8705 section 3.1)."""
    der = subprocess.run(["openssl", "x509", "-in", pem_path, "-outform",
                          "DER"], check=True, capture_output=True,
                         timeout=60).stdout
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()) \
        .rstrip(b"=").decode()


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


class MtlsCase(LatchkeyTestCase):
    EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")

    def setUp(self):
        super().setUp()
        if shutil.which("openssl") is None:
            skip_or_fail(self, "openssl is not installed")
        d = self.dir
        openssl("req", "-x509", *self.EC, "-keyout", "ca.key", "-out",
                "ca.pem", "-days", "2", "-subj", "/CN=Workload CA", cwd=d)
        openssl("req", "-x509", *self.EC, "-keyout", "srv.key", "-out",
                "srv.pem", "-days", "2", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1", cwd=d)
        self.signed("billing", "/O=Example/CN=billing",
                    "DNS:billing.internal,URI:spiffe://example.org/billing")
        self.signed("orders", "/O=Example/CN=orders",
                    "DNS:orders.internal")
        # Our CA's, naming billing, but for servers only (review: any
        # server's key for the name would have passed as the client).
        self.signed("server-only", "/O=Example/CN=billing",
                    "DNS:billing.internal\nextendedKeyUsage=serverAuth")
        # DNS names compare in any case; and a client one by purpose.
        self.signed("shouting", "/O=Example/CN=BILLING",
                    "DNS:BILLING.Internal\nextendedKeyUsage=clientAuth")
        # Self-signed: one registered as a client's key, and a stranger
        # naming itself as billing does.
        for name, subj in (("self", "/CN=self"),
                           ("stranger", "/O=Example/CN=billing")):
            openssl("req", "-x509", *self.EC, "-keyout", name + ".key",
                    "-out", name + ".pem", "-days", "2", "-subj", subj,
                    "-addext", "subjectAltName=DNS:billing.internal",
                    cwd=d)
        for k in os.listdir(d):
            if k.endswith(".key"):
                os.chmod(self.p(k), 0o600)

    def p(self, name):
        return os.path.join(self.dir, name)

    def signed(self, name, subj, san):
        d = self.dir
        openssl("req", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                name + ".key", "-out", name + ".csr", "-subj", subj, cwd=d)
        with open(self.p(name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\n" % san)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem",
                "-CAkey", "ca.key", "-CAcreateserial", "-out",
                name + ".pem", "-days", "2", "-extfile", name + ".ext",
                cwd=d)

    def jwks_of(self, name):
        """A JWKS document with the self-signed certificate's key and the
        certificate (x5c), as a client registers it (section 2.2)."""
        der = subprocess.run(["openssl", "x509", "-in", self.p(name + ".pem"),
                              "-outform", "DER"], check=True,
                             capture_output=True, timeout=60).stdout
        pub = subprocess.run(["openssl", "ec", "-in", self.p(name + ".key"),
                              "-pubout", "-outform", "DER"], check=True,
                             capture_output=True, timeout=60).stdout
        point = pub[-64:]
        b64u = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
        path = self.p(name + ".jwks")
        with open(path, "w") as f:
            json.dump({"keys": [{"kty": "EC", "crv": "P-256",
                                 "x": b64u(point[:32]),
                                 "y": b64u(point[32:]),
                                 "x5c": [base64.b64encode(der).decode()]}]},
                      f)
        return path

    def start_tls(self, *extra, ca=True):
        args = ["--tls-cert", self.p("srv.pem"), "--tls-key",
                self.p("srv.key")]
        if ca:
            args += ["--tls-client-ca", self.p("ca.pem")]
        self.s = self.start(*args, *extra)
        self.base = "https://127.0.0.1:%d" % self.s.port
        return self.s

    def post(self, path, data, cert=None, auth=None):
        return requests.post(self.base + path, data=data, auth=auth,
                             cert=cert and (self.p(cert + ".pem"),
                                            self.p(cert + ".key")),
                             verify=self.p("srv.pem"), timeout=30)

    def get(self, path, token, cert=None):
        return requests.get(self.base + path,
                            headers={"Authorization": "Bearer " + token},
                            cert=cert and (self.p(cert + ".pem"),
                                           self.p(cert + ".key")),
                            verify=self.p("srv.pem"), timeout=30)

    def cc(self, client_id, cert, **form):
        return self.post("/token", {"grant_type": "client_credentials",
                                    "client_id": client_id, **form},
                         cert=cert)

    def assertRefused(self, r, status, code, why=None):
        self.assertEqual(r.status_code, status, r.text)
        self.assertEqual(r.json()["error"], code)
        if why is not None:
            self.assertEqual(r.json()["error_description"], why)


class TlsClientAuthTest(MtlsCase):
    def setUp(self):
        super().setUp()
        common = ("--grant", "client_credentials", "--scope", "read",
                  "--token-endpoint-auth-method", "tls_client_auth")
        add_client(self.db, "by-dns", "--id", "by-dns", *common,
                   "--tls-client-auth-san-dns", "billing.internal")
        add_client(self.db, "by-uri", "--id", "by-uri", *common,
                   "--tls-client-auth-san-uri",
                   "spiffe://example.org/billing")
        add_client(self.db, "by-dn", "--id", "by-dn", *common,
                   "--tls-client-auth-subject-dn", "CN=billing,O=Example")
        self.rs = add_client(self.db, "rs", "--grant", "client_credentials",
                             "--introspect")
        # A gateway with a secret that exchanges the services' tokens.
        self.gw = add_client(self.db, "gw", "--grant", "token-exchange",
                             "--scope", "read")
        self.start_tls()

    def test_each_name_authenticates_and_binds(self):
        want = x5t(self.p("billing.pem"))
        for client in ("by-dns", "by-uri", "by-dn"):
            with self.subTest(client=client):
                r = self.cc(client, "billing")
                self.assertEqual(r.status_code, 200, r.text)
                self.assertEqual(r.headers["cache-control"], "no-store")
                body = r.json()
                # Section 3: still a Bearer token, bound by cnf.
                self.assertEqual(body["token_type"], "Bearer")
                c = claims(body["access_token"])
                self.assertEqual(c["cnf"], {"x5t#S256": want})
                self.assertEqual((c["client_id"], c["scope"]),
                                 (client, "read"))

    def test_dns_names_in_any_case(self):
        r = self.cc("by-dns", "shouting")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(claims(r.json()["access_token"])["cnf"],
                         {"x5t#S256": x5t(self.p("shouting.pem"))})
        # A subject DN is compared exactly: CN=BILLING is not CN=billing.
        self.assertRefused(self.cc("by-dn", "shouting"), 401,
                           "invalid_client")

    def test_the_handshake_names_the_ca(self):
        """With tls_client_ca alone, the certificate request names its
        CAs (clients pick their certificate by them)."""
        out = subprocess.run(
            ["openssl", "s_client", "-connect", "127.0.0.1:%d" % self.s.port],
            input="", capture_output=True, text=True, timeout=60).stdout
        self.assertIn("Acceptable client certificate CA names\nCN = "
                      "Workload CA", out)

    def test_bound_token_at_the_resources(self):
        tok = self.cc("by-dns", "billing").json()["access_token"]
        r = self.get("/resource", tok, cert="billing")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["cnf"], {"x5t#S256":
                                           x5t(self.p("billing.pem"))})
        for cert, why in ((None, "the access token is bound to a TLS "
                           "client certificate, and the connection "
                           "presented none"),
                          ("orders", "the access token is bound to another "
                           "TLS client certificate than the connection's")):
            with self.subTest(cert=cert):
                r = self.get("/resource", tok, cert=cert)
                self.assertRefused(r, 401, "invalid_token", why)
                self.assertIn('Bearer realm="latchkey", '
                              'error="invalid_token"',
                              r.headers["www-authenticate"])
        # Introspection tells a resource server the binding (3.2), to any
        # authenticated caller, over any connection.
        r = self.post("/introspect", {"token": tok},
                      auth=(self.rs["client_id"], self.rs["client_secret"]))
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["cnf"], {"x5t#S256":
                                           x5t(self.p("billing.pem"))})
        self.assertEqual(r.json()["token_type"], "Bearer")

    def test_exchange_keeps_the_binding(self):
        """An exchange by another client (with a secret) over a
        connection presenting the certificate keeps the token bound to
        it (review: it came out as a plain Bearer token)."""
        tok = self.cc("by-dns", "billing").json()["access_token"]
        gw = (self.gw["client_id"], self.gw["client_secret"])
        form = {"grant_type": X, "subject_token": tok,
                "subject_token_type": AT}
        r = self.post("/token", form, cert="billing", auth=gw)
        self.assertEqual(r.status_code, 200, r.text)
        c = claims(r.json()["access_token"])
        self.assertEqual(c["cnf"], {"x5t#S256": x5t(self.p("billing.pem"))})
        self.assertEqual(c["client_id"], self.gw["client_id"])
        # Without the certificate it is not exchanged at all.
        r = self.post("/token", form, auth=gw)
        self.assertRefused(r, 400, "invalid_request", "a certificate-bound "
                           "token is exchanged only over a connection "
                           "presenting its certificate")

    def test_refusals(self):
        cases = [
            ("by-dns", None, "this client authenticates with a TLS client "
             "certificate, and the connection presented none"),
            # Names billing.internal, but no CA of ours signed it.
            ("by-dns", "stranger", "the TLS client certificate is not this "
             "client's"),
            ("by-dn", "stranger", "the TLS client certificate is not this "
             "client's"),
            # Our CA's, but naming another.
            ("by-dns", "orders", "the TLS client certificate is not this "
             "client's"),
            ("by-uri", "orders", "the TLS client certificate is not this "
             "client's"),
        ]
        cases.append(("by-dns", "server-only", "the TLS client certificate "
                      "is not this client's"))
        for client, cert, why in cases:
            with self.subTest(client=client, cert=cert):
                self.assertRefused(self.cc(client, cert), 401,
                                   "invalid_client", why)
        # A secret besides the certificate: another method.
        r = self.post("/token", {"grant_type": "client_credentials"},
                      cert="billing", auth=("by-dns", "anything"))
        self.assertRefused(r, 401, "invalid_client", "this client "
                           "authenticates with a TLS client certificate, "
                           "not a secret")
        r = self.cc("by-dns", "billing", client_secret="x")
        self.assertRefused(r, 401, "invalid_client")
        log = self.s.log_text()
        self.assertIn("client authentication failed: another TLS client "
                      "certificate for client by-dns (tls_client_auth): "
                      "subject CN=billing,O=Example", log)
        self.assertIn("client authentication failed: no TLS client "
                      "certificate for client by-dns", log)
        out = json.loads(cli(self.db, "token", "list", "--json").stdout)
        self.assertEqual(out, [])

    def test_certificate_of_a_forwarded_request_is_the_proxys(self):
        """Behind a trusted proxy the TLS peer is the proxy: its
        certificate must not pass for its clients'."""
        self.s.stop()
        self.start_tls("--trusted-proxies", "127.0.0.1")
        r = requests.post(self.base + "/token",
                          data={"grant_type": "client_credentials",
                                "client_id": "by-dns"},
                          headers={"X-Forwarded-For": "203.0.113.9"},
                          cert=(self.p("billing.pem"),
                                self.p("billing.key")),
                          verify=self.p("srv.pem"), timeout=30)
        self.assertRefused(r, 401, "invalid_client", "this client "
                           "authenticates with a TLS client certificate, "
                           "and the connection presented none")

    def test_metadata(self):
        md = requests.get(self.base + "/.well-known/oauth-authorization-"
                          "server", verify=self.p("srv.pem"),
                          timeout=30).json()
        # With tls_client_ca alone: tls_client_auth, not the self-signed
        # method (the handshake names the CAs).
        methods = ["client_secret_basic", "client_secret_post",
                   "private_key_jwt", "none", "tls_client_auth"]
        self.assertEqual(md["token_endpoint_auth_methods_supported"],
                         methods)
        self.assertEqual(md["revocation_endpoint_auth_methods_supported"],
                         methods)
        self.assertEqual(md["introspection_endpoint_auth_methods_supported"],
                         [m for m in methods if m != "none"])
        self.assertIs(md["tls_client_certificate_bound_access_tokens"],
                      True)
        # /resource's RFC 9728 metadata says so too.
        rm = requests.get(self.base + "/.well-known/oauth-protected-"
                          "resource/resource", verify=self.p("srv.pem"),
                          timeout=30).json()
        self.assertIs(rm["tls_client_certificate_bound_access_tokens"],
                      True)

    def test_authlib_session(self):
        """authlib's OAuth2Session as a service configures it for mutual
        TLS: the client_id in the body, no secret, the certificate handed
        to requests."""
        from authlib.integrations.requests_client import OAuth2Session
        sess = OAuth2Session("by-uri", token_endpoint_auth_method="none",
                             scope="read")
        cert = (self.p("billing.pem"), self.p("billing.key"))
        tok = sess.fetch_token(self.base + "/token",
                               grant_type="client_credentials",
                               verify=self.p("srv.pem"), cert=cert)
        self.assertEqual(claims(tok["access_token"])["cnf"],
                         {"x5t#S256": x5t(self.p("billing.pem"))})
        r = sess.get(self.base + "/resource", verify=self.p("srv.pem"),
                     cert=cert)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["client_id"], "by-uri")


class SelfSignedTest(MtlsCase):
    def test_self_signed_without_a_ca(self):
        add_client(self.db, "selfie", "--id", "selfie", "--grant",
                   "client_credentials", "--grant", "password", "--grant",
                   "refresh_token", "--grant", "token-exchange", "--scope",
                   "read", "--token-endpoint-auth-method",
                   "self_signed_tls_client_auth", "--jwks",
                   self.jwks_of("self"))
        cli(self.db, "user", "add", "ada", "--password-stdin",
            stdin="ada-password-1\n")
        self.start_tls("--tls-client-certs", "true", ca=False)
        want = x5t(self.p("self.pem"))
        r = self.cc("selfie", "self")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(claims(r.json()["access_token"])["cnf"],
                         {"x5t#S256": want})
        # Another certificate: without tls_client_ca nothing chains, and
        # billing is no key of this client.
        self.assertRefused(self.cc("selfie", "billing"), 401,
                           "invalid_client")
        self.assertRefused(self.cc("selfie", None), 401, "invalid_client")
        # A user's tokens and their refresh: each new access token bound,
        # the refresh again with the certificate.
        r = self.post("/token", {"grant_type": "password",
                                 "client_id": "selfie", "username": "ada",
                                 "password": "ada-password-1"},
                      cert="self")
        self.assertEqual(r.status_code, 200, r.text)
        user = r.json()
        r = self.post("/token", {"grant_type": "refresh_token",
                                 "client_id": "selfie",
                                 "refresh_token": user["refresh_token"]},
                      cert=None)
        self.assertRefused(r, 401, "invalid_client")
        r = self.post("/token", {"grant_type": "refresh_token",
                                 "client_id": "selfie",
                                 "refresh_token": user["refresh_token"]},
                      cert="self")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(claims(r.json()["access_token"])["cnf"],
                         {"x5t#S256": want})
        # /userinfo keeps the binding too.
        r = self.get("/userinfo", user["access_token"])
        self.assertRefused(r, 401, "invalid_token")
        # A bound subject token is exchanged only over a connection with
        # its certificate.
        ex = {"grant_type": X, "client_id": "selfie",
              "subject_token": user["access_token"],
              "subject_token_type": AT}
        r = self.post("/token", ex, cert="self")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(claims(r.json()["access_token"])["cnf"],
                         {"x5t#S256": want})
        md = requests.get(self.base + "/.well-known/oauth-authorization-"
                          "server", verify=self.p("srv.pem"),
                          timeout=30).json()
        self.assertEqual(md["token_endpoint_auth_methods_supported"][-2:],
                         ["none", "self_signed_tls_client_auth"])
        # The certificate request names no CA: clients that pick their
        # certificate by the names (Java's, Go's) would send none.
        out = subprocess.run(
            ["openssl", "s_client", "-connect", "127.0.0.1:%d" % self.s.port],
            input="", capture_output=True, text=True, timeout=60).stdout
        self.assertIn("No client certificate CA names sent", out)

    def test_not_asked_for_without_the_settings(self):
        add_client(self.db, "selfie", "--id", "selfie", "--grant",
                   "client_credentials", "--token-endpoint-auth-method",
                   "self_signed_tls_client_auth", "--jwks",
                   self.jwks_of("self"))
        self.start_tls(ca=False)
        # The handshake asks for no certificate: clients send none.
        self.assertRefused(self.cc("selfie", "self"), 401, "invalid_client",
                           "this client authenticates with a TLS client "
                           "certificate, and the connection presented none")
        md = requests.get(self.base + "/.well-known/oauth-authorization-"
                          "server", verify=self.p("srv.pem"),
                          timeout=30).json()
        self.assertNotIn("self_signed_tls_client_auth",
                         md["token_endpoint_auth_methods_supported"])
        self.assertNotIn("tls_client_certificate_bound_access_tokens", md)
        rm = requests.get(self.base + "/.well-known/oauth-protected-"
                          "resource/resource", verify=self.p("srv.pem"),
                          timeout=30).json()
        self.assertNotIn("tls_client_certificate_bound_access_tokens", rm)


class MtlsConfigTest(MtlsCase):
    def test_cli_refusals_and_show(self):
        jwks = self.jwks_of("self")
        cases = [
            (("--token-endpoint-auth-method", "tls_client_auth"),
             "tls_client_auth needs exactly one of"),
            (("--token-endpoint-auth-method", "tls_client_auth",
              "--tls-client-auth-san-dns", "a.example",
              "--tls-client-auth-san-uri", "spiffe://x/y"),
             "tls_client_auth needs exactly one of"),
            (("--tls-client-auth-san-dns", "a.example"),
             "tls_client_auth_* names the certificate of a tls_client_auth "
             "client only"),
            (("--token-endpoint-auth-method", "tls_client_auth",
              "--tls-client-auth-san-dns", "a b"),
             "invalid certificate DNS name 'a b'"),
            (("--token-endpoint-auth-method", "tls_client_auth",
              "--tls-client-auth-san-dns", "a.example", "--secret",
              "a-secret-of-some-length"),
             "--secret and tls_client_auth exclude each other"),
            (("--token-endpoint-auth-method",
              "self_signed_tls_client_auth"),
             "self_signed_tls_client_auth needs the client's certificates"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                p = cli(self.db, "client", "add", "x", "--grant",
                        "client_credentials", *args, check=False)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(message, p.stderr)
        p = cli(self.db, "client", "add", "x", "--admin", "--grant",
                "client_credentials", "--token-endpoint-auth-method",
                "tls_client_auth", "--tls-client-auth-san-dns", "a.example",
                check=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("an admin client cannot authenticate with a TLS "
                      "client certificate", p.stderr)
        p = cli(self.db, "client", "add", "x", "--public", "--grant",
                "password", "--tls-client-auth-san-dns", "a.example",
                check=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("a public client authenticates with its client_id "
                      "only", p.stderr)
        # A JWKS without certificates is no self-signed client's.
        with open(self.p("nocert.jwks"), "w") as f:
            doc = json.load(open(jwks))
            del doc["keys"][0]["x5c"]
            json.dump(doc, f)
        p = cli(self.db, "client", "add", "x", "--grant",
                "client_credentials", "--token-endpoint-auth-method",
                "self_signed_tls_client_auth", "--jwks",
                self.p("nocert.jwks"), check=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        c = add_client(self.db, "svc", "--id", "svc", "--grant",
                       "client_credentials", "--token-endpoint-auth-method",
                       "tls_client_auth", "--tls-client-auth-subject-dn",
                       "CN=svc,O=Example")
        self.assertIsNone(c["client_secret"])
        self.assertEqual((c["token_endpoint_auth_method"],
                          c["tls_client_auth_subject_dn"],
                          c["tls_client_auth_san_dns"],
                          c["tls_client_auth_san_uri"]),
                         ("tls_client_auth", "CN=svc,O=Example", None, None))
        show = cli(self.db, "client", "show", "svc").stdout
        self.assertIn("tls_client_auth_subject_dn     CN=svc,O=Example", show)
        self.assertNotIn("tls_client_auth_san_dns", show)
        p = cli(self.db, "client", "rotate-secret", "svc", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("authenticates with a TLS client certificate", p.stderr)
        # Back to a name of another kind: '' removes the old one.
        cli(self.db, "client", "update", "svc", "--tls-client-auth-subject-dn",
            "", "--tls-client-auth-san-dns", "svc.internal")
        c = json.loads(cli(self.db, "client", "show", "svc",
                           "--json").stdout)
        self.assertEqual((c["tls_client_auth_subject_dn"],
                          c["tls_client_auth_san_dns"]),
                         (None, "svc.internal"))

    def test_settings_need_https(self):
        for args, setting in ((("--tls-client-ca", self.p("ca.pem")),
                               "tls_client_ca"),
                              (("--tls-client-certs", "true"),
                               "tls_client_certs")):
            with self.subTest(setting=setting):
                p = subprocess.run([os.environ["LATCHKEYD"], "--db", self.db,
                                    "--listen", "127.0.0.1:0", *args],
                                   capture_output=True, text=True,
                                   timeout=60)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn("setting '%s': client certificates need "
                              "HTTPS (tls_cert and tls_key)" % setting,
                              p.stderr)
        p = subprocess.run([os.environ["LATCHKEYD"], "--db", self.db,
                            "--listen", "127.0.0.1:0", "--tls-cert",
                            self.p("srv.pem"), "--tls-key",
                            self.p("srv.key"), "--tls-client-ca",
                            self.p("missing.pem")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("setting 'tls_client_ca': cannot read", p.stderr)
