"""Issue 12, defect 5: behind a reverse proxy every request came from the
proxy's address, so 20 bad passwords from anyone locked out every user.
With trusted_proxies the client address is read from X-Forwarded-For (or
RFC 7239 Forwarded), right to left, skipping trusted hops; it is what
throttling, the per-address limit and the access log see. The test talks
from 127.0.0.1, so it plays the proxy: trusted_proxies=127.0.0.1."""
import json
import socket
import urllib.parse

from lk_harness import LatchkeyTestCase, add_client, cli

WRONG = "the username or password is wrong"


class ProxyTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        c = add_client(self.db, "app", "--grant", "password")
        self.auth = (c["client_id"], c["client_secret"])
        cli(self.db, "user", "add", "dave", "--password-stdin",
            stdin="dave-password-1\n")

    def login(self, s, username, password, xff=None, headers=None):
        h = dict(headers or {})
        if xff is not None:
            h["X-Forwarded-For"] = xff
        return s.token({"grant_type": "password", "username": username,
                        "password": password}, auth=self.auth, headers=h)

    def desc(self, r):
        return r.json().get("error_description")

    def test_one_clients_failures_do_not_lock_out_another(self):
        s = self.start("--trusted-proxies", "127.0.0.1")
        for i in range(20):
            r = self.login(s, f"user{i}", "bad", xff="203.0.113.7")
            self.assertOAuthError(r, 400, "invalid_grant")
            self.assertEqual(self.desc(r), WRONG)
        r = self.login(s, "user99", "bad", xff="203.0.113.7")
        self.assertIn("too many", self.desc(r))
        r = self.login(s, "dave", "dave-password-1", xff="198.51.100.9")
        self.assertEqual(r.status, 200, r.body)
        # The proxy's own address is not held up either.
        self.assertEqual(self.login(s, "dave", "dave-password-1").status, 200)

    def assert_headers_ignored(self, s):
        """Spoofed headers change nothing: every attempt counts against
        the socket peer."""
        for i in range(4):
            r = self.login(s, f"user{i}", "bad", xff=f"198.51.100.{i}",
                           headers={"Forwarded": f"for=192.0.2.{i}"})
            self.assertEqual(self.desc(r), WRONG)
        r = self.login(s, "dave", "dave-password-1", xff="198.51.100.200")
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertIn("too many", self.desc(r))
        log = s.log_text()
        self.assertIn(" addr=127.0.0.1 ", log)
        self.assertNotIn("198.51.100.", log)

    def test_headers_ignored_without_trusted_proxies(self):
        self.assert_headers_ignored(
            self.start("--login-max-failures-per-address", "4"))

    def test_headers_ignored_from_an_untrusted_peer(self):
        self.assert_headers_ignored(
            self.start("--login-max-failures-per-address", "4",
                       "--trusted-proxies", "10.0.0.0/8, ::1"))

    def addr_of(self, s, headers):
        """The client address the access log shows for one request."""
        mark = f"/healthz-{len(s.log_text())}"
        s.request("GET", mark, headers=headers)
        for line in s.log_text().splitlines():
            if f" {mark} " in line:
                return line.split(" addr=")[1].split(" ")[0]
        self.fail(f"no access line for {mark}")

    def test_x_forwarded_for_right_to_left(self):
        s = self.start("--trusted-proxies", "127.0.0.1,10.0.0.0/8 2001:db8::/32")
        cases = [
            ("198.51.100.9", "198.51.100.9"),
            # A client-written left part is passed over: the proxy
            # appended the real address.
            ("6.6.6.6, 198.51.100.9", "198.51.100.9"),
            # Trusted hops are skipped.
            ("198.51.100.9, 10.1.2.3,10.9.9.9", "198.51.100.9"),
            (" 198.51.100.9:5555 , 10.1.2.3", "198.51.100.9"),
            ("2001:db9::5", "2001:db9::5"),
            ("[2001:db9::5]:443, 2001:db8::1", "2001:db9::5"),
            ("::ffff:198.51.100.9", "198.51.100.9"),
            # Every hop trusted: the farthest is the client.
            ("10.0.0.2, 10.0.0.3", "10.0.0.2"),
            # Not an address: the nearest trusted hop is all we know.
            ("garbage", "127.0.0.1"),
            ("198.51.100.9, garbage", "127.0.0.1"),
            ("198.51.100.9, unknown, 10.0.0.7", "10.0.0.7"),
            ("", "127.0.0.1"),
        ]
        for xff, want in cases:
            with self.subTest(xff=xff):
                self.assertEqual(self.addr_of(s, {"X-Forwarded-For": xff}),
                                 want)
        # The proxy's own request, and the other header, name no client.
        self.assertEqual(self.addr_of(s, {}), "127.0.0.1")
        self.assertEqual(self.addr_of(s, {"Forwarded": "for=198.51.100.9"}),
                         "127.0.0.1")

    def test_forwarded_rfc7239(self):
        s = self.start("--trusted-proxies", "127.0.0.1, 10.0.0.0/8",
                       "--forwarded-header", "forwarded")
        cases = [
            ("for=198.51.100.9", "198.51.100.9"),
            ("For=\"198.51.100.9:4711\";proto=https", "198.51.100.9"),
            ('for=192.0.2.60;proto=http;by=203.0.113.43, '
             'for="[2001:db8:cafe::17]:4711"', "2001:db8:cafe::17"),
            ('for="[2001:db8:cafe::17]", for=10.0.0.1;by="[::1]"',
             "2001:db8:cafe::17"),
            ("proto=https;for=198.51.100.9, for=10.0.0.1", "198.51.100.9"),
            # RFC 7239 section 6.2 and 6.3: no address to hold to account.
            ("for=unknown", "127.0.0.1"),
            ("for=_hidden, for=10.0.0.1", "10.0.0.1"),
            ("by=10.0.0.1", "127.0.0.1"),
            ('for="[2001:db8::1', "127.0.0.1"),
        ]
        for fwd, want in cases:
            with self.subTest(forwarded=fwd):
                self.assertEqual(self.addr_of(s, {"Forwarded": fwd}), want)
        # Several header lines are one list, in order.
        conn = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        conn.sendall(b"GET /healthz-lines HTTP/1.1\r\nHost: x\r\n"
                     b"Forwarded: for=198.51.100.9\r\n"
                     b"Forwarded: for=10.0.0.5\r\nConnection: close\r\n\r\n")
        while conn.recv(4096):
            pass
        conn.close()
        self.assertIn("/healthz-lines 404 addr=198.51.100.9 ", s.log_text())
        # X-Forwarded-For is not read in this mode.
        self.assertEqual(self.addr_of(s, {"X-Forwarded-For": "198.51.100.9"}),
                         "127.0.0.1")

    def test_a_client_written_quote_does_not_swallow_the_proxy_hops(self):
        """What the client wrote is on the left; the proxies append on the
        right. An unbalanced '"' on the left must not make the real hops
        part of one quoted string, or every client could take the proxy's
        address (out of its own throttling bucket and the access log)."""
        s = self.start("--trusted-proxies", "127.0.0.1, 10.0.0.0/8")
        cases = [
            ('"', "198.51.100.9"),
            ('"6.6.6.6', "198.51.100.9"),
            ('x\\"', "198.51.100.9"),
        ]
        for left, want in cases:
            with self.subTest(xff=left):
                xff = f"{left}, 198.51.100.9, 10.0.0.1"
                self.assertEqual(self.addr_of(s, {"X-Forwarded-For": xff}),
                                 want)
        # A client behind it can neither be framed nor hide.
        r = None
        for i in range(21):
            r = self.login(s, f"user{i}", "bad", xff='", 203.0.113.7')
        self.assertIn("too many", self.desc(r))
        # The proxy's own address is not the one held up.
        r = self.login(s, "dave", "dave-password-1")
        self.assertEqual(r.status, 200, r.body)

    def test_forwarded_client_written_quote(self):
        s = self.start("--trusted-proxies", "127.0.0.1, 10.0.0.0/8",
                       "--forwarded-header", "forwarded")
        cases = [
            'for="', 'for="6.6.6.6', 'for="x\\"', '"', 'for=x;by="',
        ]
        for left in cases:
            for right, want in (
                    ("for=198.51.100.9", "198.51.100.9"),
                    ('for="[2001:db8:cafe::17]:4711";proto=https, '
                     'for=10.0.0.1', "2001:db8:cafe::17"),
                    ('for="198.51.100.9:1\\"";by=10.0.0.2', "198.51.100.9")):
                with self.subTest(left=left, right=right):
                    fwd = f"{left}, {right}"
                    self.assertEqual(self.addr_of(s, {"Forwarded": fwd}),
                                     want)

    def test_json_access_log_has_the_address(self):
        s = self.start("--trusted-proxies", "127.0.0.1", "--log-format",
                       "json")
        s.request("GET", "/healthz", headers={"X-Forwarded-For":
                                              "198.51.100.9"})
        lines = [json.loads(x) for x in s.log_text().splitlines() if x]
        req = [x for x in lines if x.get("where") == "request"]
        self.assertEqual(req[-1]["addr"], "198.51.100.9")

    def test_known_address_is_not_locked_out_by_strangers(self):
        """The per-username count cannot keep a user out of the address
        they signed in from: strangers' failures count against the
        username, and a known address has a count of its own."""
        s = self.start("--trusted-proxies", "127.0.0.1",
                       "--login-max-failures", "3")
        r = self.login(s, "dave", "dave-password-1", xff="198.51.100.9")
        self.assertEqual(r.status, 200, r.body)
        for _ in range(3):
            r = self.login(s, "dave", "bad", xff="203.0.113.7")
            self.assertEqual(self.desc(r), WRONG)
        for xff in ("203.0.113.7", "192.0.2.55"):  # strangers: refused
            r = self.login(s, "dave", "dave-password-1", xff=xff)
            self.assertIn("too many", self.desc(r))
        r = self.login(s, "dave", "dave-password-1", xff="198.51.100.9")
        self.assertEqual(r.status, 200, r.body)
        # The known address has its own limit.
        for _ in range(3):
            r = self.login(s, "dave", "bad", xff="198.51.100.9")
            self.assertEqual(self.desc(r), WRONG)
        r = self.login(s, "dave", "dave-password-1", xff="198.51.100.9")
        self.assertIn("too many", self.desc(r))

    def test_client_auth_failures_count_per_forwarded_address(self):
        s = self.start("--trusted-proxies", "127.0.0.1",
                       "--client-auth-max-failures-per-address", "2")
        for i in range(2):
            r = s.token({"grant_type": "password"}, auth=(f"nobody{i}", "x"),
                        headers={"X-Forwarded-For": "203.0.113.7"})
            self.assertOAuthError(r, 401, "invalid_client")
        r = self.login(s, "dave", "dave-password-1", xff="198.51.100.9")
        self.assertEqual(r.status, 200, r.body)


class ProxyControlTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        self.write_fixtures({"clients": []})

    def test_a_forwarded_request_is_not_loopback(self):
        s = self.start_double("--trusted-proxies", "127.0.0.1")
        self.assertEqual(s.request("GET", "/_control/clock").status, 200)
        for h in ({"X-Forwarded-For": "127.0.0.1"},
                  {"Forwarded": "for=127.0.0.1"},
                  {"X-Forwarded-For": "garbage"}):
            with self.subTest(headers=h):
                r = s.request("GET", "/_control/clock", headers=h)
                self.assertOAuthError(r, 404, "not_found")

    def test_without_trusted_proxies_the_headers_change_nothing(self):
        s = self.start_double()
        r = s.request("GET", "/_control/clock",
                      headers={"X-Forwarded-For": "198.51.100.9"})
        self.assertEqual(r.status, 200, r.body)


def hold(port, xff):
    """A POST whose headers have arrived (MHD answered 100 Continue once
    the handler saw them) and whose body never comes: a request under way
    for as long as the socket stays open."""
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(b"POST /token HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/x-www-form-urlencoded\r\n"
              b"Content-Length: 10\r\nExpect: 100-continue\r\n"
              b"X-Forwarded-For: " + xff.encode() + b"\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = c.recv(4096)
        if not chunk:
            break
        got += chunk
    return c, got


class ProxyConnectionLimitTest(LatchkeyTestCase):
    def test_trusted_peer_is_exempt_and_clients_are_limited_per_request(self):
        s = self.start("--trusted-proxies", "127.0.0.1",
                       "--max-connections-per-address", "2")
        held = []
        try:
            for _ in range(2):
                c, got = hold(s.port, "203.0.113.7")
                held.append(c)
                self.assertTrue(got.startswith(b"HTTP/1.1 100"), got)
            # More connections from the proxy than the limit: served.
            r = s.request("GET", "/healthz",
                          headers={"X-Forwarded-For": "198.51.100.9"})
            self.assertEqual(r.status, 200, r.body)
            # A third request under way for that client is one too many.
            r = s.request("GET", "/healthz",
                          headers={"X-Forwarded-For": "203.0.113.7"})
            self.assertOAuthError(r, 503, "temporarily_unavailable")
        finally:
            for c in held:
                c.close()
        self.assertIn("more than 2 requests at once from 203.0.113.7",
                      s.log_text())

    def test_ambiguous_framing_is_refused_over_the_limit_too(self):
        """The framing check (RFC 9112 section 6.3) comes first: a client
        over its limit gets no 503 on a connection kept open, where a
        second length could smuggle a request."""
        s = self.start("--trusted-proxies", "127.0.0.1",
                       "--max-connections-per-address", "1")
        held, got = hold(s.port, "203.0.113.7")
        try:
            self.assertTrue(got.startswith(b"HTTP/1.1 100"), got)
            second = (b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            c.sendall(b"POST /token HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/x-www-form-urlencoded\r\n"
                      b"X-Forwarded-For: 203.0.113.7\r\n"
                      b"Content-Length: 0\r\nContent-Length: " +
                      str(len(second)).encode() + b"\r\n\r\n" + second)
            data = b""
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                data += chunk
            c.close()
        finally:
            held.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 400 "), data)
        self.assertIn(b"\r\nConnection: close\r\n", data)
        self.assertEqual(data.count(b"HTTP/1.1 "), 1, data)

    def test_untrusted_peer_keeps_the_connection_limit(self):
        s = self.start("--trusted-proxies", "10.0.0.0/8",
                       "--max-connections-per-address", "2")
        held = []
        try:
            for _ in range(2):
                c, got = hold(s.port, "198.51.100.9")
                held.append(c)
                self.assertTrue(got.startswith(b"HTTP/1.1 100"), got)
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            try:
                c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                got = c.recv(4096)
            except (ConnectionResetError, BrokenPipeError):
                got = b""
            finally:
                c.close()
            self.assertEqual(got, b"", "a third connection was served")
        finally:
            for c in held:
                c.close()


class AccessLogTest(LatchkeyTestCase):
    """Issue 17 section 5: every access line names the client address
    (after trusted proxies), a request id (the X-Request-Id sent when it
    is well-formed, else a new one, echoed in the answer) and the user
    agent, sanitised and bounded."""

    def line_for(self, s, mark, json_format=False):
        for line in s.log_text().splitlines():
            if json_format:
                if line.startswith("{") and \
                        json.loads(line).get("path") == mark:
                    return json.loads(line)
            elif f" {mark} " in line:
                return line
        self.fail(f"no access line for {mark}")

    def test_request_id_and_user_agent_text(self):
        s = self.start("--trusted-proxies", "127.0.0.1")
        # Kept: a well-formed id (a UUID, a W3C trace id, base64).
        for rid in ("3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a3b",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                    "a" * 128, "Zm9v+YmFy/YmF6=="):
            mark = f"/healthz-{len(rid)}-{rid[:4]}"
            r = s.request("GET", mark, headers={"X-Request-Id": rid,
                                                "X-Forwarded-For":
                                                "198.51.100.4"})
            self.assertEqual(r.status, 404)
            self.assertEqual(r.headers["x-request-id"], rid)
            line = self.line_for(s, mark)
            self.assertIn(f" request_id={rid} ", line)
            self.assertIn(" addr=198.51.100.4 ", line)
        # Replaced: too long, empty, or with bytes that could forge a
        # log field or a header.
        seen = set()
        for rid in ("a" * 129, "", "two words", "x\"y", "a=b;c", "é"):
            mark = f"/healthz-bad-{len(seen)}"
            r = s.request("GET", mark,
                          headers={"X-Request-Id": rid.encode("utf-8")
                                   .decode("latin-1")})
            got = r.headers["x-request-id"]
            self.assertNotEqual(got, rid)
            self.assertRegex(got, r"^[0-9a-f]{12}[A-Za-z0-9_-]{12}$")
            self.assertIn(f" request_id={got} ", self.line_for(s, mark))
            seen.add(got)
        self.assertEqual(len(seen), 6, "each request gets its own id")
        # No header at all: a new id, on every kind of answer.
        r = s.token({"grant_type": "client_credentials"},
                    auth=("nobody", "x"))
        self.assertOAuthError(r, 401, "invalid_client")
        self.assertRegex(r.headers["x-request-id"], r"^[0-9a-f]{12}")
        # The user agent: quoted, control bytes and quotes made '?',
        # cut at 200 bytes.
        ua = 'curl/8.0 "evil" \\ ' + "\u00e9" + "z" * 300
        r = s.request("GET", "/healthz-ua",
                      headers={"User-Agent": ua.encode("utf-8")
                               .decode("latin-1")})
        line = self.line_for(s, "/healthz-ua")
        logged = line.split(' ua="', 1)[1]
        self.assertTrue(logged.startswith('curl/8.0 ?evil? ? ??zzz'),
                        logged)
        self.assertEqual(len(logged), 200 + 1, logged)  # and its '"'
        self.assertTrue(logged.endswith('z"'), logged)

    def test_request_id_and_user_agent_json(self):
        s = self.start("--log-format", "json")
        r = s.request("GET", "/healthz", headers={
            "X-Request-Id": "req-42", "User-Agent": "python-requests/2.28"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["x-request-id"], "req-42")
        line = self.line_for(s, "/healthz", json_format=True)
        self.assertEqual((line["request_id"], line["user_agent"],
                          line["addr"], line["status"]),
                         ("req-42", "python-requests/2.28", "127.0.0.1",
                          200))

    def test_security_lines_name_the_address_and_request(self):
        """Issue 17 section 1: a security line written for a request ends
        with the client's address (after trusted proxies) and the
        request's id, as its access line has them."""
        c = add_client(self.db, "app", "--grant", "password", "--grant",
                       "refresh_token")
        auth = (c["client_id"], c["client_secret"])
        cli(self.db, "user", "add", "dave", "--password-stdin",
            stdin="dave-password-1\n")
        s = self.start("--trusted-proxies", "127.0.0.1",
                       "--login-max-failures", "2")
        h = {"X-Forwarded-For": "198.51.100.7"}
        first = s.token({"grant_type": "password", "username": "dave",
                         "password": "dave-password-1"}, auth=auth,
                        headers=h).json()["refresh_token"]
        r = s.token({"grant_type": "refresh_token", "refresh_token": first},
                    auth=auth, headers=h)
        self.assertEqual(r.status, 200, r.body)
        # Reuse of the rotated-out token: detected, and traced.
        r = s.token({"grant_type": "refresh_token", "refresh_token": first},
                    auth=auth, headers={**h, "X-Request-Id": "reuse-1"})
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertRegex(s.log_text(), r"warn security: refresh token "
                         r"reuse: family \S+ of client \S+ revoked \(\d+ "
                         r"tokens\) addr=198\.51\.100\.7 request_id=reuse-1\n")
        # A wrong secret, and login throttling naming the username.
        r = s.token({"grant_type": "client_credentials"},
                    auth=(c["client_id"], "wrong"),
                    headers={**h, "X-Request-Id": "bad-secret"})
        self.assertOAuthError(r, 401, "invalid_client")
        for i in range(3):
            s.token({"grant_type": "password", "username": "dave",
                     "password": "wrong"}, auth=auth,
                    headers={**h, "X-Request-Id": f"login-{i}"})
        log = s.log_text()
        self.assertRegex(log, r"warn security: client authentication "
                         r"failed: wrong secret for client %s "
                         r"addr=198\.51\.100\.7 request_id=bad-secret\n"
                         % c["client_id"])
        self.assertRegex(log, r"warn security: login throttled for a "
                         r"username \(user dave, client %s\) "
                         r"addr=198\.51\.100\.7 request_id=login-2\n"
                         % c["client_id"])
