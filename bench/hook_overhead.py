#!/usr/bin/python3
"""What on_refresh=hook costs per refresh, as a ratio against on_refresh=nothing
measured in the same run on the same machine.

Usage: bench/hook_overhead.py BUILD_DIR [N]   (e.g. build 200)

Starts latchkeyd three times on loopback with a fresh database each: policy
nothing, policy hook with /usr/bin/true (the cost of spawning alone), and
policy hook with a /bin/sh script that reads its input (a typical small
hook). Each run does N sequential refreshes over one keep-alive connection
and reports the median and p90 latency of a refresh.
"""
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from base64 import b64encode


def cli(build, db, *args, stdin=None):
    return subprocess.run([os.path.join(build, "latchkey"), "--db", db,
                           *args], input=stdin, capture_output=True,
                          text=True, check=True).stdout


def run(build, n, *flags):
    d = tempfile.mkdtemp(prefix="lk-bench-")
    db = os.path.join(d, "lk.db")
    c = json.loads(cli(build, db, "client", "add", "app", "--grant",
                       "password", "--grant", "refresh_token", "--json"))
    cli(build, db, "user", "add", "dave", "--password-stdin",
        stdin="dave-password-1\n")
    p = subprocess.Popen([os.path.join(build, "latchkeyd"), "--listen",
                          "127.0.0.1:0", "--db", db, "--log-level", "warn",
                          *flags], stdout=subprocess.PIPE)
    port = json.loads(p.stdout.readline())["port"]
    auth = "Basic " + b64encode(("%s:%s" % (c["client_id"],
                                 c["client_secret"])).encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", port)

    def token(form):
        conn.request("POST", "/token", urllib.parse.urlencode(form),
                     {"Authorization": auth, "Content-Type":
                      "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        body = json.loads(r.read())
        assert r.status == 200, body
        return body

    rt = token({"grant_type": "password", "username": "dave",
                "password": "dave-password-1"})["refresh_token"]
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        rt = token({"grant_type": "refresh_token",
                    "refresh_token": rt})["refresh_token"]
        times.append((time.perf_counter() - t0) * 1e3)
    p.terminate()
    p.wait()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)]


def main():
    build = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    d = tempfile.mkdtemp(prefix="lk-hook-")
    script = os.path.join(d, "hook.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\ncat >/dev/null\nexit 0\n")
    os.chmod(script, 0o755)
    base = run(build, n)
    rows = [("nothing", base),
            ("hook /usr/bin/true", run(build, n, "--on-refresh", "hook",
                                       "--on-refresh-hook", "/usr/bin/true")),
            ("hook sh script", run(build, n, "--on-refresh", "hook",
                                   "--on-refresh-hook", script))]
    print("%-20s %10s %10s %8s" % ("policy", "p50 ms", "p90 ms", "x p50"))
    for name, (p50, p90) in rows:
        print("%-20s %10.3f %10.3f %8.1f" % (name, p50, p90, p50 / base[0]))


if __name__ == "__main__":
    main()
