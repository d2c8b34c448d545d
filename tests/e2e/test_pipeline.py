"""The request pipeline (issue 16): a token request whose tokens are
minted waits for the commit that records them with its connection
suspended, holding no thread, and the store's writer commits every issue
queued meanwhile as one batch. On both backends:

- more requests in flight than worker threads (--threads 1, 24 at once)
  are all answered 200 with tokens whose records are in the database, and
  /metrics shows commits that held several issues: the batch grows with
  the load, not with the threads;
- a batch that fails to commit answers every request in it with 503
  temporarily_unavailable and Retry-After, and records none of their
  tokens; the requests after it succeed. SQLite: another process holds
  the write lock past busy_timeout (5 s). PostgreSQL: the batch waits on
  a row lock held by another session, and its backend is terminated.
"""
import concurrent.futures
import contextlib
import json
import re
import socket
import sqlite3
import subprocess
import time

import lk_db
from lk_harness import LatchkeyTestCase, add_client, basic, cli

N = 24


def batch_metrics(text):
    """{le: cumulative count} of latchkey_commit_batch_size."""
    out = {}
    for m in re.finditer(r'^latchkey_commit_batch_size_bucket\{le="([^"]+)"\}'
                         r' (\d+)$', text, re.M):
        out[m.group(1)] = int(m.group(2))
    return out


class PipelineTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        self.svc = add_client(self.db, "svc", "--scope", "read")
        self.other = add_client(self.db, "other", "--scope", "read")

    def cc(self, s, c):
        return s.token({"grant_type": "client_credentials"},
                       auth=(c["client_id"], c["client_secret"]))

    def many(self, s, c, n=N):
        with concurrent.futures.ThreadPoolExecutor(n) as ex:
            return list(ex.map(lambda _: self.cc(s, c), range(n)))

    def recorded(self, client):
        return lk_db.db_query(self.db, "SELECT count(*) FROM access_tokens WHERE "
                              "client_id = ?", (client["client_id"],))[0][0]

    def assertUnavailable(self, r):
        self.assertOAuthError(r, 503, "temporarily_unavailable")
        self.assertIn("retry-after", r.headers)

    def test_more_requests_than_threads_share_commits(self):
        s = self.start("--threads", "1")
        before = batch_metrics(s.request("GET", "/metrics").body.decode())
        self.assertEqual(before.get("+Inf"), 0, before)
        for _ in range(5):
            rs = self.many(s, self.svc)
            for r in rs:
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.json()["token_type"], "Bearer")
        self.assertEqual(self.recorded(self.svc), 5 * N)
        text = s.request("GET", "/metrics").body.decode()
        b = batch_metrics(text)
        # Every issue went through a commit, and some commits held more
        # than one (one thread could never wait on two at once).
        m = re.search(r"^latchkey_commit_batch_size_sum (\d+)$", text, re.M)
        self.assertEqual(int(m.group(1)), 5 * N, text)
        self.assertLess(b["1"], b["+Inf"], b)
        self.assertEqual(b["64"], b["+Inf"], b)  # at most 64 per commit

    def test_a_batch_that_fails_answers_all_and_records_none(self):
        s = self.start("--threads", "2")
        self.assertEqual(self.cc(s, self.svc).status, 200)  # warm
        if lk_db.is_pg(self.db):
            rs = self.fail_batch_pg(s)
        else:
            rs = self.fail_batch_sqlite(s)
        for r in rs:
            self.assertUnavailable(r)
        self.assertEqual(self.recorded(self.svc), 1)
        # Nothing is stuck: the next ones go through.
        for r in self.many(s, self.svc, 8):
            self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.recorded(self.svc), 9)

    def test_clients_that_leave_during_their_commit(self):
        """Requests whose clients close the connection while their commit
        waits: the server frees what they waited on (the ASan and valgrind
        runs check it), answers the next ones, and stops cleanly."""
        s = self.start("--threads", "1")
        body = b"grant_type=client_credentials"
        auth = basic(self.svc["client_id"], self.svc["client_secret"])
        req = (b"POST /token HTTP/1.1\r\nHost: x\r\nAuthorization: " +
               auth.encode() + b"\r\nContent-Type: application/x-www-form-"
               b"urlencoded\r\nContent-Length: %d\r\n\r\n" % len(body) +
               body)
        with self.write_lock():
            socks = []
            for _ in range(8):
                c = socket.create_connection(("127.0.0.1", s.port))
                c.sendall(req)
                socks.append(c)
            time.sleep(0.5)  # their tokens are minted and queued
            for c in socks:
                c.close()
        time.sleep(0.5)
        for r in self.many(s, self.svc, 4):
            self.assertEqual(r.status, 200, r.body)
        self.assertEqual(s.stop(), 0, s.log_text())

    @contextlib.contextmanager
    def write_lock(self):
        """Holds back every token commit (under a second: less than
        busy_timeout and db_statement_timeout, so they then succeed)."""
        if lk_db.is_pg(self.db):
            p = subprocess.Popen(["psql", "-X", "-q", self.db],
                                 stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, text=True)
            p.stdin.write("BEGIN; SELECT 1 FROM clients WHERE client_id = "
                          "'%s' FOR UPDATE;\n" % self.svc["client_id"])
            p.stdin.flush()
            time.sleep(0.3)
            try:
                yield
            finally:
                p.stdin.write("COMMIT;\n")
                p.stdin.close()
                p.wait(timeout=30)
        else:
            holder = sqlite3.connect(self.db, isolation_level=None,
                                     timeout=10)
            holder.execute("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                holder.execute("ROLLBACK")
                holder.close()

    def fail_batch_sqlite(self, s):
        """Another writer holds the database past busy_timeout."""
        holder = sqlite3.connect(self.db, isolation_level=None, timeout=10)
        holder.execute("BEGIN IMMEDIATE")
        try:
            t0 = time.monotonic()
            rs = self.many(s, self.svc)
            self.assertGreaterEqual(time.monotonic() - t0, 4.5)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return rs

    def fail_batch_pg(self, s):
        """The first issue, of another client, waits alone on that
        client's row, held by session a; the others queue behind it, then
        wait as one batch on svc's row, held by session b, and that
        batch's backend is terminated."""
        def session(client):
            p = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
                                  self.db], stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, text=True)
            send(p, "BEGIN; SELECT 1 FROM clients WHERE client_id = '%s' "
                 "FOR UPDATE;" % client["client_id"])
            return p

        def send(p, sql):
            p.stdin.write(sql + "\n")
            p.stdin.flush()

        dbname = self.db.split("/")[3].split("?")[0]
        waiting = ("FROM pg_stat_activity WHERE datname = ? AND "
                   "wait_event_type = 'Lock'")

        def await_waiter():
            deadline = time.monotonic() + 20
            while lk_db.db_query(self.db, "SELECT count(*) " + waiting,
                                 (dbname,))[0][0] == 0:
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.02)

        a, b = session(self.other), session(self.svc)
        try:
            time.sleep(0.3)  # both hold their rows
            with concurrent.futures.ThreadPoolExecutor(N + 1) as ex:
                first = ex.submit(self.cc, s, self.other)
                await_waiter()
                rest = [ex.submit(self.cc, s, self.svc) for _ in range(N)]
                time.sleep(0.5)  # they reach the queue
                send(a, "COMMIT;")
                self.assertEqual(first.result().status, 200)
                await_waiter()
                lk_db.db_query(self.db, "SELECT pg_terminate_backend(pid) "
                               + waiting, (dbname,))
                return [f.result() for f in rest]
        finally:
            for p in (a, b):
                p.stdin.close()
                p.wait(timeout=30)


class ClientCacheTest(LatchkeyTestCase):
    """The token endpoint authenticates from client records up to a
    second old (grants/client_cache.c); a change made by the CLI, another
    process, still takes effect at once: the issue's version check and a
    fresh read decide."""

    def setUp(self):
        super().setUp()
        self.svc = add_client(self.db, "svc", "--scope", "read",
                              "--scope", "write")

    def cc(self, s, secret=None, **form):
        form.setdefault("grant_type", "client_credentials")
        return s.token(form, auth=(self.svc["client_id"],
                                   secret or self.svc["client_secret"]))

    def test_a_rotated_secret_works_and_the_old_fails_at_once(self):
        s = self.start()
        self.assertEqual(self.cc(s).status, 200)  # cached now
        new = json.loads(cli(self.db, "client", "rotate-secret", self.svc["client_id"],
                             "--json").stdout)["client_secret"]
        self.assertOAuthError(self.cc(s), 401, "invalid_client")
        r = self.cc(s, secret=new)
        self.assertEqual(r.status, 200, r.body)
        self.assertOAuthError(self.cc(s), 401, "invalid_client")
        self.assertEqual(self.cc(s, secret=new).status, 200)

    def test_a_removed_client_fails_at_once(self):
        s = self.start()
        self.assertEqual(self.cc(s).status, 200)
        cli(self.db, "client", "remove", self.svc["client_id"])
        self.assertOAuthError(self.cc(s), 401, "invalid_client")

    def test_a_changed_registration_is_answered_as_it_is_now(self):
        s = self.start()
        self.assertEqual(self.cc(s, scope="write").status, 200)
        cli(self.db, "client", "update", self.svc["client_id"], "--scope", "read")
        # Narrowed: the scope it lost is refused at once ...
        self.assertOAuthError(self.cc(s, scope="write"), 400,
                              "invalid_scope")
        r = self.cc(s)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["scope"], "read")
        # ... and widened: the new one is granted at once, never a 503.
        cli(self.db, "client", "update", self.svc["client_id"], "--scope", "read",
            "--scope", "admin")
        r = self.cc(s, scope="admin")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["scope"], "admin")
        cli(self.db, "client", "update", self.svc["client_id"], "--access-token-ttl", "60")
        r = self.cc(s)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["expires_in"], 60)
