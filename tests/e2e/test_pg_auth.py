"""Issue 13, section 1: a PostgreSQL password and TLS mode reach libpq the
ways libpq defines (in the URI, PGPASSWORD, PGPASSFILE; sslmode and
PGSSLMODE), against a cluster of the test's own that checks passwords
(scram-sha-256 for the role lk_pw, on its socket and on 127.0.0.1),
and no password is ever printed or logged. A wrong password is a clear
error at once. PostgreSQL only: it runs as e2e_pg_test_pg_auth."""
import os
import secrets
import socket
import subprocess
import tempfile
import unittest
import urllib.parse

import lk_db
from lk_harness import (LATCHKEY, LatchkeyTestCase, PrivateCluster, Server,
                        cli, skip_or_fail)

ROLE = "lk_pw"
PASSWORD = "pw-7Hq2-never-shown"


class PgAuthTest(LatchkeyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = None
        if not lk_db.POSTGRESQL:
            return
        try:
            lk_db.cluster.bindir()
        except RuntimeError:
            return  # setUp skips, or fails in CI
        # One cluster for the class (a few seconds to make), a database
        # per test.
        cls.pg = PrivateCluster(tempfile.mkdtemp(prefix="lk-pg-"))
        try:
            cls.listen_on_tcp()
        except BaseException:
            cls.pg.remove()
            raise

    @classmethod
    def listen_on_tcp(cls):
        # TCP on a port the system just gave out free (the cluster's
        # random one may be an ephemeral port in use); PostgreSQL names
        # its socket after the same number, so the URIs follow it.
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        admin = lk_db._with_dbname(cls.pg.template, "postgres")
        lk_db.cluster.psql(admin,
                           "CREATE ROLE %s LOGIN PASSWORD '%s';\n"
                           "ALTER SYSTEM SET listen_addresses = "
                           "'127.0.0.1';\n"
                           "ALTER SYSTEM SET port = %d;\n"
                           % (ROLE, PASSWORD, port))
        # The role's password is checked on the socket and over TCP; the
        # rest of the file (trust, for the harness) stays as it was.
        hba = os.path.join(cls.pg.dir, "data", "pg_hba.conf")
        with open(hba) as f:
            rest = f.read()
        with open(hba, "w") as f:
            f.write("local all %s scram-sha-256\n"
                    "host all all 127.0.0.1/32 scram-sha-256\n" % ROLE + rest)
        cls.pg.restart()
        q = dict(urllib.parse.parse_qsl(
            urllib.parse.urlsplit(cls.pg.template).query))
        cls.host, cls.port = q["host"], str(port)
        cls.admin = admin.replace("port=%s" % q["port"], "port=%d" % port)

    @classmethod
    def tearDownClass(cls):
        if cls.pg is not None:
            cls.pg.remove()

    def setUp(self):
        super().setUp()
        if not lk_db.POSTGRESQL:
            raise unittest.SkipTest("PostgreSQL only (LK_BACKEND="
                                    "postgresql): a cluster of its own")
        if self.pg is None:
            skip_or_fail(self, "no PostgreSQL server binaries")
        self.dbname = "lk_auth_" + secrets.token_hex(4)
        lk_db.cluster.psql(self.admin, "CREATE DATABASE %s OWNER %s;\n"
                           % (self.dbname, ROLE))

    def socket_uri(self, password=None):
        auth = ROLE + (":" + urllib.parse.quote(password) if password
                       else "")
        return "postgresql://%s@/%s?%s" % (auth, self.dbname, urllib.parse.urlencode(
            {"host": self.host, "port": self.port}, safe="/"))

    def tcp_uri(self, extra=""):
        return "postgresql://%s@127.0.0.1:%s/%s%s" % (ROLE, self.port,
                                                     self.dbname, extra)

    def assertNoPassword(self, *texts):
        for t in texts:
            self.assertNotIn(PASSWORD, t)
            self.assertNotIn(urllib.parse.quote(PASSWORD), t)

    def env_without_pg(self, **extra):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("PG")}
        env.update(extra)
        return env

    def run_cli(self, db, *args, env):
        return subprocess.run([LATCHKEY, "--db", db, *args], env=env,
                              capture_output=True, text=True, timeout=120)

    def test_the_password_in_the_uri(self):
        p = cli(self.socket_uri(PASSWORD), "migrate")
        self.assertIn("migration", p.stdout)
        self.assertNoPassword(p.stdout, p.stderr)
        s = self.start_on(self.socket_uri(PASSWORD), self.env_without_pg())
        self.assertIn(ROLE + ":***@", s.log_text())
        self.assertNoPassword(s.log_text())

    def test_pgpassword(self):
        env = self.env_without_pg(PGPASSWORD=PASSWORD)
        p = self.run_cli(self.socket_uri(), "migrate", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.run_cli(self.socket_uri(), "client", "add", "svc", "--grant",
                         "client_credentials", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNoPassword(p.stdout, p.stderr)
        s = self.start_on(self.socket_uri(), env)
        self.assertNoPassword(s.log_text())

    def test_pgpassfile(self):
        passfile = os.path.join(self.dir, "pgpass")
        fd = os.open(passfile, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("*:*:%s:%s:%s\n" % (self.dbname, ROLE, PASSWORD))
        env = self.env_without_pg(PGPASSFILE=passfile)
        p = self.run_cli(self.socket_uri(), "migrate", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        # Over TCP too: the file matches any host.
        p = self.run_cli(self.tcp_uri("?sslmode=disable"), "client", "list",
                         env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        s = self.start_on(self.tcp_uri(), env)
        r = s.request("GET", "/readyz")
        self.assertEqual(r.status, 200, r.body)

    def test_a_wrong_password_is_a_clear_error(self):
        for env in (self.env_without_pg(),
                    self.env_without_pg(PGPASSWORD="not-" + PASSWORD)):
            p = self.run_cli(self.socket_uri(), "client", "list", env=env)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("password", p.stderr)
            self.assertNoPassword(p.stdout, p.stderr)
        p = self.run_cli(self.socket_uri("wrong-" + PASSWORD), "client",
                         "list", env=self.env_without_pg())
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("password authentication failed", p.stderr)
        self.assertNotIn("wrong-", p.stderr)

    def test_sslmode_is_libpq_s(self):
        # The test's cluster has no TLS: a client that requires it must
        # refuse to go on, whether the URI or PGSSLMODE says so.
        env = self.env_without_pg(PGPASSWORD=PASSWORD)
        for db, e in ((self.tcp_uri("?sslmode=require"), env),
                      (self.tcp_uri(), dict(env, PGSSLMODE="require"))):
            p = self.run_cli(db, "client", "list", env=e)
            self.assertNotEqual(p.returncode, 0, p.stdout)
            self.assertIn("SSL", p.stderr)
        p = self.run_cli(self.tcp_uri(), "migrate",
                         env=dict(env, PGSSLMODE="disable"))
        self.assertEqual(p.returncode, 0, p.stderr)

    def start_on(self, db, env):
        s = Server(self.dir, db, env=env)
        self.servers.append(s)
        r = s.request("GET", "/healthz")
        self.assertEqual(r.status, 200, r.body)
        return s


if __name__ == "__main__":
    unittest.main()
