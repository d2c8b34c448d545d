"""GET /metrics: Prometheus text counters that follow what the real
latchkeyd did, with no secret or token in them."""
import os
import re
import subprocess
import time

import lk_db
from lk_harness import LatchkeyTestCase, add_client, cli, lk_version


def parse(text):
    """{'name{labels}': value} from the exposition format; checks that
    every sample line has the shape Prometheus accepts."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = re.fullmatch(r'([a-z_]+(?:\{[^}]*\})?) (\d+(?:\.\d+)?)', line)
        if m is None:
            raise AssertionError(f"not a sample line: {line!r}")
        out[m.group(1)] = float(m.group(2))
    return out


class MetricsTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        self.svc = add_client(self.db, "svc", "--scope", "read")
        self.app = add_client(self.db, "app", "--grant", "password",
                              "--grant", "refresh_token", "--scope", "read")
        cli(self.db, "user", "add", "dave", "--password-stdin",
            stdin="dave-password-1\n")

    def metrics(self, s):
        r = s.request("GET", "/metrics")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers["content-type"],
                         "text/plain; version=0.0.4; charset=utf-8")
        self.assertEqual(r.headers["cache-control"], "no-store")
        return r.body.decode(), parse(r.body.decode())

    def test_counts_follow_requests(self):
        s = self.start()
        svc = (self.svc["client_id"], self.svc["client_secret"])
        app = (self.app["client_id"], self.app["client_secret"])
        for _ in range(3):
            self.assertEqual(s.token({"grant_type": "client_credentials"},
                                     auth=svc).status, 200)
        self.assertEqual(s.token({"grant_type": "client_credentials"},
                                 auth=(svc[0], "wrong")).status, 401)
        t0 = s.token({"grant_type": "password", "username": "dave",
                      "password": "dave-password-1"}, auth=app).json()
        t1 = s.token({"grant_type": "refresh_token",
                      "refresh_token": t0["refresh_token"]}, auth=app)
        self.assertEqual(t1.status, 200, t1.body)
        reuse = s.token({"grant_type": "refresh_token",
                         "refresh_token": t0["refresh_token"]}, auth=app)
        self.assertEqual(reuse.status, 400)
        self.assertEqual(s.request("GET", "/nowhere").status, 404)

        # A request is counted when its connection reports it done, which
        # may come just after the client has read the response.
        # Every request above is waited for, the 404 included (under
        # valgrind on a busy machine it was once still uncounted).
        req = 'latchkey_http_requests_total{endpoint="token",status="%s"}'
        other = 'latchkey_http_requests_total{endpoint="other",status="404"}'
        deadline = time.monotonic() + 10
        while True:
            text, m = self.metrics(s)
            if (m.get(req % 200, 0) + m.get(req % 400, 0) +
                    m.get(req % 401, 0) + m.get(other, 0) >= 8 or
                    time.monotonic() > deadline):
                break
            time.sleep(0.05)
        self.assertEqual(m[req % 200], 5)
        self.assertEqual(m[req % 401], 1)
        self.assertEqual(m[req % 400], 1)
        self.assertEqual(m['latchkey_http_requests_total{endpoint="other",'
                           'status="404"}'], 1)
        tok = 'latchkey_tokens_issued_total{grant_type="%s"}'
        self.assertEqual(m[tok % "client_credentials"], 3)
        self.assertEqual(m[tok % "password"], 1)
        self.assertEqual(m[tok % "refresh_token"], 1)
        self.assertEqual(m["latchkey_refreshes_total"], 1)
        self.assertEqual(m["latchkey_refresh_reuse_detected_total"], 1)
        self.assertEqual(m["latchkey_database_errors_total"], 0)
        # The histogram is cumulative and its count matches the requests.
        h = 'latchkey_http_request_duration_seconds_%s{endpoint="token"%s}'
        self.assertEqual(m[h % ("count", "")], 7)
        self.assertEqual(m[h % ("bucket", ',le="+Inf"')], 7)
        les = [v for k, v in m.items()
               if k.startswith('latchkey_http_request_duration_seconds_'
                               'bucket{endpoint="token"')]
        self.assertEqual(les, sorted(les))
        self.assertGreater(m[h % ("sum", "")], 0)
        # Nothing secret: no secret, password, token or client name.
        for secret in (svc[1], app[1], "dave-password-1",
                       t0["access_token"], t0["refresh_token"],
                       t1.json()["refresh_token"], "svc", "dave"):
            self.assertNotIn(secret, text)

    def test_failed_logins_and_client_authentications(self):
        """The counters contrib/prometheus's alerts watch (issue 17)."""
        s = self.start()
        _, m = self.metrics(s)
        self.assertEqual((m["latchkey_login_failures_total"],
                          m["latchkey_client_auth_failures_total"]), (0, 0))
        for _ in range(2):
            r = s.token({"grant_type": "client_credentials"},
                        auth=(self.svc["client_id"], "wrong"))
            self.assertEqual(r.status, 401)
        r = s.token({"grant_type": "password", "username": "dave",
                     "password": "wrong"},
                    auth=(self.app["client_id"], self.app["client_secret"]))
        self.assertEqual(r.status, 400)
        _, m = self.metrics(s)
        self.assertEqual((m["latchkey_login_failures_total"],
                          m["latchkey_client_auth_failures_total"]), (1, 2))
        self.assertNotIn("latchkey_tls_certificate_expiry_timestamp_seconds",
                         m)

    def test_build_info(self):
        """The running version, as CMake's project() names it, in the
        Prometheus convention: a constant 1 labelled with it."""
        s = self.start()
        text, m = self.metrics(s)
        health = s.get_json("/healthz")
        commit = health["commit"]
        self.assertCommit(commit)
        self.assertEqual(m['latchkey_build_info{version="%s",commit="%s"}'
                           % (lk_version(), commit)], 1)
        self.assertIn("# TYPE latchkey_build_info gauge\n", text)
        self.assertEqual(health["version"], lk_version())
        for prog, name in (("LATCHKEY", "latchkey"), ("LATCHKEYD",
                                                       "latchkeyd")):
            out = subprocess.run([os.environ[prog], "--version"],
                                 capture_output=True, text=True, check=True)
            self.assertTrue(out.stdout.startswith(
                "%s %s\ncommit %s\nbuilt with:\n"
                % (name, lk_version(), commit)), out.stdout)
        for lib in ("libmicrohttpd", "GnuTLS", "jansson", "SQLite", "libpq",
                    "OpenSSL", "libargon2", "libinih"):
            self.assertRegex(out.stdout, r"\n  %s +\S" % lib)

    def test_metrics_path_setting(self):
        s = self.start("--metrics-path", "/internal/metrics")
        self.assertEqual(s.request("GET", "/metrics").status, 404)
        r = s.request("GET", "/internal/metrics")
        self.assertEqual(r.status, 200)
        parse(r.body.decode())
        self.assertEqual(s.request("POST", "/internal/metrics",
                                   b"").status, 405)

    def test_db_round_trips(self):
        """latchkey_db_round_trips_total counts what docs/endpoints.md
        says a grant costs on PostgreSQL: 1 round trip per
        client_credentials grant (the issue's batch) and 3 per refresh
        (also the refresh token's row and its user's), once the token
        endpoint keeps the client's record (grants/client_cache.c) and
        its clean throttle read (grants/throttle_store.c), each for up to
        1 s; none on SQLite."""
        s = self.start()
        svc = (self.svc["client_id"], self.svc["client_secret"])
        app = (self.app["client_id"], self.app["client_secret"])
        name = "latchkey_db_round_trips_total"
        rt = s.token({"grant_type": "password", "username": "dave",
                      "password": "dave-password-1"},
                     auth=app).json()["refresh_token"]

        def refresh():
            nonlocal rt
            r = s.token({"grant_type": "refresh_token",
                         "refresh_token": rt}, auth=app)
            self.assertEqual(r.status, 200, r.body)
            rt = r.json()["refresh_token"]

        def cc():
            self.assertEqual(s.token({"grant_type": "client_credentials"},
                                     auth=svc).status, 200)

        # Warm up: the first use of a statement on a connection prepares
        # it (one more round trip), and the signer reads its key.
        for _ in range(3):
            cc()
            refresh()
        n = 20
        for grant, per in ((cc, 1), (refresh, 3)):
            t0 = time.monotonic()
            before = self.metrics(s)[1][name]
            for _ in range(n):
                grant()
            after = self.metrics(s)[1][name]
            if not lk_db.POSTGRESQL:
                self.assertEqual(after, 0)
                continue
            extra = after - before - per * n
            # The signer re-reads the current key id at most every 2 s
            # (grants/signer.c), the client's record and its throttle
            # read are read again once a second, and a connection may be
            # replaced: a few more, never fewer.
            self.assertGreaterEqual(extra, 0, grant.__name__)
            self.assertLessEqual(extra, 2 + 3 * (time.monotonic() - t0),
                                 grant.__name__)
