"""lk_cli_helpers: run the real `latchkey` admin CLI from end-to-end tests.

The binary comes from $LATCHKEY (set by tests/CMakeLists.txt). Every run
is checked for sanitizer reports, so an ASan build fails a test on a leak
or undefined behaviour even when the exit status looks right. Also holds
small readers and a writer of the database (either backend, through
lk_db), so tests can check what was stored without going through the CLI
under test, and set up records that only the server writes. Standard
library only.
"""
import base64
import contextlib
import ctypes
import ctypes.util
import hashlib
import hmac
import json
import os
import subprocess

import lk_db

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")


def latchkey_path():
    path = os.environ.get("LATCHKEY")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("set LATCHKEY to the built latchkey binary "
                           "(ctest does this)")
    return path


class Cli:
    """Runs latchkey against one database, in one working directory."""

    def __init__(self, db, cwd):
        self.db = db
        self.cwd = cwd
        self.env = {k: v for k, v in os.environ.items()
                    if k != "LATCHKEY_DB"}

    def run(self, *args, input=None, stdin=None, use_db=True, env=None,
            timeout=60):
        """Returns the CompletedProcess (text) of `latchkey ARGS`. With
        use_db, `--db DB` is appended (options may follow the words)."""
        argv = [latchkey_path(), *args]
        if use_db:
            argv += ["--db", self.db]
        if input is not None:
            stdin = None
        elif stdin is None:
            stdin = subprocess.DEVNULL
        p = subprocess.run(argv, input=input, stdin=stdin,
                           capture_output=True, text=True, cwd=self.cwd,
                           env=env if env is not None else self.env,
                           timeout=timeout)
        for mark in SANITIZER_MARKS:
            if mark in p.stderr:
                raise AssertionError("sanitizer report from %r:\n%s"
                                     % (args, p.stderr))
        return p

    def ok(self, *args, **kw):
        """stdout of a run that must succeed."""
        p = self.run(*args, **kw)
        if p.returncode != 0:
            raise AssertionError("latchkey %s: exit %d\nstdout: %s\n"
                                 "stderr: %s" % (" ".join(args), p.returncode,
                                                 p.stdout, p.stderr))
        return p.stdout

    def json(self, *args, **kw):
        """Parsed --json output of a run that must succeed."""
        return json.loads(self.ok(*args, "--json", **kw))


@contextlib.contextmanager
def connect(path):
    """A connection to path (a SQLite file or a PostgreSQL URI)."""
    db = lk_db.connect(path)
    try:
        yield db
    finally:
        db.close()


def rows(path, sql, params=()):
    return lk_db.db_query(path, sql, params)


def insert(path, table, **cols):
    """Writes one row into table, as the server would: for records the CLI
    only reads or removes (consents, sessions, authorization codes), so a
    CLI test does not need a running server to have them."""
    sql = "INSERT INTO %s (%s) VALUES (%s)" % (
        table, ", ".join(cols), ", ".join("?" * len(cols)))
    lk_db.db_query(path, sql, tuple(cols.values()))


def snapshot(path):
    """Every row of every table, to compare before and after a command."""
    return lk_db.snapshot(path)


def assert_refused(test, cli, args, status, message, input=None,
                   use_db=True):
    """Runs a command that must be refused: exit status, the exact first
    line on stderr, nothing on stdout, and no change to cli's database.
    Returns stderr."""
    before = snapshot(cli.db) if lk_db.exists(cli.db) else None
    p = cli.run(*args, input=input, use_db=use_db)
    test.assertEqual(p.returncode, status,
                     "%r: stdout %r stderr %r" % (args, p.stdout, p.stderr))
    test.assertEqual(p.stderr.splitlines()[0], "latchkey: " + message)
    test.assertEqual(p.stdout, "")
    if before is not None:
        test.assertEqual(snapshot(cli.db), before)
    return p.stderr


def b64decode_unpadded(s):
    return base64.b64decode(s + "=" * (-len(s) % 4))


def verify_fast_hash(phc, secret):
    """Checks a $lk-hmac-sha256$SALT$MAC string (core/secret.c) against
    secret: the MAC is HMAC-SHA256 keyed with the salt."""
    prefix = "$lk-hmac-sha256$"
    if not phc.startswith(prefix):
        return False
    salt, mac = phc[len(prefix):].split("$")
    want = hmac.new(b64decode_unpadded(salt), secret.encode(),
                    hashlib.sha256).digest()
    return hmac.compare_digest(want, b64decode_unpadded(mac))


def argon2_verifier():
    """argon2id_verify from the system libargon2, or None without it."""
    name = ctypes.util.find_library("argon2")
    if name is None:
        return None
    lib = ctypes.CDLL(name)
    lib.argon2id_verify.argtypes = [ctypes.c_char_p, ctypes.c_void_p,
                                    ctypes.c_size_t]
    lib.argon2id_verify.restype = ctypes.c_int

    def verify(phc, password):
        pw = password.encode()
        return lib.argon2id_verify(phc.encode(), pw, len(pw)) == 0
    return verify
