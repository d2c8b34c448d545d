"""POST /token with grant_type=client_credentials (RFC 6749 section 4.4)
against the real latchkeyd, and the token's signature checked against
/jwks.json with PyJWT, which shares no code with the server's minting."""
import json
import threading
import time

import jwt

from lk_cli_helpers import connect
from lk_harness import LatchkeyTestCase, add_client, basic, cli


def verify(server, token, alg="ES256", audience=None):
    """Verifies token with the key /jwks.json publishes for its kid."""
    header = jwt.get_unverified_header(token)
    keys = server.get_json("/jwks.json")["keys"]
    match = [k for k in keys if k["kid"] == header["kid"]]
    if len(match) != 1:
        raise AssertionError(f"kid {header['kid']} not in JWKS {keys}")
    key = jwt.PyJWK(match[0]).key
    opts = {"verify_aud": audience is not None, "require": ["exp", "iat"]}
    return header, jwt.decode(token, key, algorithms=[alg], audience=audience,
                              issuer=server.issuer, options=opts)


class ClientCredentialsTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        self.c = add_client(self.db, "svc", "--scope", "read", "--scope",
                            "write")
        self.auth = (self.c["client_id"], self.c["client_secret"])

    def test_basic_auth_issues_verifiable_at_jwt(self):
        s = self.start()
        r = s.token({"grant_type": "client_credentials"}, auth=self.auth)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers["cache-control"], "no-store")
        self.assertEqual(r.headers["pragma"], "no-cache")
        self.assertEqual(r.headers["content-type"], "application/json")
        body = r.json()
        self.assertEqual(body["token_type"], "Bearer")
        self.assertEqual(body["expires_in"], 3600)
        self.assertEqual(body["scope"], "read write")
        self.assertNotIn("refresh_token", body)  # section 4.4.3
        header, claims = verify(s, body["access_token"])
        self.assertEqual(header["typ"], "at+jwt")  # RFC 9068 section 2.1
        self.assertEqual(header["alg"], "ES256")
        self.assertEqual(claims["iss"], s.issuer)
        self.assertEqual(claims["iss"], f"http://127.0.0.1:{s.port}")
        self.assertEqual(claims["sub"], self.c["client_id"])
        self.assertEqual(claims["client_id"], self.c["client_id"])
        self.assertEqual(claims["scope"], "read write")
        self.assertEqual(claims["exp"] - claims["iat"], 3600)
        self.assertLessEqual(abs(claims["iat"] - time.time()), 5)
        # RFC 9068 section 2.2: aud is required; without the audience
        # setting or client audiences it is the issuer (issue 12).
        self.assertEqual(claims["aud"], s.issuer)
        self.assertGreaterEqual(len(claims["jti"]), 22)

    def test_client_secret_post(self):
        s = self.start()
        r = s.token({"grant_type": "client_credentials",
                     "client_id": self.auth[0], "client_secret": self.auth[1],
                     "scope": "read"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["scope"], "read")
        _, claims = verify(s, r.json()["access_token"])
        self.assertEqual(claims["scope"], "read")

    def test_basic_credentials_are_form_urlencoded(self):
        # A caller-chosen secret with characters that form-encoding changes.
        secret = "a+b%c:d e, and 16+"
        add_client(self.db, "odd", "--id", "odd.client~1", "--secret", secret)
        s = self.start()
        r = s.token({"grant_type": "client_credentials"},
                    auth=("odd.client~1", secret))
        self.assertEqual(r.status, 200, r.body)
        # The same secret sent raw, not form-encoded, must not match.
        import base64
        raw = base64.b64encode(b"odd.client~1:" + secret.encode()).decode()
        r = s.token({"grant_type": "client_credentials"},
                    headers={"Authorization": "Basic " + raw})
        self.assertOAuthError(r, 401, "invalid_client")
        # Cached verification still rejects a wrong secret.
        r = s.token({"grant_type": "client_credentials"},
                    auth=("odd.client~1", secret + "x"))
        self.assertOAuthError(r, 401, "invalid_client")
        r = s.token({"grant_type": "client_credentials"},
                    auth=("odd.client~1", secret))
        self.assertEqual(r.status, 200, r.body)

    def test_scope_rules(self):
        s = self.start()
        form = {"grant_type": "client_credentials"}
        r = s.token({**form, "scope": "write read write"}, auth=self.auth)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["scope"], "write read")
        r = s.token({**form, "scope": "read admin"}, auth=self.auth)
        self.assertOAuthError(r, 400, "invalid_scope")
        # RFC 6749 section 3.2: an empty parameter counts as omitted.
        r = s.token({**form, "scope": ""}, auth=self.auth)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["scope"], "read write")
        for bad in [" read", "read  write", 're"ad', "read ", "caf\u00e9"]:
            r = s.token({**form, "scope": bad}, auth=self.auth)
            self.assertOAuthError(r, 400, "invalid_scope")

    def test_per_client_ttl_and_audience(self):
        c = add_client(self.db, "short", "--access-token-ttl", "60")
        s = self.start("--audience", "https://api.example.test")
        r = s.token({"grant_type": "client_credentials"},
                    auth=(c["client_id"], c["client_secret"]))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["expires_in"], 60)
        self.assertNotIn("scope", r.json())  # the client has none
        _, claims = verify(s, r.json()["access_token"],
                           audience="https://api.example.test")
        self.assertEqual(claims["aud"], "https://api.example.test")
        self.assertEqual(claims["exp"] - claims["iat"], 60)

    def test_client_authentication_errors(self):
        s = self.start()
        form = {"grant_type": "client_credentials"}
        cases = [
            ("wrong secret", dict(auth=(self.auth[0], "nope"))),
            ("unknown client", dict(auth=("ghost", self.auth[1]))),
            ("no credentials", dict()),
            ("malformed basic", dict(headers={"Authorization": "Basic !!!"})),
            ("basic without colon", dict(headers={
                "Authorization": "Basic " + "c3Zj"})),
        ]
        for name, kw in cases:
            with self.subTest(name):
                r = s.token(form, **kw)
                self.assertOAuthError(r, 401, "invalid_client")
                self.assertTrue(r.headers["www-authenticate"].startswith(
                    "Basic realm="), r.headers)
                self.assertEqual(r.headers["cache-control"], "no-store")
        r = s.token({**form, "client_id": self.auth[0],
                     "client_secret": "nope"})
        self.assertOAuthError(r, 401, "invalid_client")
        # Empty parameters are omitted ones (section 3.2), not a second
        # authentication method.
        r = s.token({**form, "client_secret": "", "client_id": ""},
                    auth=self.auth)
        self.assertEqual(r.status, 200, r.body)
        # Two methods at once (section 2.3).
        r = s.token({**form, "client_secret": self.auth[1]}, auth=self.auth)
        self.assertOAuthError(r, 400, "invalid_request")
        r = s.token({**form, "client_id": "other"}, auth=self.auth)
        self.assertOAuthError(r, 400, "invalid_request")

    def test_request_errors(self):
        s = self.start()
        other = add_client(self.db, "pw-only", "--grant", "password")
        cases = [
            ("missing grant_type", {"scope": "read"}, 400, "invalid_request"),
            ("unknown grant_type", {"grant_type": "foo"}, 400,
             "unsupported_grant_type"),
            ("repeated parameter",
             "grant_type=client_credentials&scope=read&scope=write", 400,
             "invalid_request"),
            ("bad percent-encoding", "grant_type=client%ZZcredentials", 400,
             "invalid_request"),
            ("encoded NUL", "grant_type=client_credentials%00", 400,
             "invalid_request"),
            ("not UTF-8", b"grant_type=client_credentials&scope=\xff\xfe",
             400, "invalid_scope"),
        ]
        for name, form, status, code in cases:
            with self.subTest(name):
                self.assertOAuthError(s.token(form, auth=self.auth), status,
                                      code)
        r = s.token({"grant_type": "client_credentials"},
                    auth=(other["client_id"], other["client_secret"]))
        self.assertOAuthError(r, 400, "unauthorized_client")
        r = s.request("POST", "/token", body=json.dumps(
            {"grant_type": "client_credentials"}), headers={
                "Content-Type": "application/json",
                "Authorization": basic(*self.auth)})
        self.assertOAuthError(r, 400, "invalid_request")
        r = s.request("POST", "/token", body="grant_type=client_credentials",
                      headers={"Authorization": basic(*self.auth)})
        self.assertOAuthError(r, 400, "invalid_request")
        # charset parameter on the media type is fine.
        r = s.token({"grant_type": "client_credentials"}, auth=self.auth,
                    headers={"Content-Type":
                             "application/x-www-form-urlencoded; charset=UTF-8"})
        self.assertEqual(r.status, 200, r.body)

    def test_a_body_of_exactly_max_body_size_is_read_whole(self):
        # The body buffer grows with the body (server/httpd.c on_body);
        # the last byte before the limit still counts, the next is 413.
        s = self.start("--max-body-size", "4096")
        head = "grant_type=client_credentials&pad="
        body = head + "x" * (4096 - len(head))
        self.assertEqual(len(body), 4096)
        r = s.token(body, auth=self.auth)
        self.assertEqual(r.status, 200, r.body)
        self.assertIn("access_token", r.json())
        r = s.token(body + "x", auth=self.auth)
        self.assertOAuthError(r, 413, "request_too_large")
        # The form is read from the whole body: a parameter at its very
        # end is seen.
        body = "pad=" + "x" * (4096 - len("pad=&grant_type=nope")) + \
            "&grant_type=nope"
        self.assertEqual(len(body), 4096)
        r = s.token(body, auth=self.auth)
        self.assertOAuthError(r, 400, "unsupported_grant_type")

    def test_http_level_errors_and_server_stays_up(self):
        s = self.start("--max-body-size", "1024")
        r = s.request("GET", "/token")
        self.assertOAuthError(r, 405, "method_not_allowed")
        self.assertEqual(r.headers["allow"], "POST")
        r = s.request("POST", "/jwks.json")
        self.assertOAuthError(r, 405, "method_not_allowed")
        self.assertEqual(r.headers["allow"], "GET, HEAD")
        r = s.request("GET", "/no/such/path")
        self.assertOAuthError(r, 404, "not_found")
        big = "grant_type=client_credentials&pad=" + "x" * 5000
        r = s.token(big, auth=self.auth)
        self.assertOAuthError(r, 413, "request_too_large")

        def chunks():
            for _ in range(20):
                yield b"x" * 512
        r = s.request("POST", "/token", body=chunks(), headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Transfer-Encoding": "chunked"})
        self.assertOAuthError(r, 413, "request_too_large")
        # Past a bounded drain the server hangs up instead of reading on.
        sent = [0]

        def endless():
            while sent[0] < 64 * 1024 * 1024:
                sent[0] += 65536
                yield b"y" * 65536
        try:
            r = s.request("POST", "/token", body=endless(), headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Transfer-Encoding": "chunked"})
            self.assertEqual(r.status, 413)
        except (ConnectionError, OSError):
            pass
        self.assertLess(sent[0], 16 * 1024 * 1024)
        r = s.request("HEAD", "/jwks.json")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"")
        self.assertEqual(s.get_json("/healthz")["status"], "ok")
        r = s.token({"grant_type": "client_credentials"}, auth=self.auth)
        self.assertEqual(r.status, 200, r.body)

    def test_tokens_are_recorded_listed_and_revocable(self):
        s = self.start()
        r = s.token({"grant_type": "client_credentials"}, auth=self.auth)
        _, claims = verify(s, r.json()["access_token"])
        listed = json.loads(cli(self.db, "token", "list", "--json").stdout)
        rec = [t for t in listed if t["jti"] == claims["jti"]]
        self.assertEqual(len(rec), 1, listed)
        self.assertEqual(rec[0]["client_id"], self.c["client_id"])
        self.assertEqual(rec[0]["sub"], self.c["client_id"])
        self.assertEqual(rec[0]["scope"], "read write")
        self.assertEqual(rec[0]["exp"], claims["exp"])
        self.assertEqual(rec[0]["kid"], jwt.get_unverified_header(
            r.json()["access_token"])["kid"])
        cli(self.db, "token", "revoke", claims["jti"])
        active = json.loads(cli(self.db, "token", "list", "--active",
                                "--json").stdout)
        self.assertNotIn(claims["jti"], [t["jti"] for t in active])

    def test_concurrent_requests_all_recorded(self):
        s = self.start("--threads", "4")
        results, lock = [], threading.Lock()

        def worker():
            for _ in range(10):
                r = s.token({"grant_type": "client_credentials"},
                            auth=self.auth)
                with lock:
                    results.append(r)
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([r.status for r in results], [200] * 80)
        jtis = {jwt.decode(r.json()["access_token"],
                           options={"verify_signature": False})["jti"]
                for r in results}
        self.assertEqual(len(jtis), 80)
        listed = {t["jti"] for t in json.loads(
            cli(self.db, "token", "list", "--json").stdout)}
        self.assertTrue(jtis <= listed)

    def test_no_secret_or_token_in_logs(self):
        s = self.start()
        r = s.token({"grant_type": "client_credentials"}, auth=self.auth)
        token = r.json()["access_token"]
        s.token({"grant_type": "client_credentials",
                 "client_id": self.auth[0], "client_secret": self.auth[1]})
        s.token({"grant_type": "client_credentials"},
                auth=(self.auth[0], "wrong-secret-value"))
        s.stop()
        log = s.log_text()
        self.assertIn("POST /token 200", log)
        self.assertIn(f"client_id={self.auth[0]}", log)
        for secret in [self.auth[1], token, token.split(".")[2],
                       "wrong-secret-value"]:
            self.assertNotIn(secret, log)


class ReservedClientIdTest(LatchkeyTestCase):
    def test_existing_u_client_keeps_working_with_a_warning(self):
        """Issue 12, defect 11: a client registered as u_... before the
        prefix was reserved keeps getting tokens, and every start names
        it in a warning (shared/DECISIONS.md)."""
        c = add_client(self.db, "legacy", "--id", "legacy")
        with connect(self.db) as db:
            db.execute("UPDATE clients SET client_id='u_legacy' "
                       "WHERE client_id='legacy'")
            db.commit()
        s = self.start()
        r = s.token({"grant_type": "client_credentials"},
                    auth=("u_legacy", c["client_secret"]))
        self.assertEqual(r.status, 200, r.body)
        claims = jwt.decode(r.json()["access_token"],
                            options={"verify_signature": False})
        self.assertEqual(claims["sub"], "u_legacy")
        warned = [line for line in s.log_text().splitlines()
                  if "client u_legacy: its id starts with u_" in line]
        self.assertEqual(len(warned), 1, s.log_text())
        self.assertIn(" warn ", warned[0])
        self.assertIn("the prefix of user ids, so the sub of its tokens "
                      "may equal a user's", warned[0])
