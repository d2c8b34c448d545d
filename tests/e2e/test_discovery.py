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
                          "password", "refresh_token",
                          "urn:ietf:params:oauth:grant-type:token-exchange",
                          "urn:ietf:params:oauth:grant-type:device_code",
                          "urn:ietf:params:oauth:grant-type:jwt-bearer"])
        self.assertEqual(md["token_endpoint_auth_methods_supported"],
                         ["client_secret_basic", "client_secret_post",
                          "private_key_jwt", "none"])
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
        """A new database: one current key per algorithm, EC (ES256, for
        access tokens) then RSA (RS256, for ID tokens), each with "use"
        and "alg"."""
        s = self.start()
        r = s.request("GET", "/jwks.json")
        self.assertEqual(r.status, 200)
        self.assertIn("max-age", r.headers["cache-control"])
        keys = r.json()["keys"]
        self.assertEqual(len(keys), 2)
        ec, rsa = keys
        self.assertEqual((ec["kty"], ec["crv"], ec["alg"], ec["use"]),
                         ("EC", "P-256", "ES256", "sig"))
        self.assertEqual(len(ec["x"]), 43)
        self.assertEqual(len(ec["y"]), 43)
        self.assertEqual((rsa["kty"], rsa["alg"], rsa["use"], rsa["e"]),
                         ("RSA", "RS256", "sig", "AQAB"))
        self.assertEqual(len(rsa["n"]), 342)  # RSA 2048, base64url
        for k in keys:
            self.assertNotIn("d", k)  # never the private part
            self.assertNotIn("p", k)
        listed = json.loads(cli(self.db, "key", "list", "--json").stdout)
        self.assertEqual({(x["kid"], x["alg"], x["status"]) for x in listed},
                         {(ec["kid"], "ES256", "current"),
                          (rsa["kid"], "RS256", "current")})
        # Access tokens use the ES256 key (signing_alg's default).
        header = jwt.get_unverified_header(self.token(s))
        self.assertEqual((header["alg"], header["kid"]), ("ES256", ec["kid"]))

    def test_an_old_database_gets_its_rs256_key_at_start(self):
        """A database from before migration 0008 with its one ES256 key:
        the start migrates it and adds an RS256 key; the ES256 key stays
        current and keeps signing access tokens."""
        cli(self.db, "key", "rotate", "--alg", "ES256")
        es = lk_db.db_query(self.db, "SELECT kid FROM signing_keys")[0][0]
        lk_db.revert_to_schema_7(self.db)
        s = self.start()
        self.assertEqual(s.get_json("/healthz")["schema_version"],
                         LATEST_SCHEMA)
        keys = s.get_json("/jwks.json")["keys"]
        self.assertEqual([k["alg"] for k in keys], ["ES256", "RS256"])
        self.assertEqual(keys[0]["kid"], es)
        self.assertEqual(lk_db.db_query(
            self.db, "SELECT alg, retired_at FROM signing_keys ORDER BY "
            "alg"), [("ES256", None), ("RS256", None)])
        self.assertEqual(jwt.get_unverified_header(self.token(s))["kid"], es)
        self.assertIn("new RS256 signing key %s is current" % keys[1]["kid"],
                      s.log_text())
        # The new index holds: a second current ES256 key is refused.
        with self.assertRaises(Exception):
            lk_db.db_query(self.db, "INSERT INTO signing_keys VALUES "
                           "('x', 'ES256', 'pem', 1, NULL)")

    def test_healthz(self):
        s = self.start()
        r = s.request("GET", "/healthz")
        self.assertEqual(r.status, 200)
        body = r.json()
        self.assertCommit(body.pop("commit"))
        self.assertEqual(body, {"status": "ok",
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

    def wait_jwks(self, s, want, why, deadline=10):
        """Polls /jwks.json until its kids are want (a set): the key set
        is cached for up to 2 s. Every answer meanwhile must be a subset
        or superset of want, never another set."""
        end = time.monotonic() + deadline
        while True:
            kids = {k["kid"] for k in s.get_json("/jwks.json")["keys"]}
            if kids == want:
                return
            self.assertLess(time.monotonic(), end, why + ": %r" % kids)
            time.sleep(0.2)

    def test_rotation_keeps_old_key_while_its_tokens_live(self):
        s = self.start("--id-token-ttl", "60", "--test-double")
        old_token = self.token(s)
        old_kid = jwt.get_unverified_header(old_token)["kid"]
        rs_kid = [k["kid"] for k in s.get_json("/jwks.json")["keys"]
                  if k["alg"] == "RS256"][0]
        out = json.loads(cli(self.db, "key", "rotate", "--alg", "ES256",
                             "--json").stdout)
        new_kid = out["kid"]
        self.assertEqual((out["alg"], out["previous_kid"]), ("ES256", old_kid))
        self.assertNotEqual(new_kid, old_kid)
        # The server rechecks the current keys every couple of seconds.
        deadline = time.monotonic() + 10
        while True:
            tok = self.token(s)
            if jwt.get_unverified_header(tok)["kid"] == new_kid:
                break
            self.assertLess(time.monotonic(), deadline, "key not picked up")
            time.sleep(0.2)
        kids = {k["kid"] for k in s.get_json("/jwks.json")["keys"]}
        self.assertEqual(kids, {old_kid, new_kid, rs_kid})
        verify(s, old_token)
        verify(s, tok)
        # Past id_token_ttl and its 62 s margin (moved on the server's
        # clock), the unexpired token alone keeps the old key published.
        r = s.request("POST", "/_control/clock", body="advance=130",
                      headers={"Content-Type":
                               "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 200, r.body)
        time.sleep(2.2)  # past the key set's cache
        kids = {k["kid"] for k in s.get_json("/jwks.json")["keys"]}
        self.assertEqual(kids, {old_kid, new_kid, rs_kid})
        # Once no unexpired token needs it, the old key is withdrawn.
        cli(self.db, "token", "revoke", "--client", self.auth[0])
        db = lk_db.connect(self.db)
        db.execute("UPDATE access_tokens SET expires_at = 1 WHERE kid = ?",
                   (old_kid,))
        db.commit()
        db.close()
        # The key set is cached for up to 2 s: publishing a key a little
        # longer is harmless (a new key, by contrast, is published at once).
        self.wait_jwks(s, {new_kid, rs_kid}, "old key kept")

    def test_retired_rs256_key_stays_for_id_token_ttl(self):
        """ID tokens are not recorded: a retired RS256 key stays in the
        JWKS until id_token_ttl (plus 62 s: KEY_PUBLISH_GRACE) after its
        retirement, by the server's clock, then goes; the ES256 key is
        untouched by --alg RS256."""
        s = self.start("--id-token-ttl", "120", "--test-double")
        keys = s.get_json("/jwks.json")["keys"]
        es, rs = keys[0]["kid"], keys[1]["kid"]
        out = json.loads(cli(self.db, "key", "rotate", "--alg", "RS256",
                             "--json").stdout)
        rs2 = out["kid"]
        self.assertEqual((out["alg"], out["previous_kid"]), ("RS256", rs))
        self.assertEqual([k["kid"] for k in out["keys"]], [rs2])
        self.wait_jwks(s, {es, rs2, rs}, "new RS256 key not published")
        got = s.get_json("/jwks.json")["keys"]
        self.assertEqual([(k["kid"], k["alg"], k["use"]) for k in got],
                         [(es, "ES256", "sig"), (rs2, "RS256", "sig"),
                          (rs, "RS256", "sig")])

        form = {"Content-Type": "application/x-www-form-urlencoded"}
        r = s.request("POST", "/_control/clock", body="advance=100",
                      headers=form)
        self.assertEqual(r.status, 200, r.body)
        time.sleep(2.2)  # past the key set's cache: still within the grace
        kids = {k["kid"] for k in s.get_json("/jwks.json")["keys"]}
        self.assertEqual(kids, {es, rs2, rs})
        r = s.request("POST", "/_control/clock", body="advance=85",
                      headers=form)
        self.assertEqual(r.status, 200, r.body)
        self.wait_jwks(s, {es, rs2}, "retired RS256 key kept past the ttl")
        # The CLI, with the real clock and the default id_token_ttl,
        # still calls it published; the server's clock was moved.
        listed = {k["kid"]: k for k in json.loads(
            cli(self.db, "key", "list", "--json").stdout)}
        self.assertEqual((listed[rs]["status"], listed[rs]["published"]),
                         ("retired", True))
        self.assertEqual(listed[es]["status"], "current")

    def test_rs256(self):
        """signing_alg=RS256 signs access tokens with the RS256 key; a
        restart with another signing_alg rotates nothing."""
        s = self.start()
        before = s.get_json("/jwks.json")["keys"]
        s.stop()
        self.servers.remove(s)
        s = self.start("--signing-alg", "RS256")
        tok = self.token(s)
        header, claims = verify(s, tok, alg="RS256")
        self.assertEqual(header["alg"], "RS256")
        self.assertEqual(header["typ"], "at+jwt")
        keys = s.get_json("/jwks.json")["keys"]
        self.assertEqual(keys, before)
        rsa = [k for k in keys if k["kid"] == header["kid"]][0]
        self.assertEqual((rsa["kty"], rsa["alg"], rsa["e"]), ("RSA", "RS256",
                                                             "AQAB"))
        self.assertEqual(lk_db.db_query(self.db, "SELECT count(*) FROM "
                                        "signing_keys WHERE retired_at IS "
                                        "NULL"), [(2,)])
        self.assertNotIn("rotating", s.log_text())
