"""End-to-end tests of the `latchkey` admin CLI.

Each test runs the real binary ($LATCHKEY) against a fresh database in a
temporary directory and checks exit statuses, messages, output (text and
--json) and, through lk_db (either backend), what was stored: secrets only
as hashes, nothing changed by a refused command, the schema guard.
"""
import json
import os
import pty
import re
import shutil
import stat
import subprocess
import tempfile
import time
import unittest

import lk_db
from lk_harness import LATEST_SCHEMA
from lk_cli_helpers import (SANITIZER_MARKS, Cli, argon2_verifier,
                            assert_refused, connect, latchkey_path, rows,
                            snapshot, verify_fast_hash)

ID_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")      # 16 random bytes, base64url
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # 32 random bytes
USER_ID_RE = re.compile(r"^u_[A-Za-z0-9_-]{16}$")
ISO_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
PASSWORD = "correct horse battery"


class CliTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="lk-cli-")
        self.addCleanup(shutil.rmtree, self.dir)
        self.db = lk_db.new_database(self,
                                     os.path.join(self.dir, "test.db"))
        self.cli = Cli(self.db, self.dir)

    # -- helpers ------------------------------------------------------------

    def refused(self, args, status, message, input=None, use_db=True):
        """lk_cli_helpers.assert_refused against this test's database."""
        return assert_refused(self, self.cli, args, status, message,
                              input=input, use_db=use_db)

    def refused_by_add_and_update(self, cases):
        """Each (options, message) of cases is refused with status 2 by
        `client update app` and by `client add New --id new` alike."""
        for extra, msg in cases:
            with self.subTest(cmd="update", extra=extra):
                self.refused(["client", "update", "app"] + extra, 2, msg)
            with self.subTest(cmd="add", extra=extra):
                self.refused(["client", "add", "New", "--id", "new"] + extra,
                             2, msg)

    def client_row(self, client_id):
        r = rows(self.db, "SELECT name, secret_hash, is_public, grant_types, "
                 "scopes, redirect_uris, access_token_ttl, refresh_token_ttl "
                 "FROM clients WHERE client_id=?", (client_id,))
        self.assertEqual(len(r), 1, client_id)
        return r[0]

    def refresh_row(self, client_id):
        """(issue_refresh_token, on_refresh) as stored, each checked for
        its type (lk_db gives both backends' values as Python int, str or
        None), so 1 and '1' or NULL and '' cannot be confused."""
        r = rows(self.db, "SELECT issue_refresh_token, on_refresh "
                 "FROM clients WHERE client_id=?", (client_id,))
        self.assertEqual(len(r), 1, client_id)
        irt, policy = r[0]
        self.assertIn(type(irt), (int, type(None)), repr(irt))
        self.assertIn(type(policy), (str, type(None)), repr(policy))
        return irt, policy

    def add_user(self, name, password=PASSWORD):
        return self.cli.json("user", "add", name, "--password-stdin",
                             input=password + "\n")

    def add_key(self, alg=None):
        args = ["key", "rotate"] + (["--alg", alg] if alg else [])
        return self.cli.json(*args)["kid"]

    def add_token(self, jti, client_id, kid, iat, exp, revoked_at=None,
                  sub="sub", scope="read", family=None):
        with connect(self.db) as db:
            db.execute("INSERT INTO access_tokens (jti, client_id, subject, "
                       "scope, kid, issued_at, expires_at, revoked_at, "
                       "family_id) VALUES (?,?,?,?,?,?,?,?,?)",
                       (jti, client_id, sub, scope, kid, iat, exp,
                        revoked_at, family))
            db.commit()

    def add_refresh(self, token_hash, family, client_id, sub, iat, exp,
                    retired_at=None, revoked_at=None, username=None,
                    scope="read", access_jti=None):
        """A refresh-token record as the server writes it (the hash is
        whatever string the test names it by)."""
        with connect(self.db) as db:
            db.execute("INSERT INTO refresh_tokens (token_hash, family_id, "
                       "client_id, subject, username, scope, access_jti, "
                       "issued_at, expires_at, retired_at, revoked_at) "
                       "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                       (token_hash, family, client_id, sub, username, scope,
                        access_jti, iat, exp, retired_at, revoked_at))
            db.commit()

    def db_bytes(self):
        return lk_db.db_bytes(self.db)


class TestUsage(CliTest):
    def test_help(self):
        out = self.cli.ok("--help", use_db=False)
        self.assertTrue(out.startswith("usage: latchkey "))
        for cmd in ("migrate", "client add NAME", "client update ID",
                    "client rotate-secret ID", "user passwd USERNAME",
                    "token revoke JTI | --client ID | --family ID | "
                    "--user NAME", "consent list",
                    "consent revoke --user NAME [--client ID]",
                    "key rotate"):
            self.assertIn("  " + cmd, out)
        out = self.cli.ok("token", "list", "--help", use_db=False)
        for opt in ("--client ID", "--active", "--refresh", "--family ID",
                    "--user NAME"):
            self.assertIn("  " + opt + " ", out)
        out = self.cli.ok("token", "revoke", "--help", use_db=False)
        self.assertTrue(out.startswith(
            "usage: latchkey token revoke JTI | --client ID | --family ID | "
            "--user NAME "))
        for opt in ("--client ID", "--family ID", "--user NAME"):
            self.assertIn("  " + opt + " ", out)
        self.assertNotIn("--refresh", out)
        out = self.cli.ok("client", "add", "--help", use_db=False)
        self.assertTrue(out.startswith("usage: latchkey client add NAME "))
        refresh_opts = ("--on-refresh POLICY", "--issue-refresh-token",
                        "--no-issue-refresh-token",
                        "--default-issue-refresh-token")
        for opt in ("--id ID", "--secret SECRET", "--public", "--grant TYPE",
                    "--scope SCOPE", "--redirect-uri URI",
                    "--access-token-ttl SECONDS", "--refresh-token-ttl SECONDS",
                    "--db PATH", "--json") + refresh_opts:
            self.assertIn("  " + opt + " ", out)
        self.assertNotIn("--password-stdin", out)
        self.assertIn("  --auto-approve-as USERNAME ", out)
        self.assertIn("for test suites only", out)
        out = self.cli.ok("client", "update", "--help", use_db=False)
        for opt in ("--name NAME", "--auto-approve-as USERNAME") + \
                refresh_opts:
            self.assertIn("  " + opt + " ", out)
        self.assertNotIn("--public", out)
        out = self.cli.ok("user", "--help", use_db=False)
        self.assertIn("  user add USERNAME", out)
        self.assertNotIn("client add", out)
        # --help needs no database and creates none (on PostgreSQL: no
        # tables in the test's database).
        self.assertFalse(lk_db.exists(self.db))
        self.assertFalse(os.path.exists(os.path.join(self.dir,
                                                     "latchkey.db")))

    def test_version(self):
        out = self.cli.ok("--version", use_db=False)
        self.assertRegex(out, r"^latchkey \d+\.\d+\.\d+\ncommit \S+\n"
                              r"built with:\n")
        # The libraries it links, as built and (where they say) running.
        for lib in ("SQLite", "libpq", "OpenSSL", "jansson", "libargon2",
                    "libinih"):
            self.assertRegex(out, r"\n  %s +\S" % lib)
        self.assertRegex(out, r"\n  SQLite +3\.\d+\.\d+, running 3\.")

    def test_usage_errors(self):
        p = self.cli.run(use_db=False)
        self.assertEqual(p.returncode, 2)
        self.assertTrue(p.stderr.startswith("usage: latchkey"))
        self.assertEqual(p.stdout, "")
        cases = [
            (["frob"], "unknown command 'frob'"),
            (["client"], "'client' needs a command"),
            (["client", "frob"], "unknown command 'client frob'"),
            (["client", "list", "--bogus"], "unknown option '--bogus'"),
            (["client", "add", "x", "--pub"], "unknown option '--pub'"),
            (["client", "list", "-x"], "unknown option '-x'"),
            (["client", "list", "--json=1"], "option --json takes no value"),
            (["client", "show", "x", "--db"], "option --db needs a value"),
            (["client", "list", "--secret", "s"],
             "option --secret does not apply to 'client list'"),
            (["client", "add"], "'client add' needs NAME"),
            (["client", "show", "a", "b"],
             "unexpected argument 'b' for 'client show'"),
            (["client", "add", "x", "--id", "a", "--id", "b"],
             "option --id given more than once"),
        ]
        for args, msg in cases:
            with self.subTest(args=args):
                err = self.refused(args, 2, msg, use_db=False)
                self.assertRegex(err.splitlines()[1],
                                 r"^Try 'latchkey .*--help'\.$")
        # Nothing ran, so no database was created.
        self.assertEqual(os.listdir(self.dir), [])


class TestDatabase(CliTest):
    def test_migrate(self):
        self.assertEqual(self.cli.ok("migrate"),
                         f"applied {LATEST_SCHEMA} migration(s); schema "
                         f"version {LATEST_SCHEMA}\n")
        self.assertEqual(self.cli.json("migrate"),
                         {"applied": 0, "schema_version": LATEST_SCHEMA})
        self.assertEqual(stat.S_IMODE(os.stat(self.db).st_mode), 0o600)
        self.assertEqual(rows(self.db, "SELECT version FROM schema_migrations"),
                         [(v,) for v in range(1, LATEST_SCHEMA + 1)])

    def test_fresh_database_just_works_with_mode_0600(self):
        self.addCleanup(os.umask, os.umask(0o022))
        self.assertEqual(self.cli.json("client", "list"), [])
        self.assertEqual(stat.S_IMODE(os.stat(self.db).st_mode), 0o600)
        self.assertEqual(rows(self.db, "SELECT max(version) FROM "
                              "schema_migrations"), [(LATEST_SCHEMA,)])

    def test_world_readable_database_warns(self):
        # latchkeyd refuses such a file; the CLI still works on it (exit
        # 0, normal output) but says so on stderr, by the same rule.
        self.cli.ok("client", "add", "app", "--id", "app")
        p = self.cli.run("client", "list")
        self.assertEqual((p.returncode, p.stderr), (0, ""))
        listing = p.stdout
        os.chmod(self.db, 0o644)
        p = self.cli.run("client", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, listing)
        self.assertEqual(
            p.stderr, "latchkey: warning: database %s is readable or "
            "writable by every user (mode 0644): it holds the signing keys, "
            "and latchkeyd refuses to start on it; run: chmod 600 '%s'\n"
            % (self.db, self.db))
        self.assertIn("readable or writable by every user",
                      self.cli.run("migrate").stderr)
        os.chmod(self.db, 0o640)  # the group only: as the server, no warning
        self.assertEqual(self.cli.run("client", "list").stderr, "")

    def test_migrate_creates_private_files_under_any_umask(self):
        from lk_harness import Server
        self.addCleanup(os.umask, os.umask(0))
        new = os.path.join(self.dir, "new.db")
        p = self.cli.run("migrate", "--db", new, use_db=False)
        self.assertEqual((p.returncode, p.stderr), (0, ""))
        self.assertEqual(stat.S_IMODE(os.stat(new).st_mode), 0o600)
        # The -wal and -shm files live while a server (or a command) has
        # the database open; they hold the same secrets.
        s = Server(self.dir, new)
        try:
            self.cli.ok("client", "add", "app", "--id", "app", "--db", new,
                        use_db=False)
            for suffix in ("", "-wal", "-shm"):
                with self.subTest(file=suffix):
                    mode = stat.S_IMODE(os.stat(new + suffix).st_mode)
                    self.assertEqual(mode, 0o600, oct(mode))
        finally:
            self.assertEqual(s.stop(), 0)

    def test_database_path_default_env_and_flag(self):
        cli = self.cli
        cli.ok("client", "add", "one", "--id", "one", use_db=False)
        default = os.path.join(self.dir, "latchkey.db")
        self.assertEqual(rows(default, "SELECT client_id FROM clients"),
                         [("one",)])
        env = dict(cli.env, LATCHKEY_DB=os.path.join(self.dir, "env.db"))
        cli.ok("client", "add", "two", "--id", "two", use_db=False, env=env)
        self.assertEqual(rows(env["LATCHKEY_DB"], "SELECT client_id FROM "
                              "clients"), [("two",)])
        # --db wins over the environment, and may come first.
        p = cli.run("--db", self.db, "client", "add", "three", "--id", "three",
                    use_db=False, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(rows(self.db, "SELECT client_id FROM clients"),
                         [("three",)])
        self.assertEqual(rows(env["LATCHKEY_DB"], "SELECT count(*) FROM "
                              "clients"), [(1,)])

    def test_unopenable_database(self):
        self.refused(["client", "list", "--db", "/nonexistent/dir/x.db"], 1,
                     "cannot open database '/nonexistent/dir/x.db': "
                     "No such file or directory", use_db=False)
        self.refused(["client", "list", "--db", ""], 1,
                     "database path is empty", use_db=False)

    def test_unwritable_output_is_an_error(self):
        if not os.path.exists("/dev/full"):
            self.skipTest("no /dev/full")
        self.cli.ok("migrate")
        with open("/dev/full", "w") as full:
            p = subprocess.run([latchkey_path(), "client", "list", "--db",
                                self.db], stdout=full, stderr=subprocess.PIPE,
                               text=True, env=self.cli.env, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr, "latchkey: cannot write the output\n")

    def test_newer_schema_is_refused(self):
        self.cli.ok("client", "add", "app", "--id", "app")
        with connect(self.db) as db:
            db.execute("INSERT INTO schema_migrations VALUES "
                       "(99, 'future', 'x', 0)")
            db.commit()
        msg = ("%s: database schema version 99 is newer than this binary's "
               "%d; upgrade Latchkey before using this database"
               % (self.db, LATEST_SCHEMA))
        for args in (["migrate"], ["client", "list"],
                     ["client", "add", "new", "--id", "new"],
                     ["client", "remove", "app"], ["user", "list"],
                     ["key", "rotate"]):
            with self.subTest(args=args):
                self.refused(args, 1, msg)

    def test_edited_migration_is_refused(self):
        self.cli.ok("migrate")
        with connect(self.db) as db:
            db.execute("UPDATE schema_migrations SET checksum='0000'")
            db.commit()
        err = self.refused(["client", "list"], 1,
                           "%s: migration 0001_init was applied with "
                           "different text than this binary carries; "
                           "migrations must never be edited once applied"
                           % self.db)
        self.assertEqual(len(err.splitlines()), 1)


class TestClientAdd(CliTest):
    def test_confidential_generated(self):
        out = self.cli.ok("client", "add", "My App")
        fields = dict(re.split(r"\s{2,}", line, maxsplit=1)
                      for line in out.split("\n\n")[0].splitlines())
        self.assertEqual(list(fields), [
            "client_id", "client_secret", "name", "type", "grant_types",
            "scopes", "redirect_uris", "access_token_ttl",
            "refresh_token_ttl", "issue_refresh_token", "on_refresh",
            "auto_approve_as", "audiences", "introspect", "admin",
            "access_token_claims", "release_claims",
            "id_token_signed_response_alg", "require_nonce",
            "post_logout_redirect_uris", "logout_revokes_refresh_tokens",
            "created", "updated", "status", "previous_secret",
            "token_endpoint_auth_method", "jwks", "jwks_uri",
            "require_dpop"])
        self.assertEqual(fields["token_endpoint_auth_method"],
                         "default (a secret, either way)")
        self.assertEqual(fields["jwks"], "none")
        self.assertRegex(fields["client_id"], ID_RE)
        self.assertRegex(fields["client_secret"], SECRET_RE)
        self.assertEqual(fields["name"], "My App")
        self.assertEqual(fields["type"], "confidential")
        self.assertEqual(fields["grant_types"], "client_credentials")
        self.assertEqual(fields["scopes"], "-")
        self.assertEqual(fields["access_token_ttl"], "default")
        self.assertEqual(fields["issue_refresh_token"],
                         "default (server setting)")
        self.assertEqual(fields["on_refresh"], "default (server setting)")
        self.assertEqual(fields["auto_approve_as"],
                         "default (server setting)")
        self.assertEqual(fields["audiences"], "-")
        self.assertEqual(fields["introspect"], "no")
        self.assertRegex(fields["created"], ISO_RE)
        self.assertIn("shown only now", out)

        cid, secret = fields["client_id"], fields["client_secret"]
        row = self.client_row(cid)
        self.assertEqual(row[0], "My App")
        self.assertTrue(row[1].startswith("$lk-hmac-sha256$"), row[1])
        self.assertTrue(verify_fast_hash(row[1], secret))
        self.assertFalse(verify_fast_hash(row[1], secret + "x"))
        self.assertNotIn(secret, row[1])
        self.assertNotIn(secret.encode(), self.db_bytes())
        self.assertEqual(row[2:], (0, "client_credentials", "", "", None,
                                   None))
        self.assertEqual(self.refresh_row(cid), (None, None))

    def test_json_and_every_option(self):
        c = self.cli.json("client", "add", "svc", "--id", "svc-1",
                          "--grant", "client_credentials", "--grant",
                          "password", "--grant", "client_credentials",
                          "--scope", "read write", "--scope", "read",
                          "--scope", "admin",
                          "--redirect-uri", "https://app.example/cb",
                          "--redirect-uri", "com.example.app:/cb",
                          "--redirect-uri", "https://app.example/cb",
                          "--access-token-ttl", "600",
                          "--refresh-token-ttl", "86400",
                          "--on-refresh", "revoke", "--issue-refresh-token",
                          "--audience", "https://api.example/v1",
                          "--audience", "urn:billing", "--audience",
                          "https://api.example/v1", "--introspect",
                          "--id-token-signed-response-alg", "ES256",
                          "--require-nonce")
        secret = c.pop("client_secret")
        self.assertRegex(secret, SECRET_RE)
        self.assertIsInstance(c.pop("created_at"), int)
        self.assertIsInstance(c.pop("updated_at"), int)
        self.assertEqual(c, {
            "client_id": "svc-1", "name": "svc", "public": False,
            "grant_types": ["client_credentials", "password"],
            "scopes": ["read", "write", "admin"],
            "redirect_uris": ["https://app.example/cb", "com.example.app:/cb"],
            "access_token_ttl": 600, "refresh_token_ttl": 86400,
            "issue_refresh_token": True, "on_refresh": "revoke",
            "auto_approve_as": None,
            "audiences": ["https://api.example/v1", "urn:billing"],
            "introspect": True, "access_token_claims": {},
            "release_claims": [],
            "id_token_signed_response_alg": "ES256", "require_nonce": True,
            "post_logout_redirect_uris": [],
            "logout_revokes_refresh_tokens": False,
            "admin": False, "disabled": False, "disabled_at": None,
            "previous_secret_expires_at": None,
            "token_endpoint_auth_method": None, "jwks": None,
            "jwks_uri": None, "require_dpop": False,
            "tls_client_auth_subject_dn": None,
            "tls_client_auth_san_dns": None, "tls_client_auth_san_uri": None,
        })
        self.assertEqual(self.client_row("svc-1")[2:], (
            0, "client_credentials password", "read write admin",
            "https://app.example/cb com.example.app:/cb", 600, 86400))
        self.assertEqual(self.refresh_row("svc-1"), (1, "revoke"))

    def test_caller_chosen_secret_gets_argon2id(self):
        secret = "my chosen s3cret!"
        c = self.cli.json("client", "add", "legacy", "--id", "legacy",
                          "--secret", secret)
        self.assertEqual(c["client_secret"], secret)
        phc = self.client_row("legacy")[1]
        self.assertTrue(phc.startswith("$argon2id$v=19$"), phc)
        self.assertNotIn(secret, phc)
        self.assertNotIn(secret.encode(), self.db_bytes())
        verify = argon2_verifier()
        if verify is not None:
            self.assertTrue(verify(phc, secret))
            self.assertFalse(verify(phc, secret + "x"))

    def test_public_client(self):
        c = self.cli.json("client", "add", "spa", "--public", "--id", "spa",
                          "--redirect-uri", "http://localhost:3000/cb")
        self.assertIsNone(c["client_secret"])
        self.assertTrue(c["public"])
        self.assertEqual(c["grant_types"],
                         ["authorization_code", "refresh_token"])
        self.assertIsNone(c["access_token_ttl"])
        self.assertEqual(self.client_row("spa")[1:4],
                         (None, 1, "authorization_code refresh_token"))
        out = self.cli.ok("client", "add", "cli", "--public", "--id", "cli")
        self.assertNotIn("client_secret", out)
        self.assertRegex(out, r"(?m)^type\s{2,}public$")

    def test_refusals(self):
        self.cli.ok("client", "add", "taken", "--id", "taken")
        long_secret = "s" * 513
        bad_uri = ("invalid redirect URI '%s': an absolute URI (scheme:...) "
                   "without fragment, spaces or non-ASCII characters; http "
                   "and https URIs need //host")
        bad_ttl = ("invalid %s '%s': a whole number of seconds from 1 to "
                   "31536000, or 'default'")
        cases = [
            (["--id", "taken"], 1, "client 'taken' already exists"),
            (["--id", "bad id"], 2, "invalid client id 'bad id': 1 to 128 "
             "characters of A-Z a-z 0-9 . _ ~ -"),
            (["--id", "a" * 129], 2, "invalid client id '%s': 1 to 128 "
             "characters of A-Z a-z 0-9 . _ ~ -" % ("a" * 129)),
            (["--public", "--secret", "abc"], 2, "--public and --secret "
             "exclude each other: a public client has no secret"),
            (["--secret", long_secret], 2,
             "invalid --secret: 1 to 512 printable ASCII characters"),
            (["--secret", "tab\tsecret"], 2,
             "invalid --secret: 1 to 512 printable ASCII characters"),
            (["--public", "--grant", "client_credentials"], 2,
             "a public client cannot use the client_credentials grant "
             "(RFC 6749 section 4.4: confidential clients only)"),
            (["--grant", "implicit"], 2, "invalid grant type 'implicit': "
             "known grant types are authorization_code, client_credentials, "
             "password, refresh_token, token-exchange "
             "(urn:ietf:params:oauth:grant-type:token-exchange), "
             "device-code (urn:ietf:params:oauth:grant-type:device_code) "
             "and jwt-bearer (urn:ietf:params:oauth:grant-type:jwt-bearer)"),
            (["--grant", ""], 2, "a client needs at least one grant type"),
            (["--scope", 'a"b'], 2, "invalid scope 'a\"b': a scope is "
             "printable ASCII without space, '\"' or '\\' (RFC 6749 "
             "section 3.3)"),
            (["--redirect-uri", "https://app/cb#frag"], 2,
             bad_uri % "https://app/cb#frag"),
            (["--redirect-uri", "/relative"], 2, bad_uri % "/relative"),
            (["--redirect-uri", "https:///nohost"], 2,
             bad_uri % "https:///nohost"),
            (["--redirect-uri", "http:app"], 2, bad_uri % "http:app"),
            (["--redirect-uri", "https://a/b c"], 2, bad_uri % "https://a/b c"),
            (["--access-token-ttl", "0"], 2,
             bad_ttl % ("access-token lifetime", "0")),
            (["--access-token-ttl", "-5"], 2,
             bad_ttl % ("access-token lifetime", "-5")),
            (["--access-token-ttl", "1h"], 2,
             bad_ttl % ("access-token lifetime", "1h")),
            (["--refresh-token-ttl", "31536001"], 2,
             bad_ttl % ("refresh-token lifetime", "31536001")),
        ]
        for extra, status, msg in cases:
            with self.subTest(extra=extra):
                self.refused(["client", "add", "x"] + extra, status, msg)
        self.refused(["client", "add", ""], 2, "invalid client name '': 1 to "
                     "256 bytes of UTF-8 without control characters")
        self.refused(["client", "add", "a\x1bb"], 2, "invalid client name "
                     "'a?b': 1 to 256 bytes of UTF-8 without control "
                     "characters")
        self.assertEqual(rows(self.db, "SELECT client_id FROM clients"),
                         [("taken",)])

    def test_ttl_default_keyword_and_bounds(self):
        c = self.cli.json("client", "add", "t", "--access-token-ttl", "1",
                          "--refresh-token-ttl", "default")
        self.assertEqual(c["access_token_ttl"], 1)
        self.assertIsNone(c["refresh_token_ttl"])
        c = self.cli.json("client", "add", "t2",
                          "--access-token-ttl", "31536000")
        self.assertEqual(c["access_token_ttl"], 31536000)


class TestClientManage(CliTest):
    def setUp(self):
        super().setUp()
        self.secret = self.cli.json(
            "client", "add", "Service", "--id", "svc", "--scope", "read",
            "--access-token-ttl", "300")["client_secret"]
        self.cli.ok("client", "add", "Web", "--id", "web", "--public",
                    "--redirect-uri", "https://web.example/cb")

    def test_list(self):
        out = self.cli.ok("client", "list").splitlines()
        self.assertEqual(re.split(r"\s{2,}", out[0]),
                         ["CLIENT_ID", "NAME", "TYPE", "GRANTS", "SCOPES",
                          "AUTO_APPROVE_AS"])
        self.assertEqual(re.split(r"\s{2,}", out[1]),
                         ["svc", "Service", "confidential",
                          "client_credentials", "read",
                          "default (server setting)"])
        self.assertEqual(re.split(r"\s{2,}", out[2]),
                         ["web", "Web", "public",
                          "authorization_code refresh_token", "-",
                          "default (server setting)"])
        self.assertEqual(len(out), 3)
        listed = self.cli.json("client", "list")
        self.assertEqual([c["client_id"] for c in listed], ["svc", "web"])
        self.assertNotIn("client_secret", listed[0])
        self.assertEqual(listed[0]["access_token_ttl"], 300)

    def test_show(self):
        c = self.cli.json("client", "show", "svc")
        self.assertNotIn("client_secret", c)
        self.assertEqual((c["client_id"], c["name"], c["public"], c["scopes"]),
                         ("svc", "Service", False, ["read"]))
        out = self.cli.ok("client", "show", "web")
        self.assertRegex(out, r"(?m)^redirect_uris\s{2,}"
                              r"https://web\.example/cb$")
        self.assertNotIn("secret", out)
        phc = self.client_row("svc")[1]
        self.assertNotIn(phc, self.cli.ok("client", "show", "svc"))
        self.refused(["client", "show", "nope"], 1, "client 'nope' not found")

    def test_update(self):
        c = self.cli.json("client", "update", "svc", "--name", "Renamed",
                          "--grant", "password", "--grant",
                          "client_credentials", "--scope", "a b",
                          "--redirect-uri", "https://x.example/cb",
                          "--access-token-ttl", "default",
                          "--refresh-token-ttl", "7200")
        self.assertEqual((c["name"], c["grant_types"], c["scopes"],
                          c["redirect_uris"], c["access_token_ttl"],
                          c["refresh_token_ttl"]),
                         ("Renamed", ["password", "client_credentials"],
                          ["a", "b"], ["https://x.example/cb"], None, 7200))
        self.assertNotIn("client_secret", c)
        row = self.client_row("svc")
        self.assertEqual(row[2:], (0, "password client_credentials", "a b",
                                   "https://x.example/cb", None, 7200))
        # The secret is untouched by an update.
        self.assertTrue(verify_fast_hash(row[1], self.secret))
        # A list option replaces the list; '' empties it.
        self.cli.ok("client", "update", "svc", "--scope", "c")
        self.assertEqual(self.client_row("svc")[4], "c")
        self.cli.ok("client", "update", "svc", "--scope", "",
                    "--redirect-uri", "")
        self.assertEqual(self.client_row("svc")[4:6], ("", ""))

    def test_update_refusals(self):
        cases = [
            (["nope", "--name", "x"], 1, "client 'nope' not found"),
            (["svc"], 2, "nothing to update: give at least one of --name, "
             "--grant, --scope, --redirect-uri, --access-token-ttl, "
             "--refresh-token-ttl, --on-refresh, --issue-refresh-token, "
             "--no-issue-refresh-token, --default-issue-refresh-token, "
             "--auto-approve-as, --audience, --introspect, --no-introspect, "
             "--admin, --no-admin, --release-claim, --id-token-signed-response-alg, "
             "--require-nonce, --no-require-nonce, "
             "--post-logout-redirect-uri, "
             "--logout-revokes-refresh-tokens, "
             "--no-logout-revokes-refresh-tokens, "
             "--token-endpoint-auth-method, --jwks, --jwks-uri, "
             "--require-dpop, --no-require-dpop, "
             "--tls-client-auth-subject-dn, --tls-client-auth-san-dns, "
             "--tls-client-auth-san-uri, "
             "--access-token-claim, "
             "--unset-access-token-claim"),
            (["web", "--grant", "client_credentials"], 2,
             "a public client cannot use the client_credentials grant "
             "(RFC 6749 section 4.4: confidential clients only)"),
            (["svc", "--grant", ""], 2,
             "a client needs at least one grant type"),
            (["svc", "--scope", "ok", "--scope", "b\\ad"], 2,
             "invalid scope 'b\\ad': a scope is printable ASCII without "
             "space, '\"' or '\\' (RFC 6749 section 3.3)"),
            (["svc", "--access-token-ttl", "0"], 2,
             "invalid access-token lifetime '0': a whole number of seconds "
             "from 1 to 31536000, or 'default'"),
            (["svc", "--name", ""], 2, "invalid client name '': 1 to 256 "
             "bytes of UTF-8 without control characters"),
            (["svc", "--secret", "x"], 2,
             "option --secret does not apply to 'client update'"),
        ]
        for args, status, msg in cases:
            with self.subTest(args=args):
                self.refused(["client", "update"] + args, status, msg)

    def test_rotate_secret(self):
        old_hash = self.client_row("svc")[1]
        r = self.cli.json("client", "rotate-secret", "svc")
        self.assertEqual(set(r), {"client_id", "client_secret",
                                  "previous_secret_expires_at"})
        self.assertIsNone(r["previous_secret_expires_at"])
        self.assertEqual(r["client_id"], "svc")
        self.assertRegex(r["client_secret"], SECRET_RE)
        self.assertNotEqual(r["client_secret"], self.secret)
        new_hash = self.client_row("svc")[1]
        self.assertNotEqual(new_hash, old_hash)
        self.assertTrue(verify_fast_hash(new_hash, r["client_secret"]))
        self.assertFalse(verify_fast_hash(new_hash, self.secret))
        self.assertNotIn(r["client_secret"].encode(), self.db_bytes())
        out = self.cli.ok("client", "rotate-secret", "svc")
        m = re.search(r"^client_secret\s+(\S+)$", out, re.M)
        self.assertTrue(verify_fast_hash(self.client_row("svc")[1], m.group(1)))
        self.refused(["client", "rotate-secret", "web"], 1,
                     "client 'web' is public: it has no secret to rotate")
        self.refused(["client", "rotate-secret", "nope"], 1,
                     "client 'nope' not found")

    def test_remove_takes_tokens_along(self):
        kid = self.cli.json("key", "rotate")["kid"]
        now = int(time.time())
        self.add_token("t1", "svc", kid, now, now + 600)
        self.add_token("t2", "web", kid, now, now + 600)
        self.assertEqual(self.cli.json("client", "remove", "svc"),
                         {"client_id": "svc", "removed": True})
        self.assertEqual(rows(self.db, "SELECT client_id FROM clients"),
                         [("web",)])
        self.assertEqual(rows(self.db, "SELECT jti FROM access_tokens"),
                         [("t2",)])
        self.assertEqual(self.cli.ok("client", "remove", "web"),
                         "removed client 'web' and its token records\n")
        self.refused(["client", "remove", "svc"], 1, "client 'svc' not found")


class TestClientRefreshSettings(CliTest):
    """--on-refresh and --issue-refresh-token: what the commands print,
    and what lands in clients.on_refresh and clients.issue_refresh_token
    (NULL: the server's setting)."""

    BAD_POLICY = ("invalid on-refresh policy '%s': one of nothing, revoke, "
                  "hook, or 'default' for the server's setting")
    DEFAULT_TEXT = "default (server setting)"
    # option, JSON value, stored value, text value
    ISSUE = [
        ([], None, None, DEFAULT_TEXT),
        (["--issue-refresh-token"], True, 1, "yes"),
        (["--no-issue-refresh-token"], False, 0, "no"),
        (["--default-issue-refresh-token"], None, None, DEFAULT_TEXT),
    ]
    POLICY = [
        ([], None, None, DEFAULT_TEXT),
        (["--on-refresh", "nothing"], "nothing", "nothing", "nothing"),
        (["--on-refresh", "revoke"], "revoke", "revoke", "revoke"),
        (["--on-refresh", "hook"], "hook", "hook", "hook"),
        (["--on-refresh=default"], None, None, DEFAULT_TEXT),
    ]

    def text_fields(self, out):
        return dict(re.split(r"\s{2,}", line, maxsplit=1)
                    for line in out.split("\n\n")[0].splitlines())

    def check(self, client_id, irt, policy):
        """show --json, show and the row all say (irt, policy), given as
        the JSON values."""
        c = self.cli.json("client", "show", client_id)
        self.assertEqual((c["issue_refresh_token"], c["on_refresh"]),
                         (irt, policy))
        stored = {None: None, True: 1, False: 0}[irt]
        self.assertEqual(self.refresh_row(client_id), (stored, policy))
        f = self.text_fields(self.cli.ok("client", "show", client_id))
        text = {None: self.DEFAULT_TEXT, True: "yes", False: "no"}[irt]
        self.assertEqual((f["issue_refresh_token"], f["on_refresh"]),
                         (text, policy or self.DEFAULT_TEXT))

    def test_add_with_each_value(self):
        # The two settings are independent: every value of each, paired.
        pairs = [(self.ISSUE[i % len(self.ISSUE)], self.POLICY[i])
                 for i in range(len(self.POLICY))]
        for n, (issue, policy) in enumerate(pairs):
            iopt, ijson, istored, itext = issue
            popt, pjson, pstored, ptext = policy
            cid = "c%d" % n
            with self.subTest(issue=iopt, policy=popt):
                args = ["client", "add", cid, "--id", cid, "--grant",
                        "password", "--grant", "refresh_token"]
                args += iopt + popt
                c = self.cli.json(*args)
                self.assertEqual(c["issue_refresh_token"], ijson)
                self.assertEqual(c["on_refresh"], pjson)
                self.assertEqual(self.refresh_row(cid),
                                 (istored, pstored))
                # The text output of add says the same.
                cid2 = cid + "t"
                f = self.text_fields(self.cli.ok(
                    *(args[:2] + [cid2, "--id", cid2] + args[5:])))
                self.assertEqual(f["issue_refresh_token"], itext)
                self.assertEqual(f["on_refresh"], ptext)
                self.assertEqual(self.refresh_row(cid2),
                                 (istored, pstored))
                self.check(cid, ijson, pjson)
        # Public clients take the settings too.
        c = self.cli.json("client", "add", "spa", "--id", "spa", "--public",
                          "--no-issue-refresh-token", "--on-refresh", "hook")
        self.assertEqual((c["issue_refresh_token"], c["on_refresh"]),
                         (False, "hook"))
        self.assertEqual(self.refresh_row("spa"), (0, "hook"))

    def test_update_each_value_and_reset(self):
        self.cli.ok("client", "add", "App", "--id", "app", "--scope", "read",
                    "--access-token-ttl", "300")
        before = self.client_row("app")
        self.check("app", None, None)
        for popt, pjson, _, _ in self.POLICY[1:] + self.POLICY[1:2]:
            with self.subTest(policy=popt):
                c = self.cli.json("client", "update", "app", *popt)
                self.assertEqual(c["on_refresh"], pjson)
                # One setting changes; the other is left alone.
                self.assertIsNone(c["issue_refresh_token"])
                self.check("app", None, pjson)
        for iopt, ijson, _, _ in self.ISSUE[1:] + self.ISSUE[1:3]:
            with self.subTest(issue=iopt):
                c = self.cli.json("client", "update", "app", *iopt)
                self.assertEqual(c["issue_refresh_token"], ijson)
                self.assertEqual(c["on_refresh"], "nothing")
                self.check("app", ijson, "nothing")
        # Both at once, then both back to the server's setting.
        self.cli.ok("client", "update", "app", "--on-refresh", "revoke",
                    "--issue-refresh-token")
        self.check("app", True, "revoke")
        out = self.cli.ok("client", "update", "app", "--on-refresh",
                          "default", "--default-issue-refresh-token")
        f = self.text_fields(out)
        self.assertEqual((f["issue_refresh_token"], f["on_refresh"]),
                         (self.DEFAULT_TEXT, self.DEFAULT_TEXT))
        self.check("app", None, None)
        # Nothing else about the client moved (updated_at aside).
        self.assertEqual(self.client_row("app"), before)
        # Other updates keep the settings.
        self.cli.ok("client", "update", "app", "--issue-refresh-token",
                    "--on-refresh", "hook")
        self.cli.ok("client", "update", "app", "--name", "Renamed",
                    "--scope", "write")
        self.check("app", True, "hook")
        self.cli.ok("client", "rotate-secret", "app")
        self.check("app", True, "hook")

    def test_list_json(self):
        self.cli.ok("client", "add", "A", "--id", "a", "--on-refresh",
                    "revoke", "--no-issue-refresh-token")
        self.cli.ok("client", "add", "B", "--id", "b")
        listed = {c["client_id"]: c for c in self.cli.json("client", "list")}
        self.assertEqual((listed["a"]["issue_refresh_token"],
                          listed["a"]["on_refresh"]), (False, "revoke"))
        self.assertIn("issue_refresh_token", listed["b"])
        self.assertIn("on_refresh", listed["b"])
        self.assertEqual((listed["b"]["issue_refresh_token"],
                          listed["b"]["on_refresh"]), (None, None))

    def test_refusals_change_nothing(self):
        self.cli.ok("client", "add", "App", "--id", "app", "--on-refresh",
                    "revoke", "--issue-refresh-token")
        excl = "--%s and --%s exclude each other"
        irt, no, dflt = ("issue-refresh-token", "no-issue-refresh-token",
                         "default-issue-refresh-token")
        cases = [
            (["--on-refresh", "Hook"], self.BAD_POLICY % "Hook"),
            (["--on-refresh", "REVOKE"], self.BAD_POLICY % "REVOKE"),
            (["--on-refresh", "none"], self.BAD_POLICY % "none"),
            (["--on-refresh", ""], self.BAD_POLICY % ""),
            (["--on-refresh", "revoke hook"], self.BAD_POLICY % "revoke hook"),
            (["--on-refresh", "hook\n"], self.BAD_POLICY % "hook?"),
            (["--on-refresh", "nothing", "--on-refresh", "hook"],
             "option --on-refresh given more than once"),
            (["--issue-refresh-token=yes"],
             "option --issue-refresh-token takes no value"),
            (["--issue-refresh"], "unknown option '--issue-refresh'"),
            (["--" + irt, "--" + no], excl % (irt, no)),
            (["--" + no, "--" + irt], excl % (irt, no)),
            (["--" + irt, "--" + dflt], excl % (irt, dflt)),
            (["--" + dflt, "--" + no], excl % (no, dflt)),
            (["--" + irt, "--" + no, "--" + dflt], excl % (irt, no)),
            # Refused even next to a valid setting: nothing is half-done.
            (["--on-refresh", "hook", "--" + no, "--" + dflt],
             excl % (no, dflt)),
        ]
        self.refused_by_add_and_update(cases)
        self.refused(["client", "update", "app", "--issue-refresh-token",
                      "--on-refresh", "bogus", "--name", "X"], 2,
                     self.BAD_POLICY % "bogus")
        # Conflicting flags are a usage error before the client is looked up.
        self.refused(["client", "update", "nope", "--" + irt, "--" + no], 2,
                     excl % (irt, no))
        self.refused(["client", "update", "nope", "--on-refresh", "hook"], 1,
                     "client 'nope' not found")
        for cmd in (["client", "list"], ["client", "show", "app"],
                    ["client", "rotate-secret", "app"]):
            with self.subTest(cmd=cmd):
                self.refused(cmd + ["--on-refresh", "hook"], 2,
                             "option --on-refresh does not apply to '%s'"
                             % " ".join(cmd[:2]))
                self.refused(cmd + ["--no-issue-refresh-token"], 2,
                             "option --no-issue-refresh-token does not "
                             "apply to '%s'" % " ".join(cmd[:2]))
        self.assertEqual(rows(self.db, "SELECT client_id FROM clients"),
                         [("app",)])
        self.check("app", True, "revoke")


class TestClientAutoApprove(CliTest):
    """--auto-approve-as (for test suites): what the commands print, and
    what lands in clients.auto_approve_as (NULL: the server's setting, '':
    off for this client, else a username)."""

    DEFAULT_TEXT = "default (server setting)"
    BAD = ("invalid --auto-approve-as '%s': a username (1 to 128 printable "
           "ASCII characters without spaces), '' for off, or 'default' for "
           "the server's setting")
    WARN = "latchkey: warning: user '%s' does not exist (yet)\n"
    # option, JSON value (also the stored one), text value
    VALUES = [
        ([], None, DEFAULT_TEXT),
        (["--auto-approve-as", "alice"], "alice", "alice"),
        (["--auto-approve-as", ""], "", "off"),
        (["--auto-approve-as="], "", "off"),
        (["--auto-approve-as=default"], None, DEFAULT_TEXT),
        (["--auto-approve-as", "bob@example.com"], "bob@example.com",
         "bob@example.com"),
    ]

    def setUp(self):
        super().setUp()
        self.add_user("alice")
        self.add_user("bob@example.com")

    def stored(self, client_id):
        """clients.auto_approve_as, checked for its type (Python str or
        None from either backend), so NULL and '' cannot be confused."""
        r = rows(self.db, "SELECT auto_approve_as "
                 "FROM clients WHERE client_id=?", (client_id,))
        self.assertEqual(len(r), 1, client_id)
        value = r[0][0]
        self.assertIn(type(value), (str, type(None)), repr(value))
        return value

    def check(self, client_id, value, text):
        self.assertEqual(self.stored(client_id), value)
        self.assertEqual(self.cli.json("client", "show", client_id)
                         ["auto_approve_as"], value)
        out = self.cli.ok("client", "show", client_id)
        self.assertRegex(out, r"(?m)^auto_approve_as\s{2,}%s$"
                         % re.escape(text))

    def test_add_with_each_value(self):
        for n, (opt, value, text) in enumerate(self.VALUES):
            with self.subTest(opt=opt):
                cid = "c%d" % n
                p = self.cli.run("client", "add", cid, "--id", cid,
                                 "--public", "--json", *opt)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stderr, "")  # every user exists
                self.assertEqual(json.loads(p.stdout)["auto_approve_as"],
                                 value)
                self.check(cid, value, text)
                out = self.cli.ok("client", "add", cid + "t", "--id",
                                  cid + "t", *opt)
                self.assertRegex(out, r"(?m)^auto_approve_as\s{2,}%s$"
                                 % re.escape(text))
                self.assertEqual(self.stored(cid + "t"), value)

    def test_update_and_reset(self):
        self.cli.ok("client", "add", "App", "--id", "app", "--scope", "read")
        before = self.client_row("app")
        for opt, value, text in self.VALUES[1:] + self.VALUES[1:2]:
            with self.subTest(opt=opt):
                c = self.cli.json("client", "update", "app", *opt)
                self.assertEqual(c["auto_approve_as"], value)
                self.check("app", value, text)
        # Other updates, and a new secret, keep the setting.
        self.cli.ok("client", "update", "app", "--name", "Renamed",
                    "--on-refresh", "revoke")
        self.cli.ok("client", "rotate-secret", "app")
        self.check("app", "alice", "alice")
        # Back to the server's setting; nothing else moved but the name.
        self.cli.ok("client", "update", "app", "--auto-approve-as",
                    "default", "--name", "App", "--on-refresh", "default")
        self.check("app", None, self.DEFAULT_TEXT)
        self.assertEqual(self.client_row("app")[0], before[0])
        self.assertEqual(self.client_row("app")[2:], before[2:])

    def test_unknown_user_is_a_warning(self):
        # Stored all the same: a suite may add the user afterwards.
        p = self.cli.run("client", "add", "T", "--id", "t", "--public",
                         "--auto-approve-as", "carol", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, self.WARN % "carol")
        self.assertEqual(json.loads(p.stdout)["auto_approve_as"], "carol")
        self.assertEqual(self.stored("t"), "carol")
        p = self.cli.run("client", "update", "t", "--auto-approve-as",
                         "dave")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, self.WARN % "dave")
        self.assertRegex(p.stdout, r"(?m)^auto_approve_as\s{2,}dave$")
        # Only the option given warns: other updates stay quiet.
        p = self.cli.run("client", "update", "t", "--name", "X")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("weak", p.stderr)
        # Off, the server's setting, and an existing user: no warning.
        for value in ("", "default", "alice"):
            with self.subTest(value=value):
                p = self.cli.run("client", "update", "t",
                                 "--auto-approve-as", value)
                self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("weak", p.stderr)
        self.add_user("dave")
        p = self.cli.run("client", "update", "t", "--auto-approve-as", "dave")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("weak", p.stderr)
        # A user removed later leaves the setting as it is.
        self.cli.ok("user", "remove", "dave")
        self.assertEqual(self.stored("t"), "dave")

    def test_list(self):
        self.cli.ok("client", "add", "A", "--id", "a", "--auto-approve-as",
                    "alice")
        self.cli.ok("client", "add", "B", "--id", "b", "--auto-approve-as",
                    "")
        self.cli.ok("client", "add", "C", "--id", "c")
        listed = self.cli.json("client", "list")
        self.assertEqual([c["auto_approve_as"] for c in listed],
                         ["alice", "", None])
        text = self.cli.ok("client", "list").splitlines()
        self.assertEqual([re.split(r"\s{2,}", line)[-1] for line in text],
                         ["AUTO_APPROVE_AS", "alice", "off",
                          self.DEFAULT_TEXT])

    def test_refusals_change_nothing(self):
        self.cli.ok("client", "add", "App", "--id", "app",
                    "--auto-approve-as", "alice")
        cases = [
            (["--auto-approve-as", "a b"], self.BAD % "a b"),
            (["--auto-approve-as", "u" * 129], self.BAD % ("u" * 129)),
            (["--auto-approve-as", "tab\there"], self.BAD % "tab?here"),
            (["--auto-approve-as", "j\u00f6rg"], self.BAD % "j\u00f6rg"),
            (["--auto-approve-as", " "], self.BAD % " "),
            (["--auto-approve-as", "alice", "--auto-approve-as", "bob"],
             "option --auto-approve-as given more than once"),
            (["--auto-approve"], "unknown option '--auto-approve'"),
            # Refused next to valid settings: nothing is half-done.
            (["--on-refresh", "hook", "--auto-approve-as", "x y"],
             self.BAD % "x y"),
            (["--auto-approve-as", "bob", "--on-refresh", "bogus"],
             "invalid on-refresh policy 'bogus': one of nothing, revoke, "
             "hook, or 'default' for the server's setting"),
        ]
        self.refused_by_add_and_update(cases)
        self.refused(["client", "update", "nope", "--auto-approve-as",
                      "alice"], 1, "client 'nope' not found")
        self.refused(["client", "add", "Dup", "--id", "app",
                      "--auto-approve-as", "nobody"], 1,
                     "client 'app' already exists")
        for cmd in (["client", "list"], ["client", "show", "app"],
                    ["client", "rotate-secret", "app"],
                    ["user", "add", "x", "--password-stdin"]):
            with self.subTest(cmd=cmd):
                self.refused(cmd + ["--auto-approve-as", "alice"], 2,
                             "option --auto-approve-as does not apply to "
                             "'%s'" % " ".join(cmd[:2]))
        self.assertEqual(rows(self.db, "SELECT client_id FROM clients"),
                         [("app",)])
        self.check("app", "alice", "alice")


class TestClientIssue12(CliTest):
    """Issue 12: client ids never take the user id prefix u_ (defect 11),
    a chosen secret needs 16 characters (defect 10), and the per-client
    audiences and introspect flag."""

    def test_reserved_id_prefix(self):
        msg = ("invalid client id '%s': ids starting with u_ are reserved "
               "for users (the sub of their tokens; RFC 9068 section 5)")
        for cid in ("u_", "u_abc", "u_0123456789abcdefghij"):
            with self.subTest(cid=cid):
                self.refused(["client", "add", "x", "--id", cid], 2,
                             msg % cid)
        self.assertEqual(rows(self.db, "SELECT count(*) FROM clients"),
                         [(0,)])
        # Only the exact lowercase prefix is reserved.
        for cid in ("U_abc", "uu_x", "u", "user-svc"):
            self.cli.ok("client", "add", "x", "--id", cid)
        # Generated ids never start with it (one draw in 4096 would):
        # core's crypto_random_id, tested in tests/unit/test_crypto.c.
        for _ in range(5):
            self.assertFalse(self.cli.json("client", "add", "g")
                             ["client_id"].startswith("u_"))

    def test_chosen_secret_length(self):
        msg = ("invalid --secret: a chosen secret needs at least 16 "
               "characters; leave --secret out for a generated one, or add "
               "--allow-weak-secret")
        for secret in ("short", "x" * 15, " " * 15):
            with self.subTest(secret=secret):
                self.refused(["client", "add", "x", "--id", "weak",
                              "--secret", secret], 2, msg)
        self.assertEqual(rows(self.db, "SELECT count(*) FROM clients"),
                         [(0,)])
        c = self.cli.json("client", "add", "x", "--id", "ok",
                          "--secret", "x" * 16)
        self.assertEqual(c["client_secret"], "x" * 16)
        # The override works and says so on stderr (status 0).
        p = self.cli.run("client", "add", "x", "--id", "weak", "--secret",
                         "short", "--allow-weak-secret", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["client_secret"], "short")
        self.assertIn("latchkey: warning: --allow-weak-secret: the secret "
                      "has 5 characters, fewer than 16; it may be "
                      "guessed\n", p.stderr)
        # A strong secret with the flag: nothing to say.
        p = self.cli.run("client", "add", "x", "--id", "strong", "--secret",
                         "s" * 20, "--allow-weak-secret")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("weak", p.stderr)
        self.refused(["client", "add", "x", "--allow-weak-secret"], 2,
                     "--allow-weak-secret applies to --secret only: a "
                     "generated secret is never weak")
        self.refused(["client", "update", "ok", "--allow-weak-secret"], 2,
                     "option --allow-weak-secret does not apply to 'client "
                     "update'")
        # Invalid characters are refused before the length is looked at.
        self.refused(["client", "add", "x", "--secret", "tab\t",
                      "--allow-weak-secret"], 2,
                     "invalid --secret: 1 to 512 printable ASCII characters")

    def test_audiences_and_introspect(self):
        c = self.cli.json("client", "add", "api", "--id", "api",
                          "--audience", "https://a.example",
                          "--audience", "urn:b", "--introspect")
        self.assertEqual((c["audiences"], c["introspect"]),
                         (["https://a.example", "urn:b"], True))
        out = self.cli.ok("client", "show", "api")
        self.assertRegex(out, r"(?m)^audiences\s{2,}https://a\.example "
                              r"urn:b$")
        self.assertRegex(out, r"(?m)^introspect\s{2,}yes$")
        self.assertEqual(rows(self.db, "SELECT audiences, introspect FROM "
                              "clients WHERE client_id='api'"),
                         [("https://a.example urn:b", 1)])
        # An update replaces the whole list, as --scope does; '' empties.
        c = self.cli.json("client", "update", "api", "--audience", "urn:c")
        self.assertEqual((c["audiences"], c["introspect"]), (["urn:c"], True))
        c = self.cli.json("client", "update", "api", "--no-introspect")
        self.assertEqual((c["audiences"], c["introspect"]), (["urn:c"], False))
        c = self.cli.json("client", "update", "api", "--audience", "")
        self.assertEqual(c["audiences"], [])
        listed = self.cli.json("client", "list")
        self.assertEqual((listed[0]["audiences"], listed[0]["introspect"]),
                         ([], False))

    def test_audience_and_introspect_refusals(self):
        self.cli.ok("client", "add", "App", "--id", "app")
        self.cli.ok("client", "add", "Web", "--id", "web", "--public")
        rule = ("1 to 2048 printable ASCII characters without spaces (a URI "
                "such as https://api.example, or a name)")
        self.refused_by_add_and_update([
            (["--audience", "a b"], "invalid audience 'a b': " + rule),
            (["--audience", "ok", "--audience", "caf\u00e9"],
             "invalid audience 'caf\u00e9': " + rule),
            (["--introspect", "--no-introspect"],
             "--introspect and --no-introspect exclude each other"),
            (["--admin", "--no-admin"],
             "--admin and --no-admin exclude each other"),
        ])
        public = ("a public client cannot introspect (RFC 7662 section 2.1: "
                  "the caller authenticates as a confidential client)")
        self.refused(["client", "add", "P", "--public", "--introspect"], 2,
                     public)
        self.refused(["client", "update", "web", "--introspect"], 2, public)
        self.assertEqual(rows(self.db, "SELECT client_id, audiences, "
                              "introspect FROM clients ORDER BY client_id"),
                         [("app", "", 0), ("web", "", 0)])


class TestUsers(CliTest):
    def test_add_list_passwd_remove(self):
        out = self.cli.ok("user", "add", "alice", "--password-stdin",
                          input=PASSWORD + "\n")
        m = re.fullmatch(r"added user 'alice' \(user_id (\S+)\)\n", out)
        self.assertIsNotNone(m, out)
        self.assertRegex(m.group(1), USER_ID_RE)
        bob = self.add_user("bob@example.com", "another password\r")
        self.assertRegex(bob["user_id"], USER_ID_RE)
        self.assertEqual(bob["username"], "bob@example.com")
        self.assertEqual(bob["created_at"], bob["updated_at"])

        (phc,) = rows(self.db, "SELECT password_hash FROM users WHERE "
                      "username='alice'")[0]
        self.assertTrue(phc.startswith("$argon2id$v=19$"), phc)
        self.assertNotIn(PASSWORD.encode(), self.db_bytes())
        verify = argon2_verifier()
        if verify is not None:
            self.assertTrue(verify(phc, PASSWORD))
            # The trailing "\r" of a CRLF line is not part of the password.
            (bob_phc,) = rows(self.db, "SELECT password_hash FROM users "
                              "WHERE username='bob@example.com'")[0]
            self.assertTrue(verify(bob_phc, "another password"))

        listed = self.cli.json("user", "list")
        self.assertEqual([u["username"] for u in listed],
                         ["alice", "bob@example.com"])
        self.assertEqual(set(listed[0]),
                         {"username", "user_id", "claims", "created_at",
                          "updated_at"})
        text = self.cli.ok("user", "list").splitlines()
        self.assertEqual(re.split(r"\s{2,}", text[0]),
                         ["USERNAME", "USER_ID", "CREATED"])
        self.assertRegex(text[1], r"^alice\s+%s\s+%s$"
                         % (re.escape(m.group(1)), ISO_RE))

        self.assertEqual(self.cli.ok("user", "passwd", "alice",
                                     "--password-stdin",
                                     input="new password 123\n"),
                         "changed the password of user 'alice'; ended 0 browser "
                         "session(s)\n")
        (phc2,) = rows(self.db, "SELECT password_hash FROM users WHERE "
                       "username='alice'")[0]
        self.assertNotEqual(phc2, phc)
        if verify is not None:
            self.assertTrue(verify(phc2, "new password 123"))
            self.assertFalse(verify(phc2, PASSWORD))
        # The user id is the stable subject: a new password keeps it.
        self.assertEqual(rows(self.db, "SELECT user_id FROM users WHERE "
                              "username='alice'"), [(m.group(1),)])

        self.assertEqual(self.cli.json("user", "remove", "alice"),
                         {"username": "alice", "removed": True,
                          "revoked_tokens": 0})
        self.assertEqual(self.cli.ok("user", "remove", "bob@example.com"),
                         "removed user 'bob@example.com'; revoked 0 "
                         "token(s)\n")
        self.assertEqual(self.cli.json("user", "list"), [])

    def test_refusals(self):
        self.add_user("alice")
        pw = PASSWORD + "\n"
        cases = [
            (["user", "add", "alice", "--password-stdin"], pw, 1,
             "user 'alice' already exists"),
            (["user", "add", "a b", "--password-stdin"], pw, 2,
             "invalid username 'a b': 1 to 128 printable ASCII characters "
             "without spaces"),
            (["user", "add", "u" * 129, "--password-stdin"], pw, 2,
             "invalid username '%s': 1 to 128 printable ASCII characters "
             "without spaces" % ("u" * 129)),
            (["user", "add", "carol", "--password-stdin"], "short12\n", 2,
             "the password must be 8 to 1024 bytes long"),
            (["user", "add", "carol", "--password-stdin"], "p" * 1025 + "\n",
             2, "the password must be 8 to 1024 bytes long"),
            (["user", "add", "carol", "--password-stdin"], "", 2,
             "no password given"),
            (["user", "add", "carol", "--password-stdin"], "nul\0byte123\n",
             2, "the password holds a NUL byte"),
            (["user", "add", "carol"], None, 2,
             "no password: stdin is not a terminal; pass --password-stdin "
             "to read it from stdin"),
            (["user", "passwd", "nobody", "--password-stdin"], pw, 1,
             "user 'nobody' not found"),
            (["user", "passwd", "alice", "--password-stdin"], "short\n", 2,
             "the password must be 8 to 1024 bytes long"),
            (["user", "remove", "nobody"], None, 1, "user 'nobody' not found"),
        ]
        for args, stdin, status, msg in cases:
            with self.subTest(args=args, stdin=stdin[:20] if stdin else None):
                self.refused(args, status, msg, input=stdin)

    def test_longest_password(self):
        self.add_user("max", "p" * 1024)
        self.assertEqual(len(rows(self.db, "SELECT 1 FROM users")), 1)

    def run_on_terminal(self, args, typed):
        """Runs latchkey with a pseudo-terminal as stdin and types lines."""
        master, slave = pty.openpty()
        try:
            p = subprocess.Popen([latchkey_path(), *args, "--db", self.db],
                                 stdin=slave, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True,
                                 cwd=self.dir, env=self.cli.env)
            os.close(slave)
            slave = None
            # Canonical mode hands the program one line per read, so the
            # lines can be typed ahead of the prompts.
            os.write(master, "".join(line + "\n" for line in typed).encode())
            out, err = p.communicate(timeout=60)
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, err)
        return p.returncode, out, err

    def test_password_prompt_on_terminal(self):
        rc, out, err = self.run_on_terminal(["user", "add", "tty"],
                                            [PASSWORD, PASSWORD])
        self.assertEqual(rc, 0, err)
        self.assertIn("New password: ", err)
        self.assertIn("Repeat password: ", err)
        self.assertNotIn(PASSWORD, out + err)
        self.assertRegex(out, r"^added user 'tty' \(user_id u_")
        before = snapshot(self.db)
        rc, out, err = self.run_on_terminal(["user", "passwd", "tty"],
                                            [PASSWORD, "something else"])
        self.assertEqual(rc, 2)
        self.assertTrue(err.endswith("latchkey: the passwords do not match\n"),
                        err)
        self.assertEqual(snapshot(self.db), before)


class TestTokens(CliTest):
    def setUp(self):
        super().setUp()
        self.cli.ok("client", "add", "A", "--id", "ca")
        self.cli.ok("client", "add", "B", "--id", "cb")
        self.kid = self.add_key()
        self.now = int(time.time())
        n = self.now
        self.add_token("live", "ca", self.kid, n - 10, n + 3600, sub="ca",
                       scope="read write")
        self.add_token("old", "ca", self.kid, n - 7200, n - 3600, sub="u_x")
        self.add_token("gone", "ca", self.kid, n - 5, n + 3600,
                       revoked_at=n - 1)
        self.add_token("other", "cb", self.kid, n, n + 3600, sub="cb")

    def test_list(self):
        toks = {t["jti"]: t for t in self.cli.json("token", "list")}
        self.assertEqual(set(toks), {"live", "old", "gone", "other"})
        self.assertEqual(toks["live"], {
            "jti": "live", "client_id": "ca", "sub": "ca",
            "scope": "read write", "kid": self.kid, "iat": self.now - 10,
            "exp": self.now + 3600, "revoked_at": None, "status": "active",
            "family_id": None})
        self.assertEqual(toks["old"]["status"], "expired")
        self.assertEqual(toks["gone"]["status"], "revoked")
        self.assertEqual(toks["gone"]["revoked_at"], self.now - 1)

        active = self.cli.json("token", "list", "--active")
        self.assertEqual(sorted(t["jti"] for t in active), ["live", "other"])
        mine = self.cli.json("token", "list", "--client", "ca", "--active")
        self.assertEqual([t["jti"] for t in mine], ["live"])

        text = self.cli.ok("token", "list", "--client", "ca").splitlines()
        # FAMILY is appended: the columns before it keep their places.
        self.assertEqual(re.split(r"\s{2,}", text[0]),
                         ["JTI", "CLIENT_ID", "SUBJECT", "SCOPE", "ISSUED",
                          "EXPIRES", "STATUS", "FAMILY"])
        self.assertEqual(len(text), 4)
        live = [re.split(r"\s{2,}", line) for line in text
                if line.startswith("live ")][0]
        self.assertEqual(live[:4], ["live", "ca", "ca", "read write"])
        self.assertRegex(live[4], ISO_RE)
        self.assertEqual(live[6:], ["active", "-"])
        self.refused(["token", "list", "--client", "nope"], 1,
                     "client 'nope' not found")

    def test_revoke_one(self):
        self.assertEqual(self.cli.ok("token", "revoke", "live"),
                         "revoked token 'live'\n")
        (revoked_at,) = rows(self.db, "SELECT revoked_at FROM access_tokens "
                             "WHERE jti='live'")[0]
        self.assertGreaterEqual(revoked_at, self.now)
        self.assertRegex(self.cli.ok("token", "revoke", "live"),
                         r"^token 'live' was already revoked at %s\n$" % ISO_RE)
        self.assertEqual(self.cli.json("token", "revoke", "gone"),
                         {"jti": "gone", "revoked_at": self.now - 1,
                          "already_revoked": True})
        self.assertEqual(rows(self.db, "SELECT revoked_at FROM access_tokens "
                              "WHERE jti='gone'"), [(self.now - 1,)])
        r = self.cli.json("token", "revoke", "other")
        self.assertFalse(r["already_revoked"])
        self.refused(["token", "revoke", "nope"], 1, "token 'nope' not found")

    def test_revoke_client(self):
        self.assertEqual(self.cli.ok("token", "revoke", "--client", "ca"),
                         "revoked 2 token(s) of client 'ca'\n")
        self.assertEqual(rows(self.db, "SELECT jti FROM access_tokens WHERE "
                              "revoked_at IS NULL"), [("other",)])
        self.assertEqual(rows(self.db, "SELECT revoked_at FROM access_tokens "
                              "WHERE jti='gone'"), [(self.now - 1,)])
        self.assertEqual(self.cli.json("token", "revoke", "--client", "ca"),
                         {"client_id": "ca", "revoked": 0})

    def test_revoke_refusals(self):
        self.refused(["token", "revoke", "live", "--client", "ca"], 2,
                     "give either a JTI or --client, not both")
        self.refused(["token", "revoke"], 2,
                     "'token revoke' needs a JTI, --client ID, --family ID "
                     "or --user NAME")
        self.refused(["token", "revoke", "--client", "nope"], 1,
                     "client 'nope' not found")
        self.refused(["token", "revoke", "a", "b"], 2,
                     "unexpected argument 'b' for 'token revoke'")


class TestRefreshTokens(CliTest):
    """token list --refresh and the new filters, over records written
    here (test_cli_tokens.py has the ones a real server writes)."""

    def setUp(self):
        super().setUp()
        self.cli.ok("client", "add", "A", "--id", "ca")
        self.cli.ok("client", "add", "B", "--id", "cb")
        self.kid = self.add_key()
        self.uid = self.add_user("alice")["user_id"]
        self.now = n = int(time.time())
        # Family F: rotated twice, now live. G: revoked after a rotation.
        # H: expired; I: rotated and expired; J: another subject.
        self.add_refresh("f1", "F", "ca", self.uid, n - 30, n + 900,
                         retired_at=n - 20, username="alice",
                         access_jti="af1")
        self.add_refresh("f2", "F", "ca", self.uid, n - 20, n + 900,
                         retired_at=n - 10, username="alice")
        self.add_refresh("f3", "F", "ca", self.uid, n - 10, n + 900,
                         username="alice", scope="read write")
        self.add_refresh("g1", "G", "cb", self.uid, n - 9, n + 900,
                         retired_at=n - 8, revoked_at=n - 5,
                         username="alice")
        self.add_refresh("g2", "G", "cb", self.uid, n - 8, n + 900,
                         revoked_at=n - 5, username="alice")
        self.add_refresh("h1", "H", "ca", self.uid, n - 7, n - 1,
                         username="alice")
        self.add_refresh("i1", "I", "ca", self.uid, n - 6, n - 1,
                         retired_at=n - 3, username="alice")
        self.add_refresh("j1", "J", "ca", "ca", n - 5, n + 900)
        self.add_token("af1", "ca", self.kid, n - 30, n + 600, sub=self.uid,
                       family="F")
        self.add_token("af3", "ca", self.kid, n - 10, n + 600, sub=self.uid,
                       family="F")
        self.add_token("plain", "ca", self.kid, n - 4, n + 600, sub="ca")

    def test_refresh_json_and_status(self):
        listed = self.cli.json("token", "list", "--refresh")
        # Oldest first; a refresh token is identified by nothing printable.
        self.assertEqual([(r["family_id"], r["status"]) for r in listed], [
            ("F", "rotated"), ("F", "rotated"), ("F", "active"),
            ("G", "revoked"), ("G", "revoked"), ("H", "expired"),
            ("I", "rotated"), ("J", "active")])
        self.assertEqual(listed[0], {
            "family_id": "F", "client_id": "ca", "sub": self.uid,
            "username": "alice", "scope": "read", "access_jti": "af1",
            "iat": self.now - 30, "exp": self.now + 900,
            "retired_at": self.now - 20, "revoked_at": None,
            "status": "rotated"})
        self.assertEqual(listed[3]["revoked_at"], self.now - 5)
        self.assertEqual(listed[3]["retired_at"], self.now - 8)
        self.assertIsNone(listed[7]["username"])
        # Every object has exactly those keys: never the token's hash.
        self.assertEqual({frozenset(r) for r in listed}, {frozenset(listed[0])})

        active = self.cli.json("token", "list", "--refresh", "--active")
        self.assertEqual([r["family_id"] for r in active], ["F", "J"])

    def test_refresh_text(self):
        text = self.cli.ok("token", "list", "--refresh", "--family", "F")
        lines = [re.split(r"\s{2,}", line) for line in text.splitlines()]
        self.assertEqual(lines[0], ["FAMILY", "CLIENT_ID", "SUBJECT",
                                    "USERNAME", "SCOPE", "ISSUED", "EXPIRES",
                                    "STATUS"])
        self.assertEqual(len(lines), 4)
        self.assertEqual(lines[3][:5], ["F", "ca", self.uid, "alice",
                                        "read write"])
        self.assertRegex(lines[3][5], ISO_RE)
        self.assertEqual([line[7] for line in lines[1:]],
                         ["rotated", "rotated", "active"])
        # A client's refresh token has no username.
        text = self.cli.ok("token", "list", "--refresh", "--client", "ca",
                           "--active").splitlines()
        self.assertEqual(len(text), 3)
        self.assertEqual(re.split(r"\s{2,}", text[2])[:4],
                         ["J", "ca", "ca", "-"])

    def test_filters(self):
        def fams(*args):
            return [r["family_id"] for r in
                    self.cli.json("token", "list", "--refresh", *args)]
        self.assertEqual(fams("--user", "alice"),
                         ["F", "F", "F", "G", "G", "H", "I"])
        self.assertEqual(fams("--user", "alice", "--client", "cb"),
                         ["G", "G"])
        self.assertEqual(fams("--family", "G", "--client", "ca"), [])
        self.assertEqual(fams("--family", "nope"), [])
        self.assertEqual(fams("--user", "alice", "--active"), ["F"])
        # The access-token listing takes the same filters.
        def jtis(*args):
            return [t["jti"] for t in self.cli.json("token", "list", *args)]
        self.assertEqual(jtis("--user", "alice"), ["af1", "af3"])
        self.assertEqual(jtis("--family", "F"), ["af1", "af3"])
        self.assertEqual(jtis("--family", "F", "--client", "cb"), [])
        self.assertEqual(jtis(), ["af1", "af3", "plain"])
        self.assertEqual([t["family_id"] for t in
                          self.cli.json("token", "list")], ["F", "F", None])
        self.add_user("bob")
        self.assertEqual(jtis("--user", "bob"), [])
        self.assertEqual(fams("--user", "bob"), [])

    def test_revoke_family_and_user(self):
        self.assertEqual(self.cli.ok("token", "revoke", "--family", "F"),
                         "revoked 5 token(s) of family 'F'\n")
        self.assertEqual(rows(self.db, "SELECT token_hash FROM refresh_tokens "
                              "WHERE revoked_at IS NULL ORDER BY token_hash"),
                         [("h1",), ("i1",), ("j1",)])
        self.assertEqual(rows(self.db, "SELECT jti FROM access_tokens WHERE "
                              "revoked_at IS NULL"), [("plain",)])
        # Again: nothing left, and the family still exists.
        self.assertEqual(self.cli.json("token", "revoke", "--family", "F"),
                         {"family_id": "F", "revoked": 0})
        # G was revoked before: its revocation time stays.
        self.assertEqual(self.cli.json("token", "revoke", "--user", "alice"),
                         {"username": "alice", "revoked": 2,
                          "sessions_ended": 0})
        self.assertEqual(rows(self.db, "SELECT DISTINCT revoked_at FROM "
                              "refresh_tokens WHERE family_id='G'"),
                         [(self.now - 5,)])
        self.assertEqual(rows(self.db, "SELECT token_hash FROM refresh_tokens "
                              "WHERE revoked_at IS NULL"), [("j1",)])
        self.assertEqual(self.cli.ok("token", "revoke", "--user", "alice"),
                         "revoked 0 token(s) of user 'alice'; ended 0 browser "
                         "session(s)\n")

    def test_refusals(self):
        usage = [
            (["x", "--family", "F"], "give either a JTI or --family, not both"),
            (["x", "--user", "alice"], "give either a JTI or --user, not both"),
            (["--client", "ca", "--family", "F"],
             "give either --client or --family, not both"),
            (["--client", "ca", "--user", "alice"],
             "give either --client or --user, not both"),
            (["--family", "F", "--user", "alice"],
             "give either --family or --user, not both"),
            (["x", "--client", "ca", "--family", "F", "--user", "alice"],
             "give either a JTI or --client, not both"),
            (["--refresh"],
             "option --refresh does not apply to 'token revoke'"),
            (["--family", "F", "--active"],
             "option --active does not apply to 'token revoke'"),
            (["--user", "a", "--user", "b"],
             "option --user given more than once"),
        ]
        for args, msg in usage:
            with self.subTest(args=args):
                self.refused(["token", "revoke"] + args, 2, msg)
        self.refused(["--db", self.db, "token", "revoke", "--family"], 2,
                     "option --family needs a value", use_db=False)
        for args, msg in [
                (["--family", "nope"], "family 'nope' not found"),
                (["--user", "nobody"], "user 'nobody' not found"),
                # A family is a refresh-token family, not a string that
                # happens to be some access token's family_id.
                (["--family", "ca"], "family 'ca' not found")]:
            with self.subTest(args=args):
                self.refused(["token", "revoke"] + args, 1, msg)
        for args in (["--user", "nobody"], ["--refresh", "--user", "nobody"]):
            with self.subTest(args=args):
                self.refused(["token", "list"] + args, 1,
                             "user 'nobody' not found")
        self.refused(["token", "list", "--refresh", "--client", "nope"], 1,
                     "client 'nope' not found")
        for cmd in (["client", "list"], ["user", "list"], ["key", "list"]):
            with self.subTest(cmd=cmd):
                self.refused(cmd + ["--refresh"], 2,
                             "option --refresh does not apply to '%s'"
                             % " ".join(cmd))
                self.refused(cmd + ["--user", "alice"], 2,
                             "option --user does not apply to '%s'"
                             % " ".join(cmd))
        self.assertEqual(rows(self.db, "SELECT count(*) FROM refresh_tokens "
                              "WHERE revoked_at IS NULL"), [(6,)])


class TestKeys(CliTest):
    KEYS = {"kid", "alg", "created_at", "previous_kid", "promoted"}

    def current(self):
        """{alg: kid} of the current keys, from the database."""
        return dict(rows(self.db, "SELECT alg, kid FROM signing_keys WHERE "
                         "retired_at IS NULL"))

    def ini(self, text):
        path = os.path.join(self.dir, "keys.ini")
        with open(path, "w") as f:
            f.write("[latchkeyd]\n" + text)
        return path

    def test_rotate_both_then_one(self):
        self.assertEqual(self.cli.json("key", "list"), [])
        first = self.cli.json("key", "rotate")
        # Top level: the access-token key (ES256 by default), as before.
        self.assertEqual(set(first), self.KEYS | {"keys"})
        self.assertEqual(first["alg"], "ES256")
        self.assertIsNone(first["previous_kid"])
        self.assertRegex(first["kid"], r"^[A-Za-z0-9_-]{43}$")
        self.assertEqual([k["alg"] for k in first["keys"]],
                         ["ES256", "RS256"])
        for k in first["keys"]:
            self.assertEqual(set(k), self.KEYS)
            self.assertIsNone(k["previous_kid"])
        self.assertEqual({x: first[x] for x in self.KEYS}, first["keys"][0])
        es1, rs1 = first["keys"][0]["kid"], first["keys"][1]["kid"]
        self.assertEqual(self.current(), {"ES256": es1, "RS256": rs1})

        # --alg RS256: that key only; the top level is the one rotated.
        out = self.cli.ok("key", "rotate", "--alg", "RS256")
        m = re.match(r"^new signing key (\S+) \(RS256\)\nretired key (\S+): "
                     r"the server publishes it until the tokens it signed "
                     r"have expired, and for id_token_ttl\n$", out)
        self.assertIsNotNone(m, out)
        rs2 = m.group(1)
        self.assertEqual(m.group(2), rs1)
        self.assertEqual(self.current(), {"ES256": es1, "RS256": rs2})
        one = self.cli.json("key", "rotate", "--alg", "RS256")
        self.assertEqual((one["alg"], one["previous_kid"]), ("RS256", rs2))
        self.assertEqual([k["kid"] for k in one["keys"]], [one["kid"]])
        rs3 = one["kid"]
        one = self.cli.json("key", "rotate", "--alg", "ES256")
        self.assertEqual((one["alg"], one["previous_kid"]), ("ES256", es1))
        self.assertEqual(len(one["keys"]), 1)
        es2 = one["kid"]
        self.assertEqual(self.current(), {"ES256": es2, "RS256": rs3})

        # Both again, text: each algorithm's new key and the one it retired.
        out = self.cli.ok("key", "rotate").splitlines()
        self.assertEqual(len(out), 4, out)
        self.assertRegex(out[0], r"^new signing key \S+ \(ES256\)$")
        self.assertTrue(out[1].startswith("retired key %s: " % es2), out)
        self.assertRegex(out[2], r"^new signing key \S+ \(RS256\)$")
        self.assertTrue(out[3].startswith("retired key %s: " % rs3), out)
        self.assertEqual(rows(self.db, "SELECT alg, count(*) FROM "
                              "signing_keys WHERE retired_at IS NULL GROUP BY "
                              "alg ORDER BY alg"),
                         [("ES256", 1), ("RS256", 1)])
        self.assertEqual(rows(self.db, "SELECT count(*) FROM signing_keys"),
                         [(7,)])

    def test_json_top_level_follows_the_configs_signing_alg(self):
        ini = self.ini("signing_alg = RS256\n")
        both = self.cli.json("--config", ini, "key", "rotate")
        self.assertEqual(both["alg"], "RS256")
        self.assertEqual([k["alg"] for k in both["keys"]], ["RS256", "ES256"])
        self.assertEqual(both["kid"], both["keys"][0]["kid"])
        # Only the other algorithm rotated: its key is the top level.
        es = self.cli.json("--config", ini, "key", "rotate", "--alg", "ES256")
        self.assertEqual(es["alg"], "ES256")
        self.assertEqual(es["previous_kid"], both["keys"][1]["kid"])

    def test_list_and_published(self):
        first = self.cli.json("key", "rotate")
        second = self.cli.json("key", "rotate", "--alg", "ES256")
        es1, rs1 = first["keys"][0]["kid"], first["keys"][1]["kid"]
        es2 = second["kid"]

        # Both current keys, then the retired one.
        listed = self.cli.json("key", "list")
        self.assertEqual([k["kid"] for k in listed[2:]], [es1])
        keys = {k["kid"]: k for k in listed}
        self.assertEqual(set(keys), {es1, rs1, es2})
        for kid, alg in ((es2, "ES256"), (rs1, "RS256")):
            self.assertEqual((keys[kid]["alg"], keys[kid]["status"],
                              keys[kid]["retired_at"], keys[kid]["published"]),
                             (alg, "current", None, True))
        old = keys[es1]
        self.assertEqual((old["alg"], old["status"]), ("ES256", "retired"))
        self.assertIsInstance(old["retired_at"], int)
        self.assertGreaterEqual(old["retired_at"], old["created_at"])
        # Just retired: published for id_token_ttl (ID tokens are not
        # recorded), token or not.
        self.assertTrue(old["published"])
        self.assertNotIn("PRIVATE", json.dumps(listed))

        # Retired longer ago than id_token_ttl (default 3600) plus the
        # 62 s margin (KEY_PUBLISH_GRACE) and no unexpired token: withdrawn.
        now = int(time.time())
        with connect(self.db) as db:
            db.execute("UPDATE signing_keys SET retired_at=? WHERE kid=?",
                       (now - 3700, es1))
            db.commit()
        keys = {k["kid"]: k for k in self.cli.json("key", "list")}
        self.assertFalse(keys[es1]["published"])
        # The CLI applies its config's id_token_ttl, as the server does.
        ini = self.ini("id_token_ttl = 7200\n")
        keys = {k["kid"]: k for k in self.cli.json("--config", ini, "key",
                                                   "list")}
        self.assertTrue(keys[es1]["published"])
        # $LATCHKEY_CONFIG (naming the database) counts the same.
        ini = self.ini("db = %s\nid_token_ttl = 7200\n" % self.db)
        p = self.cli.run("key", "list", "--json", use_db=False,
                         env=dict(self.cli.env, LATCHKEY_CONFIG=ini))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue({k["kid"]: k for k in json.loads(p.stdout)}
                        [es1]["published"])
        ini = self.ini("id_token_ttl = 3500\n")
        keys = {k["kid"]: k for k in self.cli.json("--config", ini, "key",
                                                   "list")}
        self.assertFalse(keys[es1]["published"])

        # A token signed by the retired key keeps it published.
        self.cli.ok("client", "add", "c", "--id", "c")
        self.add_token("t", "c", es1, now, now + 600)
        keys = self.cli.json("key", "list")
        self.assertEqual([k["published"] for k in keys], [True, True, True])
        text = self.cli.ok("key", "list").splitlines()
        self.assertEqual(re.split(r"\s{2,}", text[0]),
                         ["KID", "ALG", "CREATED", "RETIRED", "STATUS",
                          "PUBLISHED"])
        table = {line.split()[0]: re.split(r"\s{2,}", line)
                 for line in text[1:]}
        self.assertEqual(table[rs1][1:], [
            "RS256", table[rs1][2], "-", "current", "yes"])
        self.assertRegex(table[rs1][2], ISO_RE)
        self.assertEqual(table[es1][4:], ["retired", "yes"])
        self.assertRegex(table[es1][3], ISO_RE)
        self.assertNotIn("PRIVATE", "".join(text))

    def test_bad_alg(self):
        for bad in ("HS256", "es256", "ES256,RS256"):
            with self.subTest(alg=bad):
                self.refused(["key", "rotate", "--alg", bad], 2,
                             "unknown --alg '%s': ES256 or RS256" % bad)
        self.assertEqual(rows(self.db, "SELECT count(*) FROM signing_keys"),
                         [(0,)])


if __name__ == "__main__":
    unittest.main()
