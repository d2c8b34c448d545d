"""SIGTERM with requests in flight: every request whose connection was made
before the signal gets its answer (200, and its tokens are on disk), a
connection attempted after the server has stopped accepting is refused,
the process exits 0 within a bound, and the database is closed cleanly
(SQLite: its WAL checkpointed and removed, PRAGMA integrity_check ok;
PostgreSQL: no connection left open). Idle
keep-alive connections and connections that never send a request do not
hold the stop up for long.

The slow requests are password grants: each verifies an Argon2id hash
(tens of milliseconds), on the worker thread that serves it.
"""
import http.client
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse

import lk_db
from lk_harness import (SANITIZED, LatchkeyTestCase, add_client, basic, cli)
from lk_load import integrity, introspect_all, jwt_claims, query

IN_FLIGHT = 12 if SANITIZED else 20
EXIT_BOUND = 30 if SANITIZED else 15  # seconds from SIGTERM to exit


class ShutdownTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        app = add_client(self.db, "app", "--grant", "password", "--grant",
                         "refresh_token")
        rs = add_client(self.db, "api")
        self.app = (app["client_id"], app["client_secret"])
        self.rs = (rs["client_id"], rs["client_secret"])
        cli(self.db, "user", "add", "dave", "--password-stdin",
            stdin="dave-password-1\n")

    def wait_log(self, s, text, timeout=EXIT_BOUND):
        """Waits until a line with text is in the server's log (lines other
        than access lines are written at once)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(s.log_path, "rb") as f:
                if text.encode() in f.read():
                    return
            time.sleep(0.005)
        self.fail(f"no {text!r} in the log:\n{s.log_text()}")

    def assert_closed_cleanly(self):
        """SQLite: the WAL checkpointed and removed, the file sound.
        PostgreSQL: every connection of the pool closed (the server may
        take a moment to see a closed socket: waited for, with a bound)."""
        if lk_db.is_pg(self.db):
            deadline = time.monotonic() + EXIT_BOUND
            while lk_db.connections(self.db) and \
                    time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(lk_db.connections(self.db), 0,
                             "connections were left open")
            return
        self.assertFalse(os.path.exists(self.db + "-wal"),
                         "the WAL was left behind")
        self.assertEqual(integrity(self.db), "ok")

    def test_sigterm_answers_requests_in_flight_and_refuses_new_ones(self):
        s = self.start()
        body = urllib.parse.urlencode({"grant_type": "password",
                                       "username": "dave",
                                       "password": "dave-password-1"})
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "Authorization": basic(*self.app)}
        sent = threading.Barrier(IN_FLIGHT + 1)
        results = [None] * IN_FLIGHT

        def one(i):
            c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
            try:
                c.request("POST", "/token", body=body, headers=headers)
                sent.wait(30)  # connected, and the request is on its way
                r = c.getresponse()
                results[i] = (r.status, r.read(), r.getheader("Connection"))
            except Exception as e:
                results[i] = e
                sent.abort()  # no SIGTERM: the test fails below
            finally:
                c.close()
        ts = [threading.Thread(target=one, args=(i,))
              for i in range(IN_FLIGHT)]
        for t in ts:
            t.start()
        sent.wait(30)
        # Most of these are still queued: the workers are busy hashing, and
        # connections wait in the listen backlog.
        t_sig = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        self.wait_log(s, "stopped accepting connections")
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", s.port), timeout=5)
        for t in ts:
            t.join(EXIT_BOUND)
        rc = s.proc.wait(EXIT_BOUND)
        exit_secs = time.monotonic() - t_sig
        self.assertEqual(rc, 0, s.log_text())

        tokens, closes = [], 0
        for res in results:
            self.assertIsInstance(res, tuple, f"a request was cut off: "
                                  f"{res!r}\n{s.log_text()}")
            status, data, conn = res
            self.assertEqual(status, 200, data)
            closes += conn == "close"
            tokens.append(jwt_claims(json.loads(data)["access_token"])["jti"])
        # Answers sent during the stop tell the client not to send another
        # request on that connection (the first few may have left before
        # the signal).
        self.assertGreater(closes, 0)
        self.assert_closed_cleanly()
        # Every answer given during the stop was committed first.
        recorded = {r[0] for r in query(self.db, "SELECT jti FROM "
                                        "access_tokens")}
        self.assertTrue(set(tokens) <= recorded)
        print(f"shutdown: {IN_FLIGHT} password grants in flight at SIGTERM, "
              f"all 200; exit 0 after {exit_secs:.2f} s", file=sys.stderr)

    def test_idle_and_silent_connections_do_not_hold_up_the_stop(self):
        s = self.start()
        # One keep-alive connection that had a request and is now idle...
        idle = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        idle.request("GET", "/healthz")
        idle.getresponse().read()
        # ...and one that connected and never sent anything.
        silent = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        time.sleep(0.2)  # accepted by now
        t0 = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        self.assertEqual(s.proc.wait(EXIT_BOUND), 0, s.log_text())
        # The silent one may take up to 1 s (drain.c, DRAIN_SILENT_MS).
        self.assertLess(time.monotonic() - t0, 5 if not SANITIZED else 10)
        idle.close()
        silent.close()
        self.assert_closed_cleanly()

    def test_tokens_issued_before_sigterm_survive_the_restart(self):
        s = self.start()
        r = s.token({"grant_type": "password", "username": "dave",
                     "password": "dave-password-1"}, auth=self.app)
        self.assertEqual(r.status, 200, r.body)
        t = r.json()
        if lk_db.is_pg(self.db):  # the count sees latchkeyd's pool
            self.assertGreater(lk_db.connections(self.db), 0)
        self.assertEqual(s.stop(), 0)
        self.assert_closed_cleanly()
        s2 = self.start()
        self.assertEqual(introspect_all(s2.port, [t["access_token"]],
                                        self.rs), {t["access_token"]: True})
        r = s2.token({"grant_type": "refresh_token",
                      "refresh_token": t["refresh_token"]}, auth=self.app)
        self.assertEqual(r.status, 200, r.body)
