"""One latchkeyd losing its PostgreSQL (issue 13, "Losing the database"),
each test on a private cluster of its own (lk_harness.private_cluster),
since stopping the ctest fixture's cluster would fail the tests sharing
it:

- PostgreSQL restarted under a load of client_credentials, refresh and
  introspection: 503 temporarily_unavailable with Retry-After while it is
  down, /healthz and /readyz 503, recovery without a restart, nothing
  answered 200 lost (lk_outage.py; test_multi_instance.py does the same
  with three instances);
- start-up while PostgreSQL is down: latchkeyd waits for it (one log line
  per attempt, db_startup_timeout), gives up with a clear message,
  stops waiting on SIGTERM, and fails at once on what waiting cannot fix
  (a wrong password, a database that does not exist); the CLI fails at
  once.

PostgreSQL only, and run in the ASan build too (not skipped under the
sanitizers), so the reconnection paths run with leak checking: every
server must exit 0 at the end (lk_harness.LatchkeyTestCase).
"""
import os
import signal
import subprocess
import threading
import time

import lk_db
import lk_outage
from lk_harness import (LATCHKEYD, READY_TIMEOUT, LatchkeyTestCase, Server,
                        add_client, cli, private_cluster)

PASSWORD = "Pw-never-shown-7d1f"


def with_password(uri, user="postgres", password=PASSWORD):
    """uri (postgresql:///DB?...) with user:password@ in it."""
    return uri.replace("postgresql://", f"postgresql://{user}:{password}@",
                       1)


class PostgresTestCase(LatchkeyTestCase):
    def setUp(self):
        if not lk_db.POSTGRESQL:
            self.skipTest("PostgreSQL only (LK_BACKEND=postgresql): "
                          "SQLite has no server to lose")
        super().setUp()
        self.cluster = private_cluster(self)
        self.db = self.cluster.uri
        svc = add_client(self.db, "svc", "--grant", "client_credentials",
                         "--scope", "read")
        app = add_client(self.db, "app", "--grant", "password", "--grant",
                         "refresh_token", "--scope", "read")
        api = add_client(self.db, "api")
        self.svc = (svc["client_id"], svc["client_secret"])
        self.app = (app["client_id"], app["client_secret"])
        self.api = (api["client_id"], api["client_secret"])
        cli(self.db, "user", "add", "dave", "--password-stdin",
            stdin="dave-password-1\n")

    def assertNoPassword(self, *texts):
        for t in texts:
            self.assertNotIn(PASSWORD, t)

    def run_latchkeyd(self, db, *args, timeout=30):
        """latchkeyd expected to exit by itself: (status, stderr, secs)."""
        t0 = time.monotonic()
        p = subprocess.run([LATCHKEYD, "--listen", "127.0.0.1:0", "--db",
                            db, *args], capture_output=True, text=True,
                           timeout=timeout)
        return p.returncode, p.stderr, time.monotonic() - t0


class RestartTest(PostgresTestCase):
    def test_restart_under_load(self):
        s = self.start("--threads", "8")
        recovered, answers, tokens, in_doubt = lk_outage.restart_under_load(
            self, [s], self.cluster, self.svc, self.app, self.api)
        print(f"\none instance: {answers} answers, {tokens} tokens, "
              f"{in_doubt} in-doubt refresh(es), serving again "
              f"{recovered[0]:.2f} s after PostgreSQL's start")
        log = s.log_text()
        # Logged once when it went and once when it came back, not per
        # request.
        self.assertIn("database unavailable:", log)
        self.assertIn("database answers again", log)


class StartupTest(PostgresTestCase):
    def test_waits_for_the_database_then_serves(self):
        self.cluster.stop()
        db = with_password(self.db)
        starter = threading.Timer(2.0, self.cluster.start)
        starter.start()
        self.addCleanup(starter.cancel)
        t0 = time.monotonic()
        s = Server(self.dir, db)
        self.servers.append(s)
        waited = time.monotonic() - t0
        self.assertGreater(waited, 2.0)
        r = s.token({"grant_type": "client_credentials"}, auth=self.svc)
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(s.introspect(r.json()["access_token"],
                                     self.api)["active"])
        log = s.log_text()
        tries = [ln for ln in log.splitlines()
                 if " unavailable: " in ln and "; retrying in " in ln]
        self.assertGreaterEqual(len(tries), 1, log)
        self.assertIn("postgresql://postgres:***@/", tries[0])
        self.assertRegex(tries[0], r"retrying in [1-5] s$")
        self.assertNoPassword(log)

    def test_gives_up_after_db_startup_timeout(self):
        self.cluster.stop()
        rc, err, secs = self.run_latchkeyd(with_password(self.db),
                                           "--db-startup-timeout", "2")
        self.assertNotEqual(rc, 0)
        self.assertIn("still unavailable after 2 s (db_startup_timeout)",
                      err)
        self.assertGreaterEqual(err.count("; retrying in "), 2, err)
        # 2 s, and the attempts' own time (a missing socket fails at once).
        self.assertGreaterEqual(secs, 2.0)
        self.assertLess(secs, 2.0 + READY_TIMEOUT)
        self.assertNoPassword(err)
        # The same from the environment; 0: no waiting at all.
        p = subprocess.run([LATCHKEYD, "--listen", "127.0.0.1:0", "--db",
                            self.db], capture_output=True, text=True,
                           timeout=30,
                           env=dict(os.environ,
                                    LATCHKEY_DB_STARTUP_TIMEOUT="0"))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot connect to PostgreSQL", p.stderr)
        self.assertNotIn("retrying", p.stderr)

    def test_a_host_name_is_not_read_as_the_reason(self):
        """A name the server cannot be found by yet (DNS, or a container
        not started) is worth waiting for, whatever words the name holds:
        only the message's own words tell a permanent failure."""
        rc, err, secs = self.run_latchkeyd(
            "postgresql://u@invalid-permission-denied.invalid:5432/x",
            "--db-startup-timeout", "1")
        self.assertNotEqual(rc, 0)
        self.assertIn("; retrying in ", err)
        self.assertIn("still unavailable after 1 s", err)

    def test_sigterm_ends_the_wait(self):
        self.cluster.stop()
        log = os.path.join(self.dir, "wait.log")
        with open(log, "wb") as f:
            p = subprocess.Popen([LATCHKEYD, "--listen", "127.0.0.1:0",
                                  "--db", self.db], stdout=subprocess.PIPE,
                                 stderr=f)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        deadline = time.monotonic() + READY_TIMEOUT
        while "retrying in" not in open(log).read():
            self.assertLess(time.monotonic(), deadline, "no retry logged")
            time.sleep(0.05)
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=10)
        p.stdout.close()
        self.assertLess(time.monotonic() - t0, 2.0)
        self.assertEqual(rc, 0, open(log).read())
        self.assertIn("shutting down while waiting for the database",
                      open(log).read())

    def test_what_waiting_cannot_fix_fails_at_once(self):
        # A role with a password, checked by SCRAM (the cluster trusts
        # everybody else).
        lk_db.db_query(self.db, "CREATE ROLE lk_pw LOGIN PASSWORD "
                       "'the-right-password'")
        lk_db.db_query(self.db, "GRANT ALL ON ALL TABLES IN SCHEMA public "
                       "TO lk_pw")
        hba = os.path.join(self.cluster.dir, "data", "pg_hba.conf")
        with open(hba) as f:
            rules = f.read()
        with open(hba, "w") as f:
            f.write("local all lk_pw scram-sha-256\n" + rules)
        lk_db.db_query(self.db, "SELECT pg_reload_conf()")
        wrong = with_password(self.db, "lk_pw", PASSWORD).replace(
            "&user=postgres", "")
        cases = [
            (wrong, "password authentication failed"),
            (with_password(self.db).replace(
                "/lk_", "/lk_missing_", 1), "does not exist"),
        ]
        for db, why in cases:
            rc, err, secs = self.run_latchkeyd(db)
            self.assertNotEqual(rc, 0)
            self.assertIn(why, err)
            self.assertNotIn("retrying", err)
            self.assertLess(secs, 5, err)  # not the default 60 s
            self.assertNoPassword(err)
        # The CLI never waits: a person is watching.
        self.cluster.stop()
        t0 = time.monotonic()
        p = cli(with_password(self.db), "client", "list", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot connect", p.stderr)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertNoPassword(p.stdout, p.stderr)


if __name__ == "__main__":
    import unittest
    unittest.main()
