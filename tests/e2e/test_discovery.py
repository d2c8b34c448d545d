"""/jwks.json, RFC 8414 metadata, /healthz and /readyz, and signing-key
rotation by the CLI while the server runs."""
import json
import time

import jwt

import lk_db
from lk_harness import (LATEST_SCHEMA, LatchkeyTestCase, add_client, cli,
                        lk_version, private_cluster)
from test_client_credentials import verify


class DiscoveryTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        c = add_client(self.db, "svc", "--scope", "read", "--scope", "b:c")
        add_client(self.db, "other", "--scope", "write", "--scope", "read")
        self.auth = (c["client_id"], c["client_secret"])

    def token(self, s):
        r = s.token({"grant_type": "client_credentials"}, auth=self.auth)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["access_token"]

    def test_metadata_lists_only_what_is_implemented(self):
        s = self.start()
        r = s.request("GET", "/.well-known/oauth-authorization-server")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["content-type"], "application/json")
        md = r.json()
        self.assertEqual(md["issuer"], s.issuer)
        self.assertEqual(md["token_endpoint"], s.issuer + "/token")
        self.assertEqual(md["jwks_uri"], s.issuer + "/jwks.json")
        self.assertEqual(md["grant_types_supported"],
                         ["authorization_code", "client_credentials",
                          "password", "refresh_token"])
        self.assertEqual(md["token_endpoint_auth_methods_supported"],
                         ["client_secret_basic", "client_secret_post",
                          "none"])
        # The OpenID Connect scopes, then every client's (once each).
        self.assertEqual(md["scopes_supported"][:5],
                         ["openid", "profile", "email", "address", "phone"])
        self.assertEqual(sorted(md["scopes_supported"][5:]),
                         ["b:c", "read", "write"])
        self.assertEqual(md["response_types_supported"], ["code"])
        self.assertEqual(md["authorization_endpoint"], s.issuer + "/authorize")

    def test_configured_issuer(self):
        s = self.start("--issuer", "https://auth.example.test")
        md = s.get_json("/.well-known/oauth-authorization-server")
        self.assertEqual(md["issuer"], "https://auth.example.test")
        self.assertEqual(md["token_endpoint"], "https://auth.example.test/token")
        claims = jwt.decode(self.token(s), options={"verify_signature": False})
        self.assertEqual(claims["iss"], "https://auth.example.test")

    def test_jwks_shape(self):
        s = self.start()
        r = s.request("GET", "/jwks.json")
        self.assertEqual(r.status, 200)
        self.assertIn("max-age", r.headers["cache-control"])
        keys = r.json()["keys"]
        self.assertEqual(len(keys), 1)
        k = keys[0]
        self.assertEqual((k["kty"], k["crv"], k["alg"], k["use"]),
                         ("EC", "P-256", "ES256", "sig"))
        self.assertEqual(len(k["x"]), 43)
        self.assertEqual(len(k["y"]), 43)
        self.assertNotIn("d", k)  # never the private part
        listed = json.loads(cli(self.db, "key", "list", "--json").stdout)
        self.assertEqual([x["kid"] for x in listed], [k["kid"]])

    def test_healthz(self):
        s = self.start()
        r = s.request("GET", "/healthz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"status": "ok",
                                    "schema_version": LATEST_SCHEMA,
                                    "version": lk_version()})

    def test_readyz(self):
        s = self.start()
        r = s.request("GET", "/readyz")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), {"status": "ready"})
        self.assertEqual(r.headers["cache-control"], "no-store")
        self.assertEqual(s.request("HEAD", "/readyz").status, 200)
        r = s.request("POST", "/readyz")
        self.assertOAuthError(r, 405, "method_not_allowed")

    def assertNotReady(self, r):
        self.assertOAuthError(r, 503, "temporarily_unavailable")
        self.assertEqual(r.headers["retry-after"], "1")
        self.assertEqual(r.headers["cache-control"], "no-store")

    def test_readyz_asks_the_database_on_every_call(self):
        """With the schema's bookkeeping gone from under the running server
        (on either backend), /readyz says 503 at once, and 200 again as
        soon as it is back: nothing is cached."""
        s = self.start()
        self.assertEqual(s.request("GET", "/readyz").status, 200)
        lk_db.db_query(self.db, "ALTER TABLE schema_migrations RENAME TO "
                       "schema_migrations_away")
        self.assertNotReady(s.request("GET", "/readyz"))
        self.assertEqual(s.request("GET", "/healthz").status, 503)
        lk_db.db_query(self.db, "ALTER TABLE schema_migrations_away RENAME "
                       "TO schema_migrations")
        r = s.request("GET", "/readyz")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(s.request("GET", "/healthz").status, 200)

    def test_readyz_while_postgresql_is_down(self):
        """PostgreSQL stopped under the server: 503 (the instance leaves
        the balancer), and ready again once it is back. SQLite has no
        server to lose: a file that cannot be read under a running server
        is covered by the test above and test_disk_faults."""
        if not lk_db.POSTGRESQL:
            self.skipTest("PostgreSQL only (LK_BACKEND=postgresql)")
        c = private_cluster(self)
        self.db = c.uri
        s = self.start()
        self.assertEqual(s.request("GET", "/readyz").status, 200)
        c.stop()
        self.assertNotReady(s.request("GET", "/readyz"))
        c.start()
        deadline = time.monotonic() + 30  # a bound, not a measurement
        while s.request("GET", "/readyz").status != 200:
            self.assertLess(time.monotonic(), deadline, "never ready again")
            time.sleep(0.1)

    def test_rotation_keeps_old_key_while_its_tokens_live(self):
        s = self.start()
        old_token = self.token(s)
        old_kid = jwt.get_unverified_header(old_token)["kid"]
        cli(self.db, "key", "rotate")
        new_kid = json.loads(cli(self.db, "key", "list", "--json").stdout)
        new_kid = [k["kid"] for k in new_kid if k["status"] == "current"][0]
        self.assertNotEqual(new_kid, old_kid)
        # The server rechecks the current key every couple of seconds.
        deadline = time.monotonic() + 10
        while True:
            tok = self.token(s)
            if jwt.get_unverified_header(tok)["kid"] == new_kid:
                break
            self.assertLess(time.monotonic(), deadline, "key not picked up")
            time.sleep(0.2)
        kids = {k["kid"] for k in s.get_json("/jwks.json")["keys"]}
        self.assertEqual(kids, {old_kid, new_kid})
        verify(s, old_token)
        verify(s, tok)
        # Once no unexpired token needs it, the old key is withdrawn.
        cli(self.db, "token", "revoke", "--client", self.auth[0])
        import lk_db
        db = lk_db.connect(self.db)
        db.execute("UPDATE access_tokens SET expires_at = 1 WHERE kid = ?",
                   (old_kid,))
        db.commit()
        db.close()
        # The key set is cached for up to 2 s: publishing a key a little
        # longer is harmless (a new key, by contrast, is published at once).
        deadline = time.monotonic() + 10
        while True:
            kids = {k["kid"] for k in s.get_json("/jwks.json")["keys"]}
            if kids == {new_kid}:
                break
            self.assertEqual(kids, {old_kid, new_kid})
            self.assertLess(time.monotonic(), deadline, "old key kept")
            time.sleep(0.2)

    def test_rs256(self):
        s = self.start("--signing-alg", "RS256")
        tok = self.token(s)
        header, claims = verify(s, tok, alg="RS256")
        self.assertEqual(header["alg"], "RS256")
        self.assertEqual(header["typ"], "at+jwt")
        keys = s.get_json("/jwks.json")["keys"]
        rsa = [k for k in keys if k["kid"] == header["kid"]][0]
        self.assertEqual((rsa["kty"], rsa["alg"], rsa["e"]), ("RSA", "RS256",
                                                             "AQAB"))
