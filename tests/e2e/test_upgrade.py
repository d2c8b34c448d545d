"""Upgrades that cannot surprise (issue 17, section 4): only `latchkey
migrate` and latchkeyd at start (unless auto_migrate=false) change the
schema of a database; /healthz and /readyz say in the log why they answer
503, once per change. Real binaries, a real database of either backend."""
import subprocess
import time
import unittest

import lk_db
from lk_db import db_query
from lk_harness import (LATCHKEYD, LATEST_SCHEMA, LatchkeyTestCase, cli,
                        lk_version)


def schema(db):
    return db_query(db, "SELECT max(version) FROM schema_migrations")[0][0]


class CliRefusesOlderSchemaTest(LatchkeyTestCase):

    def setUp(self):
        super().setUp()
        cli(self.db, "migrate")
        cli(self.db, "client", "add", "svc", "--id", "svc")
        lk_db.revert_to_schema_7(self.db)

    def test_a_command_other_than_migrate_refuses_and_changes_nothing(self):
        before = lk_db.snapshot(self.db)
        for args in (("client", "list"), ("client", "show", "svc"),
                     ("key", "list"), ("token", "list", "--json"),
                     ("client", "add", "other")):
            p = cli(self.db, *args, check=False)
            self.assertEqual(p.returncode, 1, (args, p.stdout, p.stderr))
            self.assertEqual(p.stdout, "", args)
            self.assertIn(
                "database schema version 7 is older than this binary's "
                f"{LATEST_SCHEMA}: run latchkey migrate", p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1,
                             p.stderr)
        self.assertEqual(lk_db.snapshot(self.db), before)
        self.assertEqual(schema(self.db), 7)

    def test_latchkey_migrate_brings_it_forward_and_commands_work(self):
        p = cli(self.db, "migrate", "--json")
        self.assertIn('"applied": %d' % (LATEST_SCHEMA - 7), p.stdout)
        self.assertEqual(schema(self.db), LATEST_SCHEMA)
        p = cli(self.db, "client", "show", "svc", "--json")
        self.assertIn('"client_id": "svc"', p.stdout)


class NewDatabaseTest(LatchkeyTestCase):

    def test_any_command_still_creates_a_new_database(self):
        # Version 0: nothing can be using it, so there is nothing to
        # surprise; `client add` on a fresh path keeps working.
        cli(self.db, "client", "add", "svc", "--id", "svc")
        self.assertEqual(schema(self.db), LATEST_SCHEMA)


class AutoMigrateTest(LatchkeyTestCase):

    def run_latchkeyd(self, *args):
        return subprocess.run(
            [LATCHKEYD, "--listen", "127.0.0.1:0", "--db", self.db,
             "--db-startup-timeout", "0", *args],
            capture_output=True, text=True, timeout=60)

    def test_off_refuses_an_older_database_and_leaves_it(self):
        cli(self.db, "migrate")
        lk_db.revert_to_schema_7(self.db)
        p = self.run_latchkeyd("--auto-migrate", "false")
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(p.stdout, "")
        self.assertIn(f"schema version 7, this latchkeyd needs "
                      f"{LATEST_SCHEMA}, and auto_migrate is off: run "
                      "latchkey migrate", p.stderr)
        self.assertEqual(schema(self.db), 7)

    def test_off_refuses_a_new_database(self):
        p = self.run_latchkeyd("--auto-migrate", "false")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(f"schema version 0, this latchkeyd needs "
                      f"{LATEST_SCHEMA}, and auto_migrate is off",
                      p.stderr)

    def test_off_serves_a_current_database(self):
        cli(self.db, "migrate")
        s = self.start("--auto-migrate", "false")
        health = s.get_json("/healthz")
        self.assertCommit(health.pop("commit"))
        self.assertEqual(health,
                         {"status": "ok", "schema_version": LATEST_SCHEMA,
                          "version": lk_version()})

    def test_on_by_default_migrates_and_logs_it(self):
        cli(self.db, "migrate")
        lk_db.revert_to_schema_7(self.db)
        s = self.start()
        self.assertEqual(s.get_json("/healthz")["schema_version"],
                         LATEST_SCHEMA)
        self.assertIn(f"applied {LATEST_SCHEMA - 7} migration(s), schema "
                      f"version {LATEST_SCHEMA}", s.log_text())


class HealthLogTest(LatchkeyTestCase):
    """A 503 of /healthz or /readyz is explained in the log once per
    change of state, not once per probe."""

    def probe(self, s, status):
        for path in ("/healthz", "/readyz", "/healthz"):
            r = s.request("GET", path)
            self.assertEqual(r.status, status, (path, r.body))
            if status == 503:
                self.assertEqual(r.json()["error"],
                                 "temporarily_unavailable")
                self.assertIn("retry-after", r.headers)

    def wait_log(self, s, text, count):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if s.log_text().count(text) >= count:
                break
            time.sleep(0.05)
        self.assertEqual(s.log_text().count(text), count, s.log_text())

    def test_older_newer_and_back(self):
        s = self.start()
        self.probe(s, 200)
        row = db_query(self.db, "SELECT * FROM schema_migrations WHERE "
                       "version = %d" % LATEST_SCHEMA)[0]
        # An old backup restored under the running server.
        db_query(self.db, "DELETE FROM schema_migrations WHERE version = "
                 "%d" % LATEST_SCHEMA)
        self.probe(s, 503)
        self.wait_log(s, f"health: /healthz and /readyz answer 503: the "
                      f"database's schema version {LATEST_SCHEMA - 1} is "
                      f"older than this binary's {LATEST_SCHEMA}", 1)
        # Back as it was.
        marks = ", ".join("?" for _ in row)
        db_query(self.db, f"INSERT INTO schema_migrations VALUES ({marks})",
                 row)
        self.probe(s, 200)
        self.wait_log(s, "health: the database answers again at schema "
                      f"version {LATEST_SCHEMA}", 1)
        self.probe(s, 200)
        # A newer latchkey migrated it.
        newer = (LATEST_SCHEMA + 1,) + tuple(row[1:])
        db_query(self.db, f"INSERT INTO schema_migrations VALUES ({marks})",
                 newer)
        self.probe(s, 503)
        self.probe(s, 503)
        self.wait_log(s, f"the database's schema version "
                      f"{LATEST_SCHEMA + 1} is newer than this binary's "
                      f"{LATEST_SCHEMA}", 1)
        self.wait_log(s, "health: /healthz and /readyz answer 503", 2)
        db_query(self.db, "DELETE FROM schema_migrations WHERE version = "
                 "%d" % (LATEST_SCHEMA + 1))
        self.probe(s, 200)
        self.wait_log(s, "health: the database answers again", 2)


if __name__ == "__main__":
    unittest.main()
