"""Hostile values in every parameter of /token (password and refresh_token
grants), /introspect and /revoke: empty, megabytes long, not UTF-8, bad
percent-encoding, repeated. Each gets a clear RFC error, the server stays
up, nothing is written, the real tokens keep working, and every JSON log
line still parses. Text that is not UTF-8 gets the same answers on
PostgreSQL as on SQLite: a lookup by it finds nothing."""
import base64
import json
import lk_db
import urllib.parse

from lk_harness import LatchkeyTestCase, add_client, basic
from test_refresh import RefreshBase

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MB = 2 * 1024 * 1024


def enc(form):
    """Encodes (name, raw value) pairs; raw values are sent as given, so a
    case can carry its own (bad) percent-encoding."""
    return "&".join("%s=%s" % (k, v) for k, v in form)


class HostileInputTest(RefreshBase):
    def setUp(self):
        super().setUp()
        # The limits are raised so megabytes reach the grants' own checks
        # (test_limits.py covers the limits themselves).
        self.s = self.start("--log-format", "json", "--max-body-size",
                            str(8 * 1024 * 1024), "--max-param-length",
                            str(8 * 1024 * 1024), "--login-max-failures",
                            "1000", "--login-max-failures-per-address",
                            "100000")
        self.t = self.login(self.s)

    def post(self, path, pairs, auth):
        return self.s.request("POST", path, body=enc(pairs),
                              headers={**FORM, "Authorization": basic(*auth)})

    def db_state(self):
        db = lk_db.connect(self.db)
        try:
            return db.execute(
                "SELECT (SELECT count(*) FROM access_tokens),"
                " (SELECT count(*) FROM access_tokens WHERE revoked_at IS"
                "  NOT NULL),"
                " (SELECT count(*) FROM refresh_tokens),"
                " (SELECT count(*) FROM refresh_tokens WHERE retired_at IS"
                "  NOT NULL OR revoked_at IS NOT NULL)").fetchone()
        finally:
            db.close()

    def run_cases(self, path, base, param, auth, expect, skip=()):
        """Sends base with param set to each hostile value (but those in
        skip); expect maps a case name to (status, error code, or None when
        only the status is checked). Nothing may be written."""
        big = "a" * MB
        values = {
            "empty": "",
            "megabytes": big,
            "not_utf8": "%FF%FE%80",
            "utf8_overlong": "%C0%AF",
            "bad_escape": "%ZZ",
            "cut_escape": "abc%4",
            "encoded_nul": "a%00b",
            "control_bytes": "%1B%5B31m%0Aforged%20line",
        }
        before = self.db_state()
        for name in skip:
            del values[name]
        for name, value in values.items():
            pairs = [(k, v) for k, v in base if k != param] + [(param, value)]
            with self.subTest(path=path, param=param, case=name):
                r = self.post(path, pairs, auth)
                status, code = expect(name)
                self.assertEqual(r.status, status, r.body[:300])
                if code is not None:
                    self.assertOAuthError(r, status, code)
                    self.assertLess(len(r.body), 1000)
        with self.subTest(path=path, param=param, case="repeated"):
            pairs = list(base) + [(param, dict(base).get(param, "x"))]
            if param not in dict(base):
                pairs.append((param, "y"))
            r = self.post(path, pairs, auth)
            self.assertOAuthError(r, 400, "invalid_request")
            self.assertIn("repeated", r.json()["error_description"])
        self.assertEqual(self.db_state(), before)
        self.assertEqual(self.s.request("GET", "/healthz").status, 200)

    @staticmethod
    def malformed(name, otherwise):
        if name in ("bad_escape", "cut_escape", "encoded_nul"):
            return (400, "invalid_request")
        return otherwise(name)

    def test_password_grant(self):
        base = [("grant_type", "password"), ("username", "dave"),
                ("password", "dave-password-1")]
        for param in ("username", "password"):
            self.run_cases("/token", base, param, self.app,
                           lambda n: self.malformed(n, lambda n: (
                               400, "invalid_request" if n == "empty"
                               else "invalid_grant")))
        # An empty scope is an omitted one (section 3.2): a normal login.
        self.run_cases("/token", base, "scope", self.app,
                       lambda n: self.malformed(n, lambda n: (
                           400, "invalid_scope")), skip=("empty",))

    def test_refresh_grant(self):
        base = [("grant_type", "refresh_token"),
                ("refresh_token", self.t["refresh_token"])]
        self.run_cases("/token", base, "refresh_token", self.app,
                       lambda n: self.malformed(n, lambda n: (
                           400, "invalid_request" if n == "empty"
                           else "invalid_grant")))
        # An empty scope means none was sent: that refresh succeeds, and
        # is the only write; take it out of the comparison by using the
        # token it returns from here on.
        r = self.refresh(self.s, self.t["refresh_token"], scope="")
        self.assertEqual(r.status, 200, r.body)
        base = [("grant_type", "refresh_token"),
                ("refresh_token", r.json()["refresh_token"])]
        self.run_cases("/token", base, "scope", self.app,
                       lambda n: self.malformed(n, lambda n: (
                           400, "invalid_scope")), skip=("empty",))
        # The family survived all of it: the current token still works.
        r = self.refresh(self.s, r.json()["refresh_token"])
        self.assertEqual(r.status, 200, r.body)

    def test_grant_type(self):
        base = [("grant_type", "password"), ("username", "dave"),
                ("password", "dave-password-1")]
        self.run_cases("/token", base, "grant_type", self.app,
                       lambda n: self.malformed(n, lambda n: (
                           400, "invalid_request" if n == "empty"
                           else "unsupported_grant_type")))
        # The access log names the grant type asked for; bytes that are
        # not UTF-8 arrive there as U+FFFD, control bytes escaped.
        logged = [json.loads(line).get("grant_type")
                  for line in self.s.log_text().splitlines()]
        self.assertIn("\ufffd\ufffd\ufffd", logged)
        self.assertIn("\x1b[31m\nforged line", logged)

    def test_client_id_not_utf8(self):
        """A client_id that is not UTF-8, in Basic credentials, in the
        form or at /authorize, names no client: the answers of an unknown
        client, on both backends (PostgreSQL cannot hold such text; the
        lookup finds nothing rather than failing), and nothing written."""
        before = self.db_state()
        for raw in ("%FF%FE%80", "%C0%AF"):
            with self.subTest(where="basic", client_id=raw):
                auth = base64.b64encode((raw + ":x").encode()).decode()
                r = self.s.request("POST", "/token",
                                   body="grant_type=client_credentials",
                                   headers={**FORM,
                                            "Authorization": "Basic " + auth})
                self.assertOAuthError(r, 401, "invalid_client")
            with self.subTest(where="form", client_id=raw):
                r = self.s.request("POST", "/token",
                                   body="grant_type=refresh_token&"
                                        "refresh_token=x&client_id=" + raw,
                                   headers=FORM)
                self.assertOAuthError(r, 401, "invalid_client")
            with self.subTest(where="authorize", client_id=raw):
                r = self.s.request("GET", "/authorize?response_type=code&"
                                   "client_id=" + raw)
                self.assertEqual(r.status, 400, r.body[:300])
        self.assertEqual(self.db_state(), before)
        self.assertEqual(self.s.request("GET", "/healthz").status, 200)

    def test_introspect_and_revoke(self):
        at = self.t["access_token"]
        ok = (200, None)
        # /introspect is asked by the resource server about the real token;
        # /revoke by its own client, about a token that does not exist (a
        # real one would be revoked by the first case).
        for path, auth, token in (("/introspect", self.rs, at),
                                  ("/revoke", self.app, "not-a-token")):
            base = [("token", urllib.parse.quote(token, safe=""))]
            self.run_cases(path, base, "token", auth,
                           lambda n: self.malformed(n, lambda n: (
                               (400, "invalid_request") if n == "empty"
                               else ok)))
            self.run_cases(path, base + [("token_type_hint", "x")],
                           "token_type_hint", auth,
                           lambda n: self.malformed(n, lambda n: ok))
            # Hostile tokens are simply unknown: introspection says so.
            for bad in ("%FF%FE", "a" * 100000, "e30.e30.e30",
                        "%00", "a.b", "..", "." * 5000):
                with self.subTest(path=path, token=bad[:20]):
                    r = self.post(path, [("token", bad)], auth)
                    if bad == "%00":
                        self.assertOAuthError(r, 400, "invalid_request")
                    elif path == "/introspect":
                        self.assertEqual((r.status, r.json()),
                                         (200, {"active": False}))
                    else:
                        self.assertEqual((r.status, r.body), (200, b""))
        # The real token was never touched by any of it.
        self.assertTrue(self.active(self.s, at))

    def tearDown(self):
        # Every log line is one JSON object, whatever the clients sent, and
        # no line carries a megabyte value or a raw control byte.
        log = self.s.log_text()
        for line in log.splitlines():
            rec = json.loads(line)
            self.assertIsInstance(rec, dict)
            self.assertLess(len(line), 4096)
        self.assertNotIn("\x1b", log)
        super().tearDown()


class FramingTest(LatchkeyTestCase):
    """RFC 9112 section 6.3: a request whose body length is stated twice,
    or by both Content-Length and Transfer-Encoding, is how requests are
    smuggled past a proxy that reads the other header. It gets 400
    invalid_request and the connection is closed before any body is read:
    what follows it on the connection is never answered."""

    BODY = b"grant_type=client_credentials"

    def setUp(self):
        super().setUp()
        c = add_client(self.db, "svc", "--grant", "client_credentials")
        self.auth = basic(c["client_id"], c["client_secret"]).encode()
        self.s = self.start()

    def head(self, *framing, path=b"/token"):
        return (b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Authorization: " + self.auth + b"\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n" +
                b"".join(h + b"\r\n" for h in framing) + b"\r\n")

    def exchange(self, raw):
        """Sends raw and reads until the server closes the connection."""
        return self.s.raw(raw)

    def test_ambiguous_length_is_refused_and_the_connection_closed(self):
        n = str(len(self.BODY)).encode()
        chunked = b"%x\r\n" % len(self.BODY) + self.BODY + b"\r\n0\r\n\r\n"
        cases = {
            "two different Content-Length": (
                [b"Content-Length: " + n, b"Content-Length: 5"], self.BODY),
            "two equal Content-Length": (
                [b"Content-Length: " + n, b"Content-Length: " + n],
                self.BODY),
            "Content-Length then Transfer-Encoding": (
                [b"Content-Length: 5", b"Transfer-Encoding: chunked"],
                chunked),
            "Transfer-Encoding then Content-Length": (
                [b"Transfer-Encoding: chunked", b"Content-Length: 5"],
                chunked),
            "Transfer-Encoding twice": (
                [b"Transfer-Encoding: chunked",
                 b"Transfer-Encoding: chunked"], chunked),
            "Transfer-Encoding not ending in chunked": (
                [b"Transfer-Encoding: chunked, identity"], chunked),
        }
        # A second, valid request pipelined behind the bad one: if the
        # server read on, it would answer it (this is the smuggled one).
        second = self.head(b"Content-Length: " + n) + self.BODY
        for name, (framing, body) in cases.items():
            with self.subTest(case=name):
                data = self.exchange(self.head(*framing) + body + second)
                head, _, rest = data.partition(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                self.assertEqual(lines[0], b"HTTP/1.1 400 Bad Request", data)
                hdrs = {k.strip().lower(): v.strip() for k, _, v in
                        (ln.partition(b":") for ln in lines[1:])}
                self.assertEqual(hdrs[b"connection"].lower(), b"close")
                self.assertTrue(hdrs[b"content-type"].startswith(
                    b"application/json"))
                length = int(hdrs[b"content-length"])
                self.assertEqual(json.loads(rest[:length])["error"],
                                 "invalid_request")
                # EOF after the one answer: the second was never answered.
                self.assertEqual(rest[length:], b"", data)
                self.assertEqual(data.count(b"HTTP/1.1 "), 1, data)

    def test_plain_framing_still_works(self):
        n = str(len(self.BODY)).encode()
        req = self.head(b"Content-Length: " + n, b"Connection: close")
        data = self.exchange(req + self.BODY)
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data)
        r = self.s.request("POST", "/token", body=self.BODY,
                           headers={**FORM, "Transfer-Encoding": "chunked",
                                    "Authorization": self.auth.decode()})
        self.assertEqual(r.status, 200, r.body)
