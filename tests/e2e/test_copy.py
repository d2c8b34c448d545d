"""`latchkey copy --from SOURCE --to DEST` end to end, and the rule of
shared/DECISIONS.md that copy and purge follow the schema.

A SQLite deployment is filled through the real latchkeyd and CLI (client
credentials, password grant with a rotated refresh token, an authorization
code flow leaving a session and consent, an unredeemed code, a rotated
key), copied to PostgreSQL, served from there by latchkeyd (what was
issued before the move still works, reuse detection included), and
copied back to a new SQLite file. Then the refusals: a non-empty or
unreachable destination, a missing source, the same database twice, a
source at another schema version, a failure half-way.

The schema tests read the real schema of both backends after migration
and compare it with the copy's catalogue (printed by `copy --json`) and
with the tables the purge test covers, so a migration that adds a table
or column fails here until copy and purge say what becomes of it.

Picks its backends itself: needs LK_TEST_PG (the ctest fixture's
`postgres` database, ADMIN in tests/CMakeLists.txt), on which it creates
and drops databases of its own.
"""
import hashlib
import json
import os
import re
import subprocess
import threading
import time
import urllib.parse

import lk_db
from lk_harness import (LATCHKEY, LatchkeyTestCase, Server, add_client, cli,
                        skip_or_fail)
from test_authorize import AuthorizeBase

PG = os.environ.get("LK_TEST_PG", "")
PASSWORD = "copy-pw-never-shown"
COPIED = ["clients", "users", "signing_keys", "access_tokens",
          "refresh_tokens", "authorization_codes", "sessions", "consents",
          "audit_events", "used_jtis", "device_codes", "trusted_issuers",
          "resources"]


def pg_database(case):
    """A new, empty PostgreSQL database of the test's own, dropped at the
    end; its URI carries a password (the test cluster trusts the socket,
    so it is never checked: it is there to be kept out of every output)."""
    if not PG:
        skip_or_fail(case, "LK_TEST_PG unset: no PostgreSQL server")
    name = "lk_copy_%d_%d" % (os.getpid(), time.time_ns() % 10**9)
    admin = lk_db._with_dbname(PG, "postgres")
    lk_db.cluster.psql(admin, "CREATE DATABASE %s;\n" % name)
    uri = lk_db._with_dbname(PG, name)
    case.addCleanup(lk_db.drop, uri)
    u = urllib.parse.urlsplit(uri)
    q = urllib.parse.parse_qsl(u.query) + [("password", PASSWORD)]
    return "%s://%s%s?%s" % (u.scheme, u.netloc, u.path,
                             urllib.parse.urlencode(q))


def copy(src, dst, *args):
    return subprocess.run([LATCHKEY, "copy", "--from", src, "--to", dst,
                           *args], capture_output=True, text=True,
                          timeout=300)


def rows(db, table, cols, order):
    return lk_db.db_query(db, "SELECT %s FROM %s ORDER BY %s"
                          % (", ".join(cols), table, order))


def counts(db):
    return {t: lk_db.db_query(db, "SELECT count(*) FROM %s" % t)[0][0]
            for t in COPIED}


class CopyBase(LatchkeyTestCase):
    def assertCopied(self, p, src, dst):
        """p succeeded, printed every table with src's count, and dst
        holds the same rows as src, column for column."""
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        out = json.loads(p.stdout)
        self.assertEqual([t["table"] for t in out["tables"]], COPIED)
        want = counts(src)
        self.assertEqual({t["table"]: t["rows"] for t in out["tables"]},
                         want)
        self.assertEqual(counts(dst), want)
        for t in out["tables"]:
            order = ", ".join(t["columns"])
            self.assertEqual(rows(dst, t["table"], t["columns"], order),
                             rows(src, t["table"], t["columns"], order),
                             t["table"])
        self.assertNotIn(PASSWORD, p.stdout + p.stderr)
        return out


class MoveTest(AuthorizeBase, CopyBase):
    """A deployment moved from SQLite to PostgreSQL and back."""

    def fill(self):
        """Everything a deployment holds, issued by the real server on the
        SQLite file self.db; returns what the test presents later."""
        k = {}
        svc = add_client(self.db, "svc", "--scope", "read")
        k["svc"] = (svc["client_id"], svc["client_secret"])
        pw = add_client(self.db, "pw", "--grant", "password", "--grant",
                        "refresh_token", "--scope", "read")
        k["pw"] = (pw["client_id"], pw["client_secret"])
        r = self.s.token({"grant_type": "client_credentials"}, auth=k["svc"])
        self.assertEqual(r.status, 200, r.body)
        k["cc"] = r.json()["access_token"]
        r = self.s.token({"grant_type": "password", "username": "dave",
                          "password": "dave-password-1"}, auth=k["pw"])
        self.assertEqual(r.status, 200, r.body)
        k["rt_retired"] = r.json()["refresh_token"]
        r = self.s.token({"grant_type": "refresh_token",
                          "refresh_token": k["rt_retired"]}, auth=k["pw"])
        self.assertEqual(r.status, 200, r.body)
        k["rt_live"] = r.json()["refresh_token"]
        k["rt_access"] = r.json()["access_token"]
        # The browser logs in and consents; the code is redeemed.
        r = self.exchange(self.login_and_consent())
        self.assertEqual(r.status, 200, r.body)
        k["code_access"] = r.json()["access_token"]
        # A second code, left unredeemed: the session and the consent
        # make /authorize answer at once.
        k["code"] = self.redirected(self.get(**self.params()), 302)["code"]
        k["verifier"] = self.verifier
        cli(self.db, "key", "rotate")
        return k

    def jwks(self, db):
        s = Server(self.dir, db)
        try:
            r = s.request("GET", "/jwks.json")
            self.assertEqual(r.status, 200, r.body)
            return r.json()
        finally:
            self.assertEqual(s.stop(), 0)

    def test_sqlite_to_postgresql_and_back(self):
        if lk_db.is_pg(self.db):
            self.skipTest("the source is the SQLite file")
        k = self.fill()
        self.s.stop()  # stop the writers before the copy
        self.servers.remove(self.s)
        statuses = json.loads(cli(self.db, "token", "list", "--refresh",
                                  "--json").stdout)
        self.assertIn("rotated", [t["status"] for t in statuses])
        pg = pg_database(self)
        p = copy(self.db, pg, "--json")
        out = self.assertCopied(p, self.db, pg)
        n = {t["table"]: t["rows"] for t in out["tables"]}
        # The server's first ES256 and RS256 keys, both rotated once.
        self.assertEqual(n["signing_keys"], 4)
        self.assertEqual(n["refresh_tokens"], 3)  # retired one included
        self.assertEqual(n["authorization_codes"], 2)
        self.assertEqual((n["sessions"], n["consents"]), (1, 1))
        self.assertIn("***", out["to"])
        # Secrets stay hashes: no secret, token or code in the copy.
        raw = lk_db.cluster.psql(pg, "SELECT * FROM clients; SELECT * FROM "
                                 "refresh_tokens; SELECT * FROM "
                                 "authorization_codes;\n")
        for secret in (k["svc"][1], k["rt_live"], k["code"]):
            self.assertNotIn(secret, raw)
        # The insertion order of refresh tokens is kept (rowid -> seq).
        self.assertEqual(
            rows(pg, "refresh_tokens", ["token_hash"], "seq"),
            rows(self.db, "refresh_tokens", ["token_hash"], "rowid"))
        jwks_before = self.jwks(self.db)

        # latchkeyd on the copy honours what was issued before the move.
        self.db_sqlite, self.db = self.db, pg
        self.serve()
        for tok in (k["cc"], k["rt_access"], k["code_access"]):
            self.assertTrue(self.active(tok))
        r = self.s.token({"grant_type": "client_credentials"}, auth=k["svc"])
        self.assertEqual(r.status, 200, r.body)  # the secret's hash moved
        r = self.s.token({"grant_type": "client_credentials"},
                         auth=(k["svc"][0], "wrong-secret-0123456789"))
        self.assertOAuthError(r, 401, "invalid_client")
        # The live refresh token works once ...
        r = self.s.token({"grant_type": "refresh_token",
                          "refresh_token": k["rt_live"]}, auth=k["pw"])
        self.assertEqual(r.status, 200, r.body)
        newest = r.json()
        # ... and its seq continues above the copied rows.
        seqs = lk_db.db_query(pg, "SELECT seq FROM refresh_tokens WHERE "
                              "token_hash = ?", (hashlib.sha256(
                                  newest["refresh_token"].encode())
                                  .hexdigest(),))
        top = lk_db.db_query(pg, "SELECT max(seq) FROM refresh_tokens")
        self.assertEqual(seqs[0][0], top[0][0])
        self.assertGreater(seqs[0][0], n["refresh_tokens"])
        # Reuse of the token retired before the move revokes the family.
        r = self.s.token({"grant_type": "refresh_token",
                          "refresh_token": k["rt_retired"]}, auth=k["pw"])
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertFalse(self.active(newest["access_token"]))
        r = self.s.token({"grant_type": "refresh_token",
                          "refresh_token": newest["refresh_token"]},
                         auth=k["pw"])
        self.assertOAuthError(r, 400, "invalid_grant")
        # The unredeemed code is redeemed once, on the new database.
        r = self.exchange(k["code"], verifier=k["verifier"])
        self.assertEqual(r.status, 200, r.body)
        # The browser's session cookie still logs in (no login page).
        code = self.redirected(self.get(**self.params()), 302)["code"]
        self.assertEqual(self.exchange(code).status, 200)
        self.s.stop()
        self.servers.remove(self.s)
        self.s = None
        self.assertEqual(self.jwks(pg), jwks_before)

        # And back: PostgreSQL to a new SQLite file, row for row.
        back = os.path.join(self.dir, "back.db")
        p = copy(pg, back, "--json")
        self.assertCopied(p, pg, back)
        self.assertEqual(
            rows(back, "refresh_tokens", ["token_hash"], "rowid"),
            rows(pg, "refresh_tokens", ["token_hash"], "seq"))
        self.assertEqual(os.stat(back).st_mode & 0o777, 0o600)


class WhileServingTest(CopyBase):
    """A copy taken while latchkeyd issues tokens on the source is one
    snapshot: every table's count matches within it (the copy checks),
    what came later is simply not in it, and the source goes on."""

    def issue_while(self, db, fn):
        add = add_client(db, "svc")
        auth = (add["client_id"], add["client_secret"])
        s = Server(self.dir, db)
        self.servers.append(s)
        stop, issued = threading.Event(), []

        def load():
            while not stop.is_set():
                r = s.token({"grant_type": "client_credentials"}, auth=auth)
                issued.append(r.status)

        t = threading.Thread(target=load)
        t.start()
        try:
            while len(issued) < 20:
                time.sleep(0.01)
            out = fn()
            # At least one token more, issued after the snapshot.
            done = len(issued)
            while len(issued) < done + 2:
                time.sleep(0.01)
            return out
        finally:
            stop.set()
            t.join()
            self.assertEqual(set(issued), {200})

    def test_sqlite_source_then_postgresql_source(self):
        if lk_db.is_pg(self.db):
            self.skipTest("the first source is the SQLite file")
        pg = pg_database(self)
        p = self.issue_while(self.db, lambda: copy(self.db, pg, "--json"))
        self.assertEqual(p.returncode, 0, p.stderr)
        n = {t["table"]: t["rows"] for t in json.loads(p.stdout)["tables"]}
        self.assertEqual(counts(pg), n)
        self.assertGreaterEqual(n["access_tokens"], 20)
        self.assertGreater(counts(self.db)["access_tokens"],
                           n["access_tokens"])
        back = os.path.join(self.dir, "back.db")
        p = self.issue_while(pg, lambda: copy(pg, back, "--json"))
        self.assertEqual(p.returncode, 0, p.stderr)
        n = {t["table"]: t["rows"] for t in json.loads(p.stdout)["tables"]}
        self.assertEqual(counts(back), n)
        self.assertGreater(counts(pg)["access_tokens"], n["access_tokens"])


class RefusalTest(CopyBase):
    def setUp(self):
        super().setUp()
        self.src = os.path.join(self.dir, "src.db")
        add_client(self.src, "svc")
        cli(self.src, "key", "rotate")

    def assertRefused(self, p, status, pattern):
        self.assertEqual(p.returncode, status, p.stdout + p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertRegex(p.stderr, pattern)
        self.assertNotIn(PASSWORD, p.stderr)

    def test_sqlite_to_sqlite_and_text_output(self):
        dst = os.path.join(self.dir, "dst.db")
        p = copy(self.src, dst)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^copied '.*src\.db' to '.*dst\.db' in "
                         r"[0-9.]+ s:\n  clients +1\n  users +0\n"
                         r"  signing_keys +2\n")  # rotated: both algs
        self.assertEqual(counts(dst), counts(self.src))

    def test_awkward_values_survive_both_ways(self):
        """Text with what COPY's text format escapes (tab, newline,
        carriage return, backslash, the \\N of NULL), non-ASCII text,
        NULLs and 64-bit integers come back as they went."""
        odd = "a\tb\nc\rd\\e \\N \u00e9\u4e2d\U0001f511 '\""
        lk_db.db_query(self.src, "UPDATE clients SET name = ?, "
                       "access_token_ttl = ?, auto_approve_as = NULL",
                       (odd, 2**62))
        lk_db.db_query(self.src, "INSERT INTO users (user_id, username, "
                       "password_hash, created_at, updated_at) VALUES ('\\N', ?, "
                       "'\\', -9007199254740993, 0)", (odd,))
        pg = pg_database(self)
        self.assertCopied(copy(self.src, pg, "--json"), self.src, pg)
        self.assertEqual(lk_db.db_query(pg, "SELECT name, access_token_ttl,"
                                        " auto_approve_as FROM clients"),
                         [(odd, 2**62, None)])
        back = os.path.join(self.dir, "back.db")
        self.assertCopied(copy(pg, back, "--json"), pg, back)
        self.assertEqual(lk_db.db_query(back, "SELECT * FROM users"),
                         [("\\N", odd, "\\", -9007199254740993, 0, "{}")])

    def test_non_empty_destination_is_refused_and_unchanged(self):
        dst = os.path.join(self.dir, "dst.db")
        cli(dst, "user", "add", "eve", "--password-stdin",
            stdin="eve-password-1\n")
        before = lk_db.snapshot(dst)
        p = copy(self.src, dst)
        self.assertRefused(p, 1, r"the destination is not empty: users "
                           r"has 1 row\(s\)")
        self.assertEqual(lk_db.snapshot(dst), before)
        pg = pg_database(self)
        cli(pg, "user", "add", "eve", "--password-stdin",
            stdin="eve-password-1\n")
        before = lk_db.snapshot(pg)
        p = copy(self.src, pg)
        self.assertRefused(p, 1, r"postgresql://[^ ]*\*\*\*.*the "
                           r"destination is not empty")
        self.assertEqual(lk_db.snapshot(pg), before)

    def test_unreachable_or_missing(self):
        p = copy(self.src, "postgresql://lk:%s@/x?host=/nonexistent&port=1"
                 % PASSWORD)
        self.assertRefused(p, 1, r"^latchkey: destination 'postgresql://lk:"
                           r"\*\*\*@/x\?host=/nonexistent&port=1': cannot "
                           r"connect to PostgreSQL")
        p = copy("postgresql://lk:%s@/x?host=/nonexistent&port=1" % PASSWORD,
                 os.path.join(self.dir, "d.db"))
        self.assertRefused(p, 1, r"^latchkey: source 'postgresql://lk:\*\*\*@")
        missing = os.path.join(self.dir, "missing.db")
        p = copy(missing, os.path.join(self.dir, "d2.db"))
        self.assertRefused(p, 1, r"source '.*missing\.db': No such file")
        self.assertFalse(os.path.exists(missing))

    def test_same_database_and_usage(self):
        p = copy(self.src, self.src)
        self.assertRefused(p, 2, r"--from and --to name the same database")
        p = copy(self.src, os.path.join(self.dir, ".", "src.db"))
        self.assertRefused(p, 2, r"the same database")
        # The sqlite: prefix names the same file.
        p = copy(self.src, "sqlite:" + self.src)
        self.assertRefused(p, 2, r"the same database")
        dst = os.path.join(self.dir, "via-prefix.db")
        p = copy("sqlite:" + self.src, "sqlite:" + dst)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(counts(dst), counts(self.src))
        p = subprocess.run([LATCHKEY, "copy", "--from", self.src],
                           capture_output=True, text=True)
        self.assertRefused(p, 2, r"copy needs --from SOURCE and --to DEST")
        p = subprocess.run([LATCHKEY, "--db", self.src, "copy", "--from",
                            self.src, "--to", "x.db"], capture_output=True,
                           text=True)
        self.assertRefused(p, 2, r"'copy' takes no --db")
        p = subprocess.run([LATCHKEY, "copy", "--help"], capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 0)
        self.assertIn("usage: latchkey copy --from SOURCE --to DEST", p.stdout)

    def test_source_schema_must_be_current(self):
        dst = os.path.join(self.dir, "dst.db")
        lk_db.db_query(self.src, "INSERT INTO schema_migrations (version, "
                       "name, checksum, applied_at) SELECT 99, 'future', "
                       "checksum, applied_at FROM schema_migrations LIMIT 1")
        p = copy(self.src, dst)
        self.assertRefused(p, 1, r"the source has schema version 99, newer "
                           r"than this Latchkey's")
        self.assertEqual(sum(counts(dst).values()), 0)
        lk_db.db_query(self.src, "DELETE FROM schema_migrations WHERE "
                       "version >= (SELECT max(version) FROM "
                       "schema_migrations WHERE version < 99)")
        p = copy(self.src, dst)
        self.assertRefused(p, 1, r"the source has schema version \d+, older "
                           r"than this Latchkey's \d+: run 'latchkey --db "
                           r"SOURCE migrate' first")

    def test_a_failure_half_way_leaves_the_destination_empty(self):
        """A user name that is not UTF-8 (SQLite stores what it is given;
        PostgreSQL refuses it) fails the copy after the clients and keys
        were written: the transaction leaves the destination empty."""
        lk_db.db_query(self.src, "INSERT INTO users (user_id, username, "
                       "password_hash, created_at, updated_at) VALUES ('u1', "
                       "CAST(X'66ff6f' AS TEXT), 'h', 1, 1)")
        pg = pg_database(self)
        p = copy(self.src, pg)
        self.assertRefused(p, 1, r"nothing was written: copying users "
                           r"\(after \d+ of 1 rows\): database I/O error: "
                           r"ERROR:  invalid byte sequence for encoding")
        self.assertEqual(sum(counts(pg).values()), 0)


# -- the schema --------------------------------------------------------------

# Columns that name an expiry: a table with one must be purged, and
# PURGED below must show it.
EXPIRY = re.compile(r"expires_at|expiry|window_start|pending")
# Table -> what the purge test below inserts and sees gone.
PURGED = {"access_tokens", "refresh_tokens", "authorization_codes",
          "sessions", "throttle", "clients", "used_jtis", "device_codes"}


def schema(db):
    """{table: [columns]} of db's real schema."""
    if lk_db.is_pg(db):
        got = lk_db.db_query(db, "SELECT table_name, column_name FROM "
                             "information_schema.columns WHERE table_schema "
                             "= current_schema() ORDER BY table_name, "
                             "ordinal_position")
    else:
        got = lk_db.db_query(db, "SELECT m.name, c.name FROM sqlite_schema m,"
                             " pragma_table_info(m.name) c WHERE m.type = "
                             "'table' AND m.name NOT LIKE 'sqlite_%'")
    out = {}
    for t, c in got:
        out.setdefault(t, []).append(c)
    return out


class SchemaTest(CopyBase):
    """shared/DECISIONS.md: a table is copied (and counted) or excluded
    with a reason; a table with an expiry column is purged."""

    def databases(self):
        sq = os.path.join(self.dir, "s.db")
        cli(sq, "migrate")
        pg = pg_database(self)
        cli(pg, "migrate")
        return [sq, pg]

    def catalogue(self):
        """What copy moves and what it leaves out, as it prints them."""
        a, b = (os.path.join(self.dir, n) for n in ("a.db", "b.db"))
        cli(a, "migrate")
        p = copy(a, b, "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertTrue(all(e["reason"] for e in out["excluded"]))
        return ({t["table"]: t["columns"] for t in out["tables"]},
                {e["table"] for e in out["excluded"]})

    def test_every_table_and_column_is_copied_or_excluded(self):
        copied, excluded = self.catalogue()
        for db in self.databases():
            real = schema(db)
            for table, cols in real.items():
                if table in excluded:
                    continue
                self.assertIn(table, copied, "%s: table %s is neither "
                              "copied nor excluded (storage/copy_catalog.c)"
                              % (db, table))
                for c in cols:
                    if "%s.%s" % (table, c) not in excluded:
                        self.assertIn(c, copied[table], "%s: %s.%s is "
                                      "neither copied nor excluded"
                                      % (db, table, c))
            for table, cols in copied.items():
                self.assertLessEqual(set(cols), set(real.get(table, [])),
                                     "%s: %s" % (db, table))

    def test_every_table_with_an_expiry_is_purged(self):
        for db in self.databases():
            for table, cols in schema(db).items():
                if any(EXPIRY.search(c) for c in cols):
                    self.assertIn(table, PURGED, "%s: %s has an expiry "
                                  "column but no purge test" % (db, table))

    def test_purge_deletes_what_expired_on_both_backends(self):
        now = int(time.time())
        for db in self.databases():
            with self.subTest(db=lk_db.is_pg(db) and "postgresql" or
                              "sqlite"):
                self.purge_one(db, now)

    def purge_one(self, db, now):
        q = lambda sql, *p: lk_db.db_query(db, sql, p)  # noqa: E731
        old, live = now - 100000, now + 3600
        q("INSERT INTO clients (client_id, name, secret_hash, grant_types, "
          "created_at, updated_at) VALUES ('c', 'c', 'h', "
          "'client_credentials', 1, 1)")
        q("INSERT INTO users (user_id, username, password_hash, created_at, updated_at) VALUES ('u', 'u', 'h', 1, 1)")
        q("INSERT INTO signing_keys VALUES ('k', 'ES256', 'pem', 1, NULL)")
        for jti, exp in (("gone", old), ("kept", live)):
            q("INSERT INTO access_tokens (jti, client_id, subject, kid, "
              "issued_at, expires_at) VALUES (?, 'c', 'u', 'k', 1, ?)",
              jti, exp)
            q("INSERT INTO refresh_tokens (token_hash, family_id, client_id,"
              " subject, issued_at, expires_at) VALUES (?, ?, 'c', 'u', 1, ?)",
              jti, jti, exp)
            q("INSERT INTO authorization_codes (code_hash, client_id, "
              "subject, username, issued_at, expires_at) VALUES (?, 'c', "
              "'u', 'u', 1, ?)", jti, exp)
            q("INSERT INTO sessions (session_hash, user_id, auth_time, expires_at) VALUES (?, 'u', 1, ?)", jti, exp)
            q("INSERT INTO used_jtis (jti_hash, expires_at) VALUES (?, ?)",
              jti, exp)
            q("INSERT INTO device_codes (device_code_hash, user_code_hash, "
              "client_id, scope, issued_at, expires_at, poll_interval) "
              "VALUES (?, ?, 'c', '', 1, ?, 5)", jti, jti, exp)
        # Clients stay; the hash of a previous secret past its grace
        # goes (issue 17), one still in its grace stays.
        for cid, exp in (("gone", old), ("kept", live)):
            q("INSERT INTO clients (client_id, name, secret_hash, "
              "grant_types, created_at, updated_at, previous_secret_hash, "
              "previous_secret_expires_at) VALUES (?, 'p', 'h', "
              "'client_credentials', 1, 1, 'old-hash', ?)", cid, exp)
        # Audit events go after audit_retention (365 days by default).
        for obj, at in (("client:gone", now - 366 * 86400),
                        ("client:kept", now - 364 * 86400)):
            q("INSERT INTO audit_events (at, actor, action, object) "
              "VALUES (?, 'cli:x', 'client.add', ?)", at, obj)
        throttled = "throttle" in schema(db)
        if throttled:
            # Gone: its window began long ago and its ticket expired.
            # Kept: a live window, or a reservation not yet expired.
            q("INSERT INTO throttle (key_hash, window_start, failures, "
              "pending) VALUES ('gone', ?, 3, ARRAY[?::bigint])",
              old, (now - 10) << 28)
            q("INSERT INTO throttle (key_hash, window_start, failures) "
              "VALUES ('kept-window', ?, 3)", now - 60)
            q("INSERT INTO throttle (key_hash, pending) VALUES "
              "('kept-ticket', ARRAY[?::bigint])", (now + 60) << 28)
        out = json.loads(cli(db, "purge", "--json").stdout)
        self.assertEqual(out, {"access_tokens": 1, "refresh_tokens": 1,
                               "authorization_codes": 1, "sessions": 1,
                               "throttle_keys": 1 if throttled else 0,
                               "previous_secrets": 1, "used_jtis": 1,
                               "device_codes": 1, "audit_events": 1})
        self.assertEqual(q("SELECT object FROM audit_events"),
                         [("client:kept",)])
        self.assertEqual(q("SELECT client_id, previous_secret_hash, "
                           "previous_secret_expires_at FROM clients WHERE "
                           "name = 'p' ORDER BY 1"),
                         [("gone", None, 0), ("kept", "old-hash", live)])
        for table, key in (("access_tokens", "jti"),
                           ("refresh_tokens", "token_hash"),
                           ("authorization_codes", "code_hash"),
                           ("sessions", "session_hash"),
                           ("used_jtis", "jti_hash"),
                           ("device_codes", "device_code_hash")):
            self.assertEqual(q("SELECT %s FROM %s" % (key, table)),
                             [("kept",)], table)
        if throttled:
            self.assertEqual(q("SELECT key_hash FROM throttle ORDER BY 1"),
                             [("kept-ticket",), ("kept-window",)])
            p = cli(db, "purge")
            self.assertEqual(p.stdout, "purged 0 access token(s), 0 refresh "
                             "token(s), 0 authorization code(s), 0 "
                             "session(s)\n")

    def test_the_server_logs_the_throttle_keys_it_purged(self):
        pg = pg_database(self)
        cli(pg, "migrate")
        old = int(time.time()) - 100000
        lk_db.db_query(pg, "INSERT INTO throttle (key_hash, window_start, "
                       "failures) VALUES ('stale', ?, 3)", (old,))
        s = Server(self.dir, pg, "--purge-interval", "1")
        self.servers.append(s)
        deadline = time.monotonic() + 15
        while (time.monotonic() < deadline and
               "throttle key(s)" not in s.log_text()):
            time.sleep(0.1)
        self.assertRegex(s.log_text(), r"purged 0 access token\(s\), 0 "
                         r"refresh token\(s\), 0 authorization code\(s\), "
                         r"0 session\(s\), 1 throttle key\(s\) in \d+ ms")
        self.assertEqual(lk_db.db_query(pg, "SELECT count(*) FROM throttle"),
                         [(0,)])
