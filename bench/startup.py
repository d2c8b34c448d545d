#!/usr/bin/python3
"""How fast latchkeyd starts as a test double: from process start to its
ready line, to the first 200 from /healthz, and to the first token.

Usage: bench/startup.py BUILD_DIR [-n RUNS] [--fixtures FILE] [--json]
                        [--with-db] [--tenants N] [--peers]
       (e.g. bench/startup.py build, or bench/startup.py build --json)

Each of RUNS runs (default 20) starts

    BUILD_DIR/latchkeyd --ephemeral --fixtures F --listen 127.0.0.1:0

and times, from just before the process is spawned:
  - ready:   the JSON ready line on its stdout;
  - healthz: the first 200 from GET /healthz (asked right after ready);
  - token:   a client_credentials token for a fixture client (only with the
             built-in fixtures: 2 clients and 1 user, as a small suite has).
then stops it with SIGTERM and checks it exits 0. Prints the median, p90
(nearest rank) and max of each, in milliseconds; --json prints one JSON
object instead. --with-db also times the same start with a fresh --db
file instead of --ephemeral, where fixture secrets are hashed with
Argon2id rather than HMAC: the difference is what --ephemeral saves.
--tenants N starts the same with N tenants in the fixtures (each its own
issuer, database and keys; the token is then a tenant's). --peers also
times oauth2-mock-server (the npm package pinned in tests/node; run
scripts/install-test-deps.sh first) the same way: spawn to its "issuer"
line, to the first 200 from its discovery document, to a
client_credentials token. Runs are sequential, on loopback only, and
bounded (10 s per start).
"""
import argparse
import base64
import http.client
import json
import math
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

FIXTURES = {
    "clients": [
        {"client_id": "svc", "client_secret": "svc-secret",
         "grants": ["client_credentials"], "scopes": ["read", "write"]},
        {"client_id": "app", "client_secret": "app-secret",
         "grants": ["password", "refresh_token"], "scopes": ["read"]},
    ],
    "users": [{"username": "dave", "password": "dave-password-1"}],
}
START_TIMEOUT = 10


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


MOCK_SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                           "tests", "node", "node_modules",
                           "oauth2-mock-server", "dist",
                           "oauth2-mock-server.mjs")


class Latchkey:
    """latchkeyd: its ready line is JSON with the port."""
    health = "/healthz"

    def __init__(self, token_path="/token"):
        self.token_path = token_path

    def port(self, stdout):
        r, _, _ = select.select([stdout], [], [], START_TIMEOUT)
        line = stdout.readline() if r else b""
        if not line:
            raise SystemExit("latchkeyd did not start")
        return json.loads(line)["port"]


class MockServer(Latchkey):
    """oauth2-mock-server: ready once it prints its issuer."""
    health = "/.well-known/openid-configuration"

    def port(self, stdout):
        deadline = time.perf_counter() + START_TIMEOUT
        seen = b""
        while time.perf_counter() < deadline:
            r, _, _ = select.select([stdout], [], [],
                                    deadline - time.perf_counter())
            chunk = os.read(stdout.fileno(), 4096) if r else b""
            if not chunk:
                break
            seen += chunk
            for line in seen.splitlines(keepends=True):
                if line.startswith(b"OAuth 2 issuer is ") and \
                        line.endswith(b"\n"):
                    return int(line.rsplit(b":", 1)[1])
        raise SystemExit("oauth2-mock-server did not start")


def one_run(cmd, with_token, kind=Latchkey()):
    """Starts cmd once; returns (ready_ms, healthz_ms, token_ms or None)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    try:
        port = kind.port(p.stdout)
        t_ready = time.perf_counter()
        while True:
            status, _ = request(port, "GET", kind.health)
            if status == 200:
                break
            if time.perf_counter() - t0 > START_TIMEOUT:
                raise SystemExit("%s never answered 200" % kind.health)
        t_health = time.perf_counter()
        t_token = None
        if with_token:
            auth = base64.b64encode(b"svc:svc-secret").decode()
            status, body = request(
                port, "POST", kind.token_path,
                "grant_type=client_credentials",
                {"Authorization": "Basic " + auth,
                 "Content-Type": "application/x-www-form-urlencoded"})
            if status != 200:
                raise SystemExit("token: %d %r" % (status, body))
            t_token = time.perf_counter()
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(START_TIMEOUT)
        p.stdout.close()
    if rc != 0 and kind.health == "/healthz":
        raise SystemExit("latchkeyd exited %d" % rc)
    ms = lambda t: (t - t0) * 1e3
    return ms(t_ready), ms(t_health), ms(t_token) if t_token else None


def summary(values):
    v = sorted(values)
    return {"median": round(statistics.median(v), 2),
            "p90": round(v[math.ceil(0.9 * len(v)) - 1], 2),
            "max": round(v[-1], 2)}


def measure(cmd, runs, with_token, fresh_db=None, kind=Latchkey()):
    rows = {"ready": [], "healthz": [], "token": []}
    for i in range(runs):
        args = list(cmd)
        if fresh_db is not None:
            db = os.path.join(fresh_db, "run%d.db" % i)
            args += ["--db", db]
        ready, health, token = one_run(args, with_token, kind)
        rows["ready"].append(ready)
        rows["healthz"].append(health)
        if token is not None:
            rows["token"].append(token)
    return {k: summary(v) for k, v in rows.items() if v}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", help="the build directory (holds latchkeyd)")
    ap.add_argument("-n", "--runs", type=int, default=20)
    ap.add_argument("--fixtures", help="a fixtures file of your own")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--with-db", action="store_true",
                    help="also time a fresh --db file (Argon2id hashing)")
    ap.add_argument("--tenants", type=int, default=0,
                    help="also time a start with N tenants")
    ap.add_argument("--peers", action="store_true",
                    help="also time oauth2-mock-server (tests/node)")
    a = ap.parse_args()
    if a.runs < 1:
        ap.error("--runs must be at least 1")
    daemon = os.path.join(a.build, "latchkeyd")
    work = tempfile.mkdtemp(prefix="lk-startup-")
    try:
        fixtures = a.fixtures
        if fixtures is None:
            fixtures = os.path.join(work, "fixtures.json")
            with open(fixtures, "w") as f:
                json.dump(FIXTURES, f)
        base = [daemon, "--fixtures", fixtures, "--listen", "127.0.0.1:0"]
        with_token = a.fixtures is None
        result = {"runs": a.runs,
                  "command": "latchkeyd --ephemeral --fixtures F "
                             "--listen 127.0.0.1:0",
                  "ephemeral": measure(base + ["--ephemeral"], a.runs,
                                       with_token)}
        if a.with_db:
            result["fresh_db"] = measure(base, a.runs, with_token, work)
        if a.tenants > 0:
            tf = os.path.join(work, "tenants.json")
            with open(tf, "w") as f:
                json.dump(dict(FIXTURES, tenants=[
                    dict(FIXTURES, name="t%d" % i, path="/realms/t%d" % i)
                    for i in range(a.tenants)]), f)
            result["tenants_%d" % a.tenants] = measure(
                [daemon, "--fixtures", tf, "--listen", "127.0.0.1:0",
                 "--ephemeral"], a.runs, True,
                kind=Latchkey("/realms/t%d/token" % (a.tenants - 1)))
        if a.peers:
            if not os.path.exists(MOCK_SERVER):
                raise SystemExit("no %s: run scripts/install-test-deps.sh"
                                 % MOCK_SERVER)
            result["oauth2-mock-server"] = measure(
                ["node", MOCK_SERVER, "-a", "127.0.0.1", "-p", "0"], a.runs,
                True, kind=MockServer())
    finally:
        shutil.rmtree(work, ignore_errors=True)

    if a.json:
        print(json.dumps(result))
        return
    print("%s, %d runs (ms from spawn)" % (result["command"], a.runs))
    print("%-30s %9s %9s %9s" % ("", "median", "p90", "max"))
    for mode in [k for k in result if isinstance(result[k], dict)]:
        for what, s in result[mode].items():
            print("%-30s %9.1f %9.1f %9.1f" % (
                "%s: %s" % (mode, what), s["median"], s["p90"], s["max"]))


if __name__ == "__main__":
    sys.exit(main())
