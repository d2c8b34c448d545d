"""The PostgreSQL backend end to end: `latchkey --db postgresql://...`
migrates and manages clients, latchkeyd serves tokens from the same
database, backup names pg_dump, and a password in the URI is never printed
or logged. Needs LK_TEST_PG, a URI of a PostgreSQL server on which the
test may create databases (e.g. postgresql:///postgres?host=/tmp/pg.X&
port=55432&user=postgres); each test makes its own and drops it.
"""
import json
import os
import subprocess
import time
import unittest
import urllib.parse

from lk_harness import (LATEST_SCHEMA, LatchkeyTestCase, cli, skip_or_fail,
                        Server)

PG = os.environ.get("LK_TEST_PG", "")
PASSWORD = "s3cret-never-shown"


def psql(uri, sql):
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", uri,
                    "-c", sql], check=True, capture_output=True, timeout=60)


def uri_for(dbname, password=None):
    """LK_TEST_PG with its database replaced (and a password added)."""
    u = urllib.parse.urlsplit(PG)
    q = urllib.parse.parse_qsl(u.query)
    if password is not None:
        q.append(("password", password))
    return (f"{u.scheme}://{u.netloc}/{dbname}?" +
            urllib.parse.urlencode(q))


class PostgresTest(LatchkeyTestCase):
    def setUp(self):
        if not PG:
            skip_or_fail(self, "LK_TEST_PG unset: no PostgreSQL server")
        super().setUp()
        self.dbname = f"lk_e2e_{os.getpid()}_{time.time_ns() % 10**9}"
        psql(PG, f"CREATE DATABASE {self.dbname}")
        # The server trusts the test's socket, so the password is never
        # checked: it is here to be kept out of every message.
        self.db = uri_for(self.dbname, PASSWORD)

    def tearDown(self):
        super().tearDown()
        psql(PG, f"DROP DATABASE IF EXISTS {self.dbname} WITH (FORCE)")

    def assertNoPassword(self, *texts):
        for t in texts:
            self.assertNotIn(PASSWORD, t)

    def test_migrate_clients_and_tokens(self):
        p = cli(self.db, "migrate")
        self.assertIn(f"applied {LATEST_SCHEMA} migration(s)", p.stdout)
        p2 = cli(self.db, "migrate", "--json")
        self.assertEqual(json.loads(p2.stdout)["applied"], 0)
        c = json.loads(cli(self.db, "client", "add", "svc", "--json",
                           "--grant", "client_credentials",
                           "--scope", "read").stdout)
        listed = json.loads(cli(self.db, "client", "list", "--json").stdout)
        self.assertEqual([x["client_id"] for x in listed], [c["client_id"]])

        s = self.start()
        self.assertEqual(s.ready["issuer"][:7], "http://")
        r = s.token({"grant_type": "client_credentials"},
                    auth=(c["client_id"], c["client_secret"]))
        self.assertEqual(r.status, 200, r.body)
        tok = r.json()["access_token"]
        info = s.introspect(tok, (c["client_id"], c["client_secret"]))
        self.assertTrue(info["active"])
        self.assertEqual(info["scope"], "read")
        # The CLI sees what the server wrote.
        toks = json.loads(cli(self.db, "token", "list", "--json").stdout)
        self.assertEqual(len(toks), 1)
        log = s.log_text()
        self.assertIn("PostgreSQL", log)
        self.assertIn("password=***", log)
        self.assertNoPassword(log, p.stdout, p.stderr)

    def test_backup_names_pg_dump(self):
        cli(self.db, "migrate")
        p = cli(self.db, "backup", os.path.join(self.dir, "b.db"),
                check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("pg_dump", p.stderr)
        self.assertNoPassword(p.stdout, p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "b.db")))

    def test_unreachable_server(self):
        bad = f"postgresql://u:{PASSWORD}@127.0.0.1:1/x?connect_timeout=2"
        p = cli(bad, "client", "list", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot connect", p.stderr)
        self.assertNoPassword(p.stdout, p.stderr)
        # Without --db-startup-timeout 0 it would wait for the server
        # (test_pg_resilience.StartupTest).
        with self.assertRaises(AssertionError) as e:
            Server(self.dir, bad, "--db-startup-timeout", "0")
        self.assertIn("u:***@", str(e.exception))
        self.assertNoPassword(str(e.exception))


if __name__ == "__main__":
    unittest.main()
