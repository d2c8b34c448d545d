"""Harness for end-to-end tests: the real latchkeyd and latchkey binaries.

A test gets a temporary directory with its own database, registers
clients with the real CLI, starts latchkeyd on 127.0.0.1 port 0, reads the
JSON ready line from its stdout, and talks HTTP with http.client. Nothing
here mocks the server.

LK_BACKEND=sqlite (the default) or postgresql chooses the database: a
SQLite file in the test's directory, or a PostgreSQL database cloned from
the template of the ctest fixture's cluster (LK_TEST_PG); self.db is the
path or the URI, passed to --db unchanged either way. Tests read and write
it through lk_db (db_query), never through sqlite3 directly. Tests that
are SQLite-only by nature are listed in SQLITE_ONLY below, and nowhere
else; lk_run.py skips them on postgresql and prints how many.
"""
import base64
import http.client
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse

import lk_db
from lk_db import db_query  # noqa: F401  (the one way to query, re-exported)

LATCHKEYD = os.environ.get("LATCHKEYD", "latchkeyd")
LATCHKEY = os.environ.get("LATCHKEY", "latchkey")
SANITIZED = os.environ.get("LK_SANITIZE", "0") in ("1", "ON", "TRUE", "true")
# LK_VALGRIND=1 runs latchkeyd under valgrind's memcheck: any invalid
# access or definite leak makes it exit 99, which tearDown reports.
VALGRIND = os.environ.get("LK_VALGRIND", "0") == "1"
READY_TIMEOUT = 120 if VALGRIND else 30 if SANITIZED else 10
# The schema version this checkout's binaries bring a database to.
LATEST_SCHEMA = len([f for f in os.listdir(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "migrations"))
    if f.endswith(".sql")])
SOURCE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                          "..")


def lk_commit():
    """The source commit the binaries must say they were built from
    (cmake/commit_id.cmake): this checkout's HEAD, 12 digits. They add
    "-dirty" when the tree had changes at build time, which a test cannot
    know afterwards (installing test dependencies may touch the tree), so
    compare with assertCommit. A tree without git: "unknown"."""
    if os.environ.get("LATCHKEY_COMMIT"):
        return os.environ["LATCHKEY_COMMIT"]
    head = subprocess.run(["git", "-C", SOURCE_DIR, "rev-parse",
                           "--short=12", "HEAD"], capture_output=True,
                          text=True)
    return head.stdout.strip() if head.returncode == 0 else "unknown"


def lk_version():
    """Latchkey's version where it is written, CMake's project(VERSION):
    what --version, /healthz and the metrics must all say."""
    import re
    with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as f:
        return re.search(r"project\(latchkey VERSION (\S+)", f.read())[1]

# Tests that are SQLite-only by nature, skipped when LK_BACKEND=postgresql
# (by lk_run.py, which prints their count), with the reason: a module or a
# class ("test_x." or "test_x.Class.", a prefix of unittest's test id), or
# one test by its whole id.
SQLITE_ONLY = {
    "test_backup.": "latchkey backup copies the SQLite file "
                    "(PostgreSQL has pg_dump)",
    "test_crash.": "kill -9 under load, then the SQLite file's integrity",
    "test_copy.": "picks both backends itself (SQLite to PostgreSQL and "
                  "back, the schema of each)",
    "test_disk_faults.": "disk full, read-only and size limits on the file",
    "test_test_double.": "the test double (--ephemeral) stays SQLite",
    "test_test_double_life.": "the test double (--ephemeral) stays SQLite",
    "test_test_double_runtime.": "the test double (--ephemeral) stays "
                                 "SQLite",
    "test_test_double_tenants.": "the test double (--ephemeral) stays "
                                 "SQLite",
    "test_relying_parties.DoubleOpenIdClientTest.":
        "the test double (--ephemeral) stays SQLite",
    "test_relying_parties.DoubleAuthlibTest.":
        "the test double (--ephemeral) stays SQLite",
    "test_relying_parties.DoubleCurlTest.":
        "the test double (--ephemeral) stays SQLite",
    "test_resource_metadata.TenantsResourceMetadataTest.":
        "the test double's tenants (--ephemeral) stay SQLite",
    "test_make_run.": "make run is the embedded SQLite default",
    "test_proxies.AccessLogTest.": "the access log's fields; no store",
    "test_contrib.AlertRulesTest.": "promtool and /metrics; no store",
    "test_contrib.SampleVerifierTest.": "a verifier of tokens; no store",
    "test_manpages.": "reads the man pages and --help; no database",
    "test_cli_config.OwnerWarningTest.": "the owner of the SQLite file "
                                         "(and of its -wal and -shm)",
    "test_startup.StartupTest.test_db_mode": "the file's mode",
    "test_limits.FilePermissionsTest.": "the file's mode",
    "test_contrib.DurabilityTest.test_full_serves":
        "durability is the SQLite file's sync level",
    "test_purge.CliPurgeTest.test_the_database_does_not_grow_round_after_round":
        "the file's pages (SQLite reuses freed pages at once, PostgreSQL "
        "after a VACUUM)",
    "test_cli.TestDatabase.test_migrate": "the file's mode (0600)",
    "test_cli.TestDatabase.test_fresh_database_just_works_with_mode_0600":
        "the file's mode",
    "test_cli.TestDatabase.test_world_readable_database_warns":
        "the file's mode",
    "test_cli.TestDatabase.test_migrate_creates_private_files_under_any_umask":
        "the modes of the file, -wal and -shm",
    "test_cli.TestDatabase.test_database_path_default_env_and_flag":
        "the default file path",
}


def sqlite_only(test_id):
    """The reason test_id is SQLite-only, or None."""
    for prefix, why in SQLITE_ONLY.items():
        if (test_id.startswith(prefix) if prefix.endswith(".")
                else test_id == prefix):
            return why
    return None


class PrivateCluster:
    """A PostgreSQL cluster of one test's own (tests/pg/cluster.py), for a
    test that stops or restarts PostgreSQL under latchkeyd. uri is a fresh
    database cloned from its template; stop(), start() and restart() act
    on the server (stop and restart as a crash: -m immediate) and keep
    every commit it acknowledged (synchronous_commit stays on)."""

    def __init__(self, directory):
        self.dir = directory
        self.template = lk_db.cluster.start(directory, durable_commits=True)
        self.uri = lk_db.clone(self.template)

    def stop(self):
        lk_db.cluster.pg_ctl(self.dir, "stop", "-m", "immediate")

    def start(self):
        lk_db.cluster.pg_ctl(self.dir, "start")

    def restart(self):
        lk_db.cluster.pg_ctl(self.dir, "restart", "-m", "immediate")

    def remove(self):
        lk_db.cluster.stop(self.dir)


def private_cluster(case):
    """Starts a cluster in a new short directory under /tmp (socket paths
    are short), stopped and removed when the test ends, after its servers
    (skipped locally, a failure in CI, without PostgreSQL's server
    binaries)."""
    try:
        lk_db.cluster.bindir()
    except RuntimeError as e:
        skip_or_fail(case, str(e))
    c = PrivateCluster(tempfile.mkdtemp(prefix="lk-pg-"))
    case.addCleanup(c.remove)
    return c


def cli(db, *args, stdin=None, check=True):
    """Runs the real admin CLI against db; returns CompletedProcess."""
    p = subprocess.run([LATCHKEY, "--db", db, *args], input=stdin,
                       capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"latchkey {' '.join(args)} failed "
                             f"({p.returncode}): {p.stderr}")
    return p


def add_client(db, name, *args):
    """Registers a client; returns the --json object (with the secret)."""
    return json.loads(cli(db, "client", "add", name, "--json", *args).stdout)


def basic(client_id, secret):
    """RFC 6749 section 2.3.1: form-encode, then Basic (RFC 7617)."""
    raw = (urllib.parse.quote_plus(client_id) + ":" +
           urllib.parse.quote_plus(secret)).encode()
    return "Basic " + base64.b64encode(raw).decode()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body

    def json(self):
        return json.loads(self.body)


class Server:
    """One latchkeyd process on a loopback port 0."""

    def __init__(self, workdir, db, *args, env=None):
        self.log_path = os.path.join(workdir, f"latchkeyd-{time.time_ns()}.log")
        self.log = open(self.log_path, "wb")
        full_env = dict(os.environ)
        full_env.update(env or {})
        cmd = [LATCHKEYD, "--listen", "127.0.0.1:0", "--db", db, *args]
        self.vg_log = None
        if VALGRIND:
            self.vg_log = self.log_path + ".valgrind"
            cmd = ["valgrind", "--quiet", "--error-exitcode=99",
                   "--leak-check=full", "--errors-for-leak-kinds=definite",
                   "--show-leak-kinds=definite", "--track-fds=no",
                   f"--log-file={self.vg_log}", *cmd]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=self.log, env=full_env)
        self.ready = self._read_ready()
        self.port = self.ready["port"]
        self.issuer = self.ready["issuer"]

    def _read_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.proc.stdout], [], [], max(left, 0))
            if not r:
                self.kill()
                raise AssertionError("latchkeyd did not become ready:\n" +
                                     self.log_text())
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                self.proc.wait(timeout=10)
                raise AssertionError(
                    f"latchkeyd exited ({self.proc.returncode}):\n" +
                    self.log_text())
            line += chunk
        return json.loads(line)

    def request(self, method, path, body=None, headers=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)
        try:
            headers = headers or {}
            chunked = headers.get("Transfer-Encoding") == "chunked"
            conn.request(method, path, body=body, headers=headers,
                         encode_chunked=chunked)
            r = conn.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            return Response(r.status, hdrs, data)
        finally:
            conn.close()

    def token(self, form, auth=None, headers=None):
        """POST /token with a form body; auth is (client_id, secret)."""
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        if auth is not None:
            h["Authorization"] = basic(*auth)
        h.update(headers or {})
        body = form if isinstance(form, (str, bytes)) else \
            urllib.parse.urlencode(form)
        return self.request("POST", "/token", body=body, headers=h)

    def introspect(self, token, auth):
        """POST /introspect as auth (client_id, secret); the JSON body."""
        r = self.request("POST", "/introspect",
                         body=urllib.parse.urlencode({"token": token}),
                         headers={"Content-Type":
                                  "application/x-www-form-urlencoded",
                                  "Authorization": basic(*auth)})
        if r.status != 200:
            raise AssertionError(f"introspect: {r.status} {r.body!r}")
        return r.json()

    def raw(self, data, timeout=30):
        """Sends bytes as they are (framing http.client would not send)
        and returns every byte the server sends until it closes."""
        with socket.create_connection(("127.0.0.1", self.port),
                                      timeout=timeout) as sock:
            sock.sendall(data)
            got = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return got
                got += chunk

    def get_json(self, path):
        r = self.request("GET", path)
        if r.status != 200:
            raise AssertionError(f"GET {path}: {r.status} {r.body!r}")
        return r.json()

    # latchkeyd writes access lines from a buffer every 100 ms.
    LOG_SETTLE = 0.25

    def log_text(self):
        if self.proc.poll() is None:
            time.sleep(self.LOG_SETTLE)
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        """SIGTERM; returns the exit status (0 is a clean shutdown, and
        under ASan also means no leak was reported)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc.stdout.close()
        self.log.close()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def skip_or_fail(case, why):
    """A test that cannot run here: skipped locally with its reason in one
    line, a failure in CI (CI=true), where every dependency must be there
    (shared/DECISIONS.md)."""
    if os.environ.get("CI") == "true":
        case.fail(f"cannot run in CI: {why}")
    case.skipTest(why)


class LatchkeyTestCase(unittest.TestCase):
    """Gives each test a directory and database, and stops every server it
    started, asserting a clean exit."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="lk-e2e-")
        self.servers = []
        self.db = lk_db.new_database(self,
                                     os.path.join(self.dir, "latchkey.db"))

    def tearDown(self):
        for s in self.servers:
            rc = s.stop()
            if rc != 0:
                vg = ""
                if s.vg_log and os.path.exists(s.vg_log):
                    with open(s.vg_log) as f:
                        vg = "\nvalgrind:\n" + f.read()
                self.fail(f"latchkeyd exited {rc}:\n{s.log_text()}{vg}")
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, *args, env=None):
        s = Server(self.dir, self.db, *args, env=env)
        self.servers.append(s)
        return s

    def write_fixtures(self, fixtures):
        """Writes a fixtures dict to self.fixtures (a file in self.dir)."""
        self.fixtures = os.path.join(self.dir, "fixtures.json")
        with open(self.fixtures, "w") as f:
            json.dump(fixtures, f)

    def start_double(self, *args, env=None):
        """The test double: --ephemeral with self.fixtures and
        --test-double."""
        return self.start("--ephemeral", "--fixtures", self.fixtures,
                          "--test-double", *args, env=env)

    def assertCommit(self, got):
        """got is what a binary says of its source commit: this
        checkout's (lk_commit), maybe marked -dirty."""
        want = lk_commit()
        self.assertIn(got, (want, want + "-dirty"))

    def assertOAuthError(self, r, status, code):
        self.assertEqual(r.status, status, r.body)
        self.assertTrue(r.headers.get("content-type", "").startswith(
            "application/json"), r.headers)
        self.assertEqual(r.json()["error"], code, r.body)
        self.assertIsInstance(r.json().get("error_description"), str)
