"""lk_load: what the load tests (test_crash, test_stress, test_shutdown)
share: a keep-alive HTTP client per thread, running functions on threads,
checking many tokens at /introspect in parallel, reading the server's
resident memory, checking the SQLite file's integrity, and reading the
database of either backend (lk_db).

Nothing here retries a request: a load test must see every failure, and a
POST to /token is not safe to send twice.
"""
import base64
import http.client
import json
import sqlite3
import threading
import urllib.parse

import lk_db
from lk_harness import add_client, basic, cli

FORM = "application/x-www-form-urlencoded"


class Client:
    """One keep-alive connection to latchkeyd, for one thread."""

    def __init__(self, port, timeout=60):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def post(self, path, form, auth=None):
        """POSTs a form; returns (status, parsed JSON body or None). A
        connection error propagates, and the next call reconnects."""
        headers = {"Content-Type": FORM}
        if auth is not None:
            headers["Authorization"] = basic(*auth)
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                   timeout=self.timeout)
        try:
            self.conn.request("POST", path, body=urllib.parse.urlencode(form),
                              headers=headers)
            r = self.conn.getresponse()
            data = r.read()
        except Exception:
            self.close()
            raise
        if r.getheader("Connection", "").lower() == "close":
            self.close()
        try:
            body = json.loads(data) if data else None
        except ValueError:
            body = None
        return r.status, body

    def token(self, form, auth):
        return self.post("/token", form, auth)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def run_threads(fns):
    """Runs each function on a thread of its own and waits for all. The
    first exception raised by any of them is raised here."""
    errors = []

    def wrap(fn):
        try:
            fn()
        except BaseException as e:  # reported to the test below
            errors.append(e)
    ts = [threading.Thread(target=wrap, args=(fn,)) for fn in fns]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]


def introspect_all(port, tokens, auth, nthreads=4):
    """{token: active} for every token, from /introspect as auth."""
    tokens = list(tokens)
    out = {}
    lock = threading.Lock()

    def work(part):
        c = Client(port)
        try:
            for t in part:
                st, body = c.post("/introspect", {"token": t}, auth)
                if st != 200:
                    raise AssertionError(f"introspect: {st} {body}")
                with lock:
                    out[t] = body["active"]
        finally:
            c.close()
    run_threads([lambda p=tokens[i::nthreads]: work(p)
                 for i in range(nthreads)])
    return out


def jwt_claims(token):
    """The claims of a JWT, unverified (the tests that need a verified
    signature use PyJWT with the JWKS)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" *
                                               (-len(payload) % 4)))


def rss_kb(pid):
    """VmRSS of a process in kB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def integrity(db):
    """PRAGMA integrity_check of db, opened read-only: "ok" when sound."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def query(db, sql, params=()):
    """Rows of a query on db (either backend, lk_db)."""
    return lk_db.db_query(db, sql, params)


def register_load_parties(case):
    """The parties every load test uses, set on case: svc
    (client_credentials), app (password and refresh_token), rs (a
    resource server that introspects), as (id, secret) pairs, and the
    user dave (password dave-password-1), in case.db."""
    svc = add_client(case.db, "svc", "--grant", "client_credentials")
    app = add_client(case.db, "app", "--grant", "password", "--grant",
                     "refresh_token")
    rs = add_client(case.db, "api")
    case.svc = (svc["client_id"], svc["client_secret"])
    case.app = (app["client_id"], app["client_secret"])
    case.rs = (rs["client_id"], rs["client_secret"])
    cli(case.db, "user", "add", "dave", "--password-stdin",
        stdin="dave-password-1\n")

