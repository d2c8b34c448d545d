"""The PostgreSQL test infrastructure on its own, before any latchkeyd runs
on it: the cluster of the ctest fixture `pg` (tests/pg/cluster.py, URI in
LK_TEST_PG), the per-test clones of its template, lk_db's queries with
bound values, and a private cluster that a test can restart.
"""
import os
import shutil
import tempfile
import unittest

import lk_db
from lk_harness import private_cluster, skip_or_fail


class FixtureClusterTest(unittest.TestCase):
    def setUp(self):
        self.template = os.environ.get("LK_TEST_PG")
        if not self.template:
            skip_or_fail(self, "no PostgreSQL cluster (LK_TEST_PG unset: "
                               "the ctest fixture pg)")

    def test_the_template_uri_names_a_unix_socket_cluster(self):
        self.assertTrue(self.template.startswith("postgresql:///lk_template?"))
        self.assertIn("user=postgres", self.template)
        admin = self.template.replace("/lk_template?", "/postgres?")
        settings = lk_db.db_query(admin, "SELECT current_setting('fsync'), "
                                  "current_setting('listen_addresses'), "
                                  "current_setting('synchronous_commit'), "
                                  "current_setting('full_page_writes')")
        self.assertEqual(settings, [("off", "", "off", "off")])
        self.assertEqual(lk_db.db_query(
            admin, "SELECT datname FROM pg_database WHERE datname = ?",
            ("lk_template",)), [("lk_template",)])

    def test_each_clone_is_a_database_of_its_own(self):
        a = lk_db.clone(self.template)
        b = lk_db.clone(self.template)
        self.addCleanup(lk_db.drop, b)
        self.assertNotEqual(a, b)
        name = a.split("///")[1].split("?")[0]
        self.assertRegex(name, r"^lk_[0-9a-f]{16}$")
        self.assertEqual(lk_db.db_query(a, "SELECT current_database()"),
                         [(name,)])
        lk_db.db_query(a, "CREATE TABLE t (id integer, v text)")
        self.assertEqual(lk_db.tables(a), ["t"])
        self.assertEqual(lk_db.tables(b), [])
        # A clone from now on is what the template is: still empty.
        c = lk_db.clone(self.template)
        self.addCleanup(lk_db.drop, c)
        self.assertEqual(lk_db.tables(c), [])
        lk_db.drop(a)
        admin = self.template.replace("/lk_template?", "/postgres?")
        self.assertEqual(lk_db.db_query(
            admin, "SELECT count(*) FROM pg_database WHERE datname = ?",
            (name,)), [(0,)])

    def test_values_are_bound_not_pasted(self):
        db = lk_db.clone(self.template)
        self.addCleanup(lk_db.drop, db)
        lk_db.db_query(db, "CREATE TABLE t (id bigint, v text)")
        hostile = "x'); DROP TABLE t; --"
        conn = lk_db.connect(db)
        conn.executemany("INSERT INTO t VALUES (?, ?)",
                         [(1, hostile), (2, None), (3, "a ? b :'p1'")])
        conn.commit()
        self.assertEqual(lk_db.db_query(db, "SELECT id, v FROM t ORDER BY id"),
                         [(1, hostile), (2, None), (3, "a ? b :'p1'")])
        self.assertEqual(conn.execute("SELECT count(*), max(id) FROM t "
                                      "WHERE v = ? OR id = ?",
                                      (hostile, 3)).fetchone(), (2, 3))
        self.assertEqual(lk_db.snapshot(db), {"t": sorted(
            [(1, hostile), (2, None), (3, "a ? b :'p1'")], key=repr)})

    def test_new_database_follows_lk_backend(self):
        old = lk_db.POSTGRESQL
        self.addCleanup(setattr, lk_db, "POSTGRESQL", old)
        lk_db.POSTGRESQL = False
        self.assertEqual(lk_db.new_database(self, "/x/latchkey.db"),
                         "/x/latchkey.db")
        lk_db.POSTGRESQL = True
        db = lk_db.new_database(self, "/x/latchkey.db")
        self.assertTrue(lk_db.is_pg(db))
        self.assertEqual(lk_db.tables(db), [])


class PrivateClusterTest(unittest.TestCase):
    """A cluster of the test's own survives a restart with its data, and
    is gone (nothing answers) once stopped."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="lk-e2e-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def test_restart_keeps_the_data(self):
        c = private_cluster(self)
        lk_db.db_query(c.uri, "CREATE TABLE t (id integer)")
        lk_db.db_query(c.uri, "INSERT INTO t VALUES (?)", (7,))
        c.restart()
        self.assertEqual(lk_db.db_query(c.uri, "SELECT id FROM t"), [(7,)])
        c.stop()
        with self.assertRaises(RuntimeError):
            lk_db.db_query(c.uri, "SELECT 1")
        c.start()
        self.assertEqual(lk_db.db_query(c.uri, "SELECT id FROM t"), [(7,)])
        c.remove()
        self.assertFalse(os.path.exists(c.dir))


if __name__ == "__main__":
    unittest.main()
