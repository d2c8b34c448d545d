"""latchkey --config FILE: the admin CLI reads latchkeyd's INI file (the
same settings table) to find the service's database, an explicit --db
(or $LATCHKEY_DB) winning over the file (and keeping an exported
$LATCHKEY_CONFIG from being read at all); and its one-line warning when
run by a user other than the SQLite file's owner (a root-owned -wal file
would lock the service out), or, before the file exists, its directory's
owner; PostgreSQL URIs never get it."""
import os
import shutil
import tempfile
import unittest

import lk_db
from lk_harness import LatchkeyTestCase, skip_or_fail
from lk_cli_helpers import Cli, rows

WARNING = "warning: database '%s' belongs to "


class CliConfigTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="lk-cli-config-")
        self.addCleanup(shutil.rmtree, self.dir)
        self.db = lk_db.new_database(self, os.path.join(self.dir, "svc.db"))
        self.cli = Cli(self.db, self.dir)
        self.ini = self.write_ini("[latchkeyd]\ndb = %s\n"
                                  "db_connect_timeout = 7\n" % self.db)

    def write_ini(self, text, name="latchkey.ini"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def ids(self, db):
        return [r[0] for r in rows(db, "SELECT client_id FROM clients "
                                       "ORDER BY client_id")]

    def test_the_file_names_the_database(self):
        self.cli.ok("--config", self.ini, "client", "add", "one", "--id",
                    "one", use_db=False)
        self.assertEqual(self.ids(self.db), ["one"])
        # Nothing at the default ./latchkey.db of the working directory.
        self.assertFalse(os.path.exists(os.path.join(self.dir,
                                                     "latchkey.db")))
        out = self.cli.ok("--config=" + self.ini, "client", "list",
                          use_db=False)
        self.assertIn("one", out)

    def test_latchkey_config_variable(self):
        env = dict(self.cli.env, LATCHKEY_CONFIG=self.ini)
        self.cli.ok("client", "add", "two", "--id", "two", use_db=False,
                    env=env)
        self.assertEqual(self.ids(self.db), ["two"])

    def test_db_wins_over_the_file(self):
        other = os.path.join(self.dir, "other.db")
        p = self.cli.run("--config", self.ini, "--db", other, "client",
                         "add", "three", "--id", "three", use_db=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.ids(other), ["three"])
        self.assertFalse(lk_db.exists(self.db))
        # $LATCHKEY_DB too, as for latchkeyd, where the environment wins
        # over the file.
        env = dict(self.cli.env, LATCHKEY_DB=other)
        self.cli.ok("--config", self.ini, "client", "add", "four", "--id",
                    "four", use_db=False, env=env)
        self.assertEqual(self.ids(other), ["four", "three"])

    def test_latchkey_config_is_unread_when_the_database_is_named(self):
        # The package's file is 0640 root:latchkey, so for other users an
        # exported $LATCHKEY_CONFIG may be unreadable: with the database
        # named by --db or $LATCHKEY_DB it is not read at all. (The tests
        # run as root, who reads anything: a missing file and one
        # latchkeyd would refuse stand in for it.)
        other = os.path.join(self.dir, "other.db")
        bad = self.write_ini("no_such_setting = 1\n", "bad.ini")
        for cfg in (os.path.join(self.dir, "missing.ini"), bad):
            env = dict(self.cli.env, LATCHKEY_CONFIG=cfg)
            p = self.cli.run("client", "list", use_db=False, env=env)
            self.assertEqual(p.returncode, 2, (cfg, p.stderr))
            p = self.cli.run("client", "list", env=env)
            self.assertEqual(p.returncode, 0, (cfg, p.stderr))
            self.assertEqual(p.stderr, "")
            env["LATCHKEY_DB"] = other
            p = self.cli.run("client", "list", use_db=False, env=env)
            self.assertEqual(p.returncode, 0, (cfg, p.stderr))
            # An explicit --config is read whatever names the database.
            p = self.cli.run("--config", cfg, "client", "list", env=env)
            self.assertEqual(p.returncode, 2, (cfg, p.stderr))
        self.assertFalse(os.path.exists(os.path.join(self.dir,
                                                     "latchkey.db")))

    def test_a_file_latchkeyd_refuses_is_refused(self):
        cases = [
            (self.write_ini("db = x.db\nno_such_setting = 1\n", "a.ini"),
             "unknown setting 'no_such_setting'"),
            (self.write_ini("[elsewhere]\ndb = x.db\n", "b.ini"),
             "unknown section [elsewhere]"),
            (self.write_ini("db_connect_timeout = soon\n", "c.ini"),
             "setting 'db_connect_timeout'"),
            (os.path.join(self.dir, "missing.ini"), "cannot read"),
        ]
        for path, msg in cases:
            p = self.cli.run("--config", path, "client", "list",
                             use_db=False)
            self.assertEqual(p.returncode, 2, (path, p.stderr))
            self.assertIn(msg, p.stderr)
            self.assertEqual(p.stdout, "")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "x.db")))

    def test_copy_takes_no_config(self):
        p = self.cli.run("copy", "--from", self.db, "--to",
                         os.path.join(self.dir, "to.db"), "--config",
                         self.ini, use_db=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("'copy' takes no --db or --config", p.stderr)

    def test_help_names_it(self):
        out = self.cli.ok("--help", use_db=False)
        self.assertIn("--config FILE", out)


class OwnerWarningTest(LatchkeyTestCase):
    """SQLite only: the -wal and -shm files belong to whoever opens."""

    def test_other_users_database_warns_in_one_line(self):
        if os.geteuid() != 0:
            skip_or_fail(self, "needs root to give the database file "
                               "to another user")
        cli = Cli(self.db, self.dir)
        cli.ok("migrate")
        p = cli.run("client", "list")
        self.assertNotIn("belongs to", p.stderr)
        os.chown(self.db, 65534, 65534)  # nobody
        p = cli.run("client", "add", "x", "--id", "x")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = [l for l in p.stderr.splitlines() if "belongs to" in l]
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn(WARNING % self.db, lines[0])
        self.assertIn("run as nobody", lines[0])
        self.assertEqual([r[0] for r in rows(self.db, "SELECT client_id "
                                             "FROM clients")], ["x"])
        # Its owner again: quiet.
        os.chown(self.db, 0, 0)
        p = cli.run("client", "list")
        self.assertNotIn("belongs to", p.stderr)

    def test_new_database_in_another_users_directory_warns(self):
        # The likely slip: a first `sudo latchkey --config ... migrate`
        # before the service ever ran, making a root-owned database in
        # the service's /var/lib/latchkey.
        if os.geteuid() != 0:
            skip_or_fail(self, "needs root to give a directory to another "
                               "user")
        svc = os.path.join(self.dir, "svc")
        os.mkdir(svc, 0o700)
        os.chown(svc, 65534, 65534)  # nobody
        db = os.path.join(svc, "latchkey.db")
        p = Cli(db, self.dir).run("migrate")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = [l for l in p.stderr.splitlines() if "belongs to" in l]
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn("warning: database '%s' does not exist yet and its "
                      "directory belongs to nobody" % db, lines[0])
        self.assertIn("run as nobody", lines[0])
        # Made now, the file is the caller's: what it says about it is
        # the other test's case.
        p = Cli(db, self.dir).run("client", "list")
        self.assertNotIn("belongs to", p.stderr)
        # A directory of the caller's own, or a shared sticky one (/tmp),
        # is no reason to warn.
        for name, owner, mode in (("own", 0, 0o700),
                                  ("shared", 65534, 0o1777)):
            d = os.path.join(self.dir, name)
            os.mkdir(d)
            os.chmod(d, mode)
            os.chown(d, owner, owner)
            p = Cli(os.path.join(d, "latchkey.db"), self.dir).run("migrate")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertNotIn("belongs to", p.stderr)


if __name__ == "__main__":
    unittest.main()
