"""Limits, HTTPS and file permissions, against the real latchkeyd: each
limit is met with a clean answer (or a closed connection, where HTTP has
no answer), a slow or greedy client does not starve the others, HTTPS is
served from tls_cert/tls_key, and secrets on disk that others can read are
refused at start."""
import http.client
import os
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse

from lk_harness import LATCHKEYD, LatchkeyTestCase, add_client, basic


def raw_conn(port, source="127.0.0.1"):
    """A TCP connection to latchkeyd from a chosen loopback address."""
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def closed_by_server(s, within=5.0):
    """True when the server closes s (recv gives b"" or a reset) before
    `within` seconds; sends nothing itself."""
    s.settimeout(within)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class LimitsTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        self.c = add_client(self.db, "svc", "--scope", "read")
        self.auth = (self.c["client_id"], self.c["client_secret"])

    def token_ok(self, s):
        r = s.token({"grant_type": "client_credentials"}, auth=self.auth)
        self.assertEqual(r.status, 200, r.body)

    def test_header_too_large(self):
        s = self.start("--max-header-size", "4096")
        c = raw_conn(s.port)
        try:  # the server may answer and close before it has read it all
            c.sendall(b"POST /token HTTP/1.1\r\nHost: x\r\nX-Padding: " +
                      b"a" * 6000 + b"\r\nContent-Length: 0\r\n\r\n")
        except OSError:
            pass
        self.assertTrue(c.recv(100).startswith(
            b"HTTP/1.1 431 Request Header Fields Too Large"))
        c.close()
        self.token_ok(s)  # the server goes on

    def test_too_many_params(self):
        s = self.start("--max-params", "8")
        form = {"grant_type": "client_credentials"}
        form.update({f"p{i}": "x" for i in range(8)})
        r = s.token(form, auth=self.auth)
        self.assertOAuthError(r, 400, "invalid_request")
        self.assertEqual(r.json()["error_description"], "too many parameters")
        del form["p7"]
        self.token_ok(s)
        self.assertEqual(s.token(form, auth=self.auth).status, 200)

    def test_param_too_long(self):
        s = self.start()
        r = s.token({"grant_type": "client_credentials",
                     "x-extension": "x" * 5000}, auth=self.auth)
        self.assertOAuthError(r, 400, "invalid_request")
        self.assertIn("max_param_length", r.json()["error_description"])
        q = urllib.parse.urlencode({"client_id": self.c["client_id"],
                                    "response_type": "code",
                                    "state": "s" * 5000})
        r = s.request("GET", "/authorize?" + q)
        self.assertEqual(r.status, 400)
        self.assertTrue(r.headers["content-type"].startswith("text/html"))
        self.assertNotIn("location", r.headers)
        # Raised, the same request reaches the grant's own checks.
        s2 = self.start("--max-param-length", "8192")
        r = s2.token({"grant_type": "client_credentials",
                      "x-extension": "x" * 5000}, auth=self.auth)
        self.assertEqual(r.status, 200, r.body)  # unknown ones are ignored

    def test_connections_per_address(self):
        s = self.start("--max-connections-per-address", "4")
        held = []
        try:
            # Each held connection is answered once and kept alive, so the
            # server has surely accepted (and counted) it before the fifth
            # one arrives; connections merely opened may be accepted in
            # any order by the worker threads.
            for _ in range(4):
                h = raw_conn(s.port, "127.0.0.2")
                held.append(h)
                h.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                got = b""
                while not got.endswith(b"}\n"):
                    chunk = h.recv(4096)
                    self.assertNotEqual(chunk, b"", "held connection closed")
                    got += chunk
                self.assertTrue(got.startswith(b"HTTP/1.1 200"), got)
            extra = raw_conn(s.port, "127.0.0.2")
            self.assertTrue(closed_by_server(extra), "5th connection kept")
            extra.close()
            # Another address is not affected by 127.0.0.2's connections.
            self.token_ok(s)
        finally:
            for h in held:
                h.close()
        deadline = time.monotonic() + 10
        while True:  # the slots come back once those close
            data = b""
            c = raw_conn(s.port, "127.0.0.2")
            try:  # until the server has seen them close, it resets us
                c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                data = c.recv(100)
            except OSError:
                pass
            c.close()
            if data.startswith(b"HTTP/1.1 200"):
                break
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.1)

    def test_max_connections(self):
        # At the limit libmicrohttpd stops accepting: a new connection
        # waits in the kernel's queue, unanswered, until a slot frees.
        s = self.start("--max-connections", "4")
        held = [raw_conn(s.port, f"127.0.0.{3 + i}") for i in range(4)]
        waiting = raw_conn(s.port)
        try:
            waiting.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            waiting.settimeout(1.5)
            with self.assertRaises(socket.timeout):
                waiting.recv(100)
        finally:
            for h in held:
                h.close()
        waiting.settimeout(10)
        self.assertTrue(waiting.recv(100).startswith(b"HTTP/1.1 200"))
        waiting.close()
        self.token_ok(s)

    def test_slow_clients_do_not_starve_others(self):
        # One worker thread, and slowloris connections from another address
        # that dribble a header byte at a time: requests from elsewhere are
        # still answered, and silent connections are closed at idle_timeout.
        s = self.start("--threads", "1", "--idle-timeout", "2")
        slow = [raw_conn(s.port, "127.0.0.4") for _ in range(16)]
        silent = raw_conn(s.port, "127.0.0.5")
        stop = threading.Event()

        def dribble():
            head = b"POST /token HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 400
            i = 0
            while not stop.is_set() and i < len(head):
                for c in slow:
                    try:
                        c.sendall(head[i:i + 1])
                    except OSError:
                        pass
                i += 1
                stop.wait(0.2)

        t = threading.Thread(target=dribble)
        t.start()
        try:
            for _ in range(10):
                r = s.token({"grant_type": "client_credentials"},
                            auth=self.auth, )
                self.assertEqual(r.status, 200, r.body)
            self.assertTrue(closed_by_server(silent, within=8),
                            "a silent connection outlived idle_timeout")
        finally:
            stop.set()
            t.join()
            for c in slow:
                c.close()
            silent.close()
        self.token_ok(s)


class TlsTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        self.c = add_client(self.db, "svc", "--scope", "read")
        self.cert = os.path.join(self.dir, "cert.pem")
        self.key = os.path.join(self.dir, "key.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
             "/CN=localhost", "-addext",
             "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout",
             self.key, "-out", self.cert], check=True, capture_output=True)
        os.chmod(self.key, 0o600)

    def refused(self, *args):
        p = subprocess.run([LATCHKEYD, "--listen", "127.0.0.1:0", "--db",
                            self.db, *args], capture_output=True, text=True,
                           timeout=30)
        self.assertNotEqual(p.returncode, 0)
        return p.stderr

    def test_https(self):
        s = self.start("--tls-cert", self.cert, "--tls-key", self.key)
        self.assertEqual(s.issuer, f"https://127.0.0.1:{s.port}")
        ctx = ssl.create_default_context(cafile=self.cert)
        conn = http.client.HTTPSConnection("127.0.0.1", s.port, context=ctx,
                                           timeout=10)
        conn.request("POST", "/token", "grant_type=client_credentials",
                     {"Authorization": basic(self.c["client_id"],
                                             self.c["client_secret"]),
                      "Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        body = r.read()
        self.assertEqual(r.status, 200, body)
        conn.request("GET", "/.well-known/oauth-authorization-server")
        r = conn.getresponse()
        import json
        meta = json.loads(r.read())
        self.assertEqual(meta["issuer"], s.issuer)
        self.assertTrue(meta["token_endpoint"].startswith("https://"))
        conn.close()
        # Plain HTTP to the HTTPS port gets no HTTP answer.
        with self.assertRaises((http.client.HTTPException, OSError)):
            s.request("GET", "/healthz", timeout=5)

    def test_key_readable_by_others_is_refused(self):
        os.chmod(self.key, 0o644)
        err = self.refused("--tls-cert", self.cert, "--tls-key", self.key)
        self.assertIn("tls_key", err)
        # Not "chmod 600": on the packaged layout (root:latchkey 0640)
        # that would leave latchkeyd unable to read its key (issue 17).
        self.assertIn(f"run: chmod o-rwx '{self.key}'", err)
        self.assertNotIn("chmod 600", err)

    def test_key_readable_by_its_group_serves(self):
        """The documented layout, root:latchkey 0640: the group may read
        it (here the group is the test's own)."""
        os.chmod(self.key, 0o640)
        s = self.start("--tls-cert", self.cert, "--tls-key", self.key)
        self.assertEqual(self.handshake(s.port, ssl.TLSVersion.TLSv1_2),
                         "TLSv1.2")

    def handshake(self, port, version):
        """The TLS version a client limited to version ends up with, or
        None when the server refuses it. The client allows every cipher
        (SECLEVEL 0): only the server may say no."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_ciphers("ALL:@SECLEVEL=0")
        ctx.minimum_version = ctx.maximum_version = version
        try:
            with socket.create_connection(("127.0.0.1", port),
                                          timeout=10) as sock:
                with ctx.wrap_socket(sock) as t:
                    return t.version()
        except (ssl.SSLError, ConnectionError):
            return None

    def test_tls_versions(self):
        """TLS 1.0 and 1.1 are refused by default (RFC 8996), even when
        tls_ciphers names them; tls_min_version=1.3 refuses 1.2 too."""
        import warnings
        warnings.simplefilter("ignore", DeprecationWarning)
        V = ssl.TLSVersion
        cases = [
            ((), {V.TLSv1: None, V.TLSv1_1: None, V.TLSv1_2: "TLSv1.2",
                  V.TLSv1_3: "TLSv1.3"}),
            (("--tls-ciphers", "NORMAL:+VERS-TLS1.1:+VERS-TLS1.0"),
             {V.TLSv1: None, V.TLSv1_1: None, V.TLSv1_2: "TLSv1.2"}),
            (("--tls-min-version", "1.3"),
             {V.TLSv1_1: None, V.TLSv1_2: None, V.TLSv1_3: "TLSv1.3"}),
            # A cipher list of the operator's narrows what is served.
            (("--tls-ciphers", "NONE:+VERS-ALL:+ECDHE-ECDSA:+AES-128-GCM:"
              "+AEAD:+SIGN-ALL:+GROUP-ALL:+COMP-NULL:+CTYPE-X509"),
             {V.TLSv1_2: "TLSv1.2", V.TLSv1_3: "TLSv1.3"}),
        ]
        for args, want in cases:
            s = self.start("--tls-cert", self.cert, "--tls-key", self.key,
                           *args)
            for version, expect in want.items():
                with self.subTest(args=args, version=version.name):
                    self.assertEqual(self.handshake(s.port, version), expect)
            s.stop()

    def test_bad_tls_settings_are_refused(self):
        err = self.refused("--tls-cert", self.cert, "--tls-key", self.key,
                           "--tls-ciphers", "NORMAL:+NO-SUCH-THING")
        self.assertIn("setting 'tls_ciphers': GnuTLS refuses "
                      "'NORMAL:+NO-SUCH-THING' at '+NO-SUCH-THING'", err)
        # Checked without TLS too, so a typo shows before HTTPS is on.
        err = self.refused("--tls-ciphers", "BOGUS")
        self.assertIn("setting 'tls_ciphers'", err)
        for bad in ("1.1", "1.0", "tls1.2"):
            err = self.refused("--tls-min-version", bad)
            self.assertIn("tls_min_version", err)

    def test_cert_without_key_is_refused(self):
        err = self.refused("--tls-cert", self.cert)
        self.assertIn("both tls_cert and tls_key", err)

    def test_wrong_key_is_refused(self):
        other = os.path.join(self.dir, "other.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", other],
                       check=True, capture_output=True)
        os.chmod(other, 0o600)
        err = self.refused("--tls-cert", self.cert, "--tls-key", other)
        self.assertIn("cannot start the HTTP server", err)


class FilePermissionsTest(LatchkeyTestCase):
    def test_database_created_private(self):
        s = self.start()
        s.stop()
        self.assertEqual(os.stat(self.db).st_mode & 0o777, 0o600)

    def test_world_readable_database_is_refused(self):
        self.start().stop()
        os.chmod(self.db, 0o644)
        p = subprocess.run([LATCHKEYD, "--listen", "127.0.0.1:0", "--db",
                            self.db], capture_output=True, text=True,
                           timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("readable or writable by every user (mode 0644)",
                      p.stderr)
        self.assertIn(f"chmod 600 '{self.db}'", p.stderr)
        os.chmod(self.db, 0o600)
        self.start()  # and with the fix it starts
