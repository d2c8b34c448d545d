"""lk_db: the one way end-to-end tests read and write the database of
either backend (shared/DECISIONS.md, "Tests on both backends"), and the
databases themselves: a file path is SQLite (Python's sqlite3), a
postgresql:// or postgres:// URI is PostgreSQL (through psql, since the
tests need no Python driver). Tests write SQL with ? placeholders; on
PostgreSQL each value travels as a psql variable (-v pN=VALUE) and is
quoted by psql (:'pN', libpq's PQescapeLiteral), never pasted into the
text; rows come back as tuples of JSON-typed values (int, str, None),
as sqlite3 gives them.

LK_BACKEND (sqlite, the default, or postgresql) chooses the backend of
each test's database: new_database() makes a file path, or a database
cloned from the template of the cluster named by LK_TEST_PG (the ctest
fixture `pg`, tests/pg/cluster.py). Standard library only.
"""
import json
import os
import re
import secrets
import sqlite3
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pg"))
import cluster  # noqa: E402  (tests/pg/cluster.py)

BACKEND = os.environ.get("LK_BACKEND", "sqlite")
if BACKEND not in ("sqlite", "postgresql"):
    raise RuntimeError("LK_BACKEND must be sqlite or postgresql, not %r"
                       % BACKEND)
POSTGRESQL = BACKEND == "postgresql"
_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


def is_pg(db):
    return db.startswith(("postgresql://", "postgres://"))


# -- PostgreSQL through psql ------------------------------------------------

def _with_dbname(uri, name):
    u = urllib.parse.urlsplit(uri)
    return "%s://%s/%s%s" % (u.scheme, u.netloc, name,
                             "?" + u.query if u.query else "")


def _dbname(uri):
    name = urllib.parse.urlsplit(uri).path.lstrip("/")
    if not _NAME_RE.match(name):
        raise ValueError("unexpected database name %r" % name)
    return name


def _literal(v):
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, (int, float, str)):
        return str(v)
    raise TypeError("lk_db: cannot pass %r to psql" % type(v))


def _bind(sql, params):
    """sql with each ? outside quotes made a psql variable; the -v args."""
    out, args, n, quote = [], [], 0, None
    params = list(params)
    for ch in sql:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            if n >= len(params):
                raise ValueError("lk_db: more ? than parameters")
            v = params[n]
            n += 1
            if v is None:
                out.append("NULL")
            else:
                args += ["-v", "p%d=%s" % (n, _literal(v))]
                out.append(":'p%d'" % n)
            continue
        out.append(ch)
    if n != len(params):
        raise ValueError("lk_db: %d parameters for %d ?" % (len(params), n))
    return "".join(out), args


class _Pairs(list):
    pass


def _plain(v):
    if isinstance(v, _Pairs):
        return {k: _plain(x) for k, x in v}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _pg_query(db, sql, params):
    body, args = _bind(sql.strip().rstrip(";"), params)
    if not re.match(r"(?is)^\s*(select|with|values)\b", body):
        cluster.psql(db, body + ";\n", *args)
        return []
    out = cluster.psql(db, "SELECT coalesce(json_agg(lk_q), '[]') FROM (\n"
                       + body + "\n) lk_q;\n", *args)
    rows = json.loads(out, object_pairs_hook=_Pairs)
    return [tuple(_plain(v) for _, v in r) for r in rows]


# -- either backend ----------------------------------------------------------

def db_query(db, sql, params=()):
    """Runs one statement on db (a path or a URI) and commits it; returns
    its rows as a list of tuples ([] for a statement without rows)."""
    if is_pg(db):
        return _pg_query(db, sql, params)
    conn = sqlite3.connect(db, timeout=30)
    try:
        with conn:
            return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def tables(db):
    """Names of db's tables, sorted."""
    if is_pg(db):
        sql = ("SELECT table_name FROM information_schema.tables WHERE "
               "table_schema = current_schema() AND table_type = "
               "'BASE TABLE' ORDER BY table_name")
    else:
        sql = "SELECT name FROM sqlite_schema WHERE type='table' ORDER BY name"
    return [r[0] for r in db_query(db, sql)]


class _Result:
    def __init__(self, rows):
        self.rows = rows

    def fetchall(self):
        return list(self.rows)

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def __iter__(self):
        return iter(self.rows)


class _PgConn:
    """What tests use of a sqlite3 connection (execute, executemany,
    commit, close, `with`), each statement committed on its own."""

    def __init__(self, db):
        self.db = db

    def execute(self, sql, params=()):
        return _Result(_pg_query(self.db, sql, params))

    def executemany(self, sql, seq):
        for params in seq:
            _pg_query(self.db, sql, params)

    def commit(self):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def connect(db):
    """A connection to db of either backend, shaped like sqlite3's (the
    caller closes it)."""
    if is_pg(db):
        return _PgConn(db)
    return sqlite3.connect(db, timeout=30)


# -- databases ---------------------------------------------------------------

def clone(template):
    """A new database copied from the template database the URI template
    names (nobody may be connected to it); returns its URI."""
    name = "lk_" + secrets.token_hex(8)
    # FILE_COPY (PostgreSQL 15): the template's files copied after a
    # checkpoint, which on the test cluster (fsync=off) costs less than
    # WAL-logging every block (about 0.1 s a clone, measured).
    cluster.psql(_with_dbname(template, "postgres"),
                 "CREATE DATABASE %s TEMPLATE %s STRATEGY FILE_COPY;\n"
                 % (name, _dbname(template)))
    return _with_dbname(template, name)


def drop(uri):
    """Drops the database of uri, closing what is still connected."""
    cluster.psql(_with_dbname(uri, "postgres"),
                 "DROP DATABASE IF EXISTS %s WITH (FORCE);\n" % _dbname(uri))


def new_database(case, sqlite_path):
    """The database of a test: sqlite_path on SQLite; on PostgreSQL a
    clone of LK_TEST_PG's template, dropped when the test ends. A test
    without the cluster is skipped locally and fails in CI."""
    if not POSTGRESQL:
        return sqlite_path
    template = os.environ.get("LK_TEST_PG")
    if not template:
        if os.environ.get("CI") == "true":
            case.fail("LK_BACKEND=postgresql needs LK_TEST_PG (the ctest "
                      "fixture pg)")
        case.skipTest("no PostgreSQL cluster (LK_TEST_PG unset)")
    uri = clone(template)
    case.addCleanup(drop, uri)
    return uri


def exists(db):
    """Whether db holds Latchkey's data yet: the SQLite file exists, or the
    PostgreSQL database has tables (a fresh clone of an unmigrated
    template is what a missing file is on SQLite: the first command
    migrates it)."""
    if is_pg(db):
        return bool(tables(db))
    return os.path.exists(db)


def connections(db):
    """PostgreSQL: how many of latchkey's sessions (application_name
    "latchkey", which it gives its connections) are connected to db's
    database (0 once every latchkeyd on it has closed its pool). Only
    those: an earlier psql's backend can stay listed for a moment after
    psql has gone, and autovacuum workers come and go on their own."""
    return db_query(db, "SELECT count(*) FROM pg_stat_activity WHERE "
                    "datname = current_database() AND pid <> "
                    "pg_backend_pid() AND application_name = 'latchkey' "
                    "AND backend_type = 'client backend'")[0][0]


# One psql run for a whole snapshot (tests take one before and after
# every refused command): the first query writes the second, one JSON
# object of every table's rows, which \gexec runs (nothing when there are
# no tables yet).
_PG_SNAPSHOT = (
    "SELECT 'SELECT json_build_object(' || string_agg(format("
    "'%L, (SELECT coalesce(json_agg(t), ''[]'') FROM %I t)', table_name, "
    "table_name), ', ' ORDER BY table_name) || ')' FROM "
    "information_schema.tables WHERE table_schema = current_schema() AND "
    "table_type = 'BASE TABLE' \\gexec\n")


def snapshot(db):
    """Every row of every table of db, to compare before and after."""
    if is_pg(db):
        out = cluster.psql(db, _PG_SNAPSHOT).strip()
        if not out:
            return {}
        return {t: sorted((tuple(_plain(v) for _, v in r) for r in rows),
                          key=repr)
                for t, rows in json.loads(out, object_pairs_hook=_Pairs)}
    return {t: sorted(db_query(db, "SELECT * FROM \"%s\"" % t), key=repr)
            for t in tables(db)}


def db_bytes(db):
    """What a reader of db's storage could see, to check that a secret is
    stored only hashed: the SQLite file and its WAL as they are on disk;
    on PostgreSQL, the text of every row."""
    if is_pg(db):
        return repr(snapshot(db)).encode()
    data = b""
    for suffix in ("", "-wal"):
        if os.path.exists(db + suffix):
            with open(db + suffix, "rb") as f:
                data += f.read()
    return data


def revert_to_schema_7(db):
    """Makes db (migrated to the latest schema) look like a database from
    before migration 0008 (one current key in all): migration 0019's
    client columns, 0018's, 0017's and
    0016's tables and 0015's columns gone, migration 0014's
    table and client columns, 0013's client column, 0012's audit table and 0011's client columns gone, migration 0010's partial
    family index a full one again, migration 0009's columns and indexes
    gone, the old key index back, the new one gone, and versions 8 to 17
    not recorded, so that the next start applies them as an upgrade would.
    Rows are kept: at most one current key must be in it (the old index
    refuses more)."""
    for col in ("tls_client_auth_subject_dn", "tls_client_auth_san_dns",
                "tls_client_auth_san_uri"):
        db_query(db, f"ALTER TABLE clients DROP COLUMN {col}")
    db_query(db, "DELETE FROM schema_migrations WHERE version = 19")
    db_query(db, "DROP TABLE resources")
    db_query(db, "DELETE FROM schema_migrations WHERE version = 18")
    db_query(db, "DROP TABLE trusted_issuers")
    db_query(db, "DELETE FROM schema_migrations WHERE version = 17")
    db_query(db, "DROP TABLE device_codes")
    db_query(db, "DELETE FROM schema_migrations WHERE version = 16")
    db_query(db, "ALTER TABLE clients DROP COLUMN require_dpop")
    db_query(db, "ALTER TABLE refresh_tokens DROP COLUMN dpop_jkt")
    db_query(db, "ALTER TABLE authorization_codes DROP COLUMN dpop_jkt")
    db_query(db, "DELETE FROM schema_migrations WHERE version = 15")
    db_query(db, "DROP TABLE used_jtis")
    for col in ("jwks", "token_endpoint_auth_method", "jwks_uri"):
        db_query(db, f"ALTER TABLE clients DROP COLUMN {col}")
    db_query(db, "DELETE FROM schema_migrations WHERE version = 14")
    db_query(db, "ALTER TABLE clients DROP COLUMN is_admin")
    db_query(db, "DELETE FROM schema_migrations WHERE version = 13")
    db_query(db, "DROP TABLE audit_events")
    db_query(db, "DELETE FROM schema_migrations WHERE version = 12")
    for col in ("disabled_at", "previous_secret_hash",
                "previous_secret_expires_at"):
        db_query(db, f"ALTER TABLE clients DROP COLUMN {col}")
    db_query(db, "DELETE FROM schema_migrations WHERE version = 11")
    db_query(db, "DROP INDEX access_tokens_family")
    db_query(db, "CREATE INDEX access_tokens_family ON access_tokens "
             "(family_id)")
    db_query(db, "DELETE FROM schema_migrations WHERE version = 10")
    db_query(db, "DROP INDEX sessions_sid")
    db_query(db, "DROP INDEX refresh_tokens_sid")
    for table, cols in (
            ("users", ["claims"]),
            ("clients", ["id_token_signed_response_alg", "require_nonce",
                         "post_logout_redirect_uris",
                         "logout_revokes_refresh_tokens",
                         "access_token_claims", "release_claims"]),
            ("sessions", ["sid", "amr"]),
            ("authorization_codes", ["nonce", "auth_time", "sid", "amr"]),
            ("refresh_tokens", ["auth_time", "sid", "amr"])):
        for col in cols:
            db_query(db, f"ALTER TABLE {table} DROP COLUMN {col}")
    db_query(db, "DELETE FROM schema_migrations WHERE version = 9")
    db_query(db, "DROP INDEX signing_keys_current_alg")
    db_query(db, "CREATE UNIQUE INDEX signing_keys_current ON signing_keys "
             "((retired_at IS NULL)) WHERE retired_at IS NULL")
    db_query(db, "DELETE FROM schema_migrations WHERE version = 8")
