#!/usr/bin/python3
"""The benchmark behind `make bench`: latchkeyd and peer servers, side by
side on loopback, in the same run, under wrk.

Usage: bench/bench.py --build DIR [--duration S] [--warmup S]
                      [--conns 1,16,64]
                      [--peers oidc-provider,glewlwyd,node-oauth2-server]
                      [--workloads client_credentials,refresh,...]
                      [--pg] [--quick] [--out FILE]

For each server (latchkeyd first, then each peer), and each workload it
supports, at each connection count: a warm-up, then a measured wrk run.
wrk's Lua scripts (bench/lua/) check every response (status and body: a
real JWT access token, a rotated refresh token, "active": true), so a fast
error can never pass for a fast answer; the table shows how many were bad.
A peer whose peer.json says access_token_format "opaque" (random-string
access tokens, node-oauth2-server) is checked for a non-empty Bearer
access_token instead of a JWT; every other server still for a JWT.

Per run it reports requests per second, p50/p99 latency, non-2xx and bad
responses, and the server's CPU (utime + stime over the run, in cores);
per server the peak RSS under load (VmHWM) and, for latchkeyd, start-up
time (process start to the first 200 from /healthz, median of 20) and the
Argon2id time per hash. The table is printed and everything is written as
JSON to --out (default DIR/bench-results.json).

With --pg (issue 13, docs/scale-out.md), client_credentials and refresh
also run on latchkeyd with durability=full (SQLite's like of a durable
PostgreSQL), on one latchkeyd on PostgreSQL, and on two behind haproxy,
with each request's costs: the database's CPU, round trips, commits and
WAL fsyncs (bench/scaleout.py, which starts and stops the cluster and
haproxy).

Everything listens on 127.0.0.1 only. Peers are installed at run time by
bench/peers/NAME/start.sh (npm registry, Debian packages) into a temporary
directory; nothing of theirs is kept.
"""
import argparse
import base64
import concurrent.futures
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

import scaleout

HERE = os.path.dirname(os.path.abspath(__file__))
LUA = os.path.join(HERE, "lua")
CLK_TCK = os.sysconf("SC_CLK_TCK")
WORKLOADS = ["client_credentials", "refresh", "introspect", "jwks",
             "metadata", "password"]
PASSWORD = "bench-password-1"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def basic(client_id, secret):
    raw = (urllib.parse.quote_plus(client_id) + ":" +
           urllib.parse.quote_plus(secret)).encode()
    return "Basic " + base64.b64encode(raw).decode()


def http_req(url, method="GET", body=None, headers=None, timeout=10):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        path = u.path + ("?" + u.query if u.query else "")
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total


def vm_hwm_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def reset_hwm(pids):
    """Resets VmHWM to the current RSS (Linux: clear_refs 5)."""
    for pid in pids:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass


def wrk(url, script, args, conns, seconds, pool=None):
    """One wrk run; returns the dict the Lua done() printed."""
    threads = 1 if conns < 2 else 2
    env = dict(os.environ, LK_BENCH_LUA=LUA,
               LK_BENCH_THREADS=str(threads), LK_BENCH_POOL=pool or "")
    cmd = ["wrk", "-t", str(threads), "-c", str(conns), "-d",
           f"{seconds:g}s", "--timeout", "10s", "-s",
           os.path.join(LUA, script), url, "--", *args]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env,
                       timeout=seconds + 60)
    for line in p.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise RuntimeError(f"wrk printed no result ({p.returncode}): "
                       f"{p.stdout[-500:]} {p.stderr[-500:]}")


class Target:
    """A server under test: its URLs, credentials and processes."""

    def __init__(self, name, version, pids, info):
        self.name = name
        self.version = version
        self.pids = pids
        self.info = info  # the peer.json shape

    def supports(self, workload):
        i = self.info
        return {
            "client_credentials": True,
            "refresh": bool(i.get("refresh", {}).get("supported")) and
            bool(i.get("refresh", {}).get("rotates")),
            "introspect": bool(i.get("introspect_url")),
            "jwks": bool(i.get("jwks_url")),
            "metadata": bool(i.get("metadata_url")),
            "password": bool(i.get("password") or i.get("password_grant")),
        }[workload]

    def access_check(self):
        """What the Lua scripts check an access token for: a JWT, unless
        the server's peer.json says access_token_format "opaque" (a peer
        whose tokens are random strings; latchkeyd's never are)."""
        return ("opaque" if self.info.get("access_token_format") == "opaque"
                else "jwt")

    def wrk_call(self, workload, pool_file):
        i = self.info
        if workload == "client_credentials":
            return (i["token_url"], "token.lua",
                    [basic(i["client_id"], i["client_secret"]),
                     "grant_type=client_credentials&scope=" +
                     urllib.parse.quote(i["scope"]), self.access_check()])
        if workload == "refresh":
            r = i["refresh"]
            return (i["token_url"], "refresh.lua",
                    [basic(r["client_id"], r["client_secret"]),
                     self.access_check()])
        if workload == "introspect":
            c = i["introspect_client"]
            return (i["introspect_url"], "token.lua",
                    [basic(c["client_id"], c["client_secret"]),
                     "token=" + urllib.parse.quote(self.sample_token()),
                     "active"])
        if workload == "jwks":
            return (i["jwks_url"], "get.lua", ["keys"])
        if workload == "metadata":
            return (i["metadata_url"], "get.lua", ["token_endpoint"])
        if workload == "password":
            p = i.get("password") or i["password_grant"]
            body = ("grant_type=password&username=" +
                    urllib.parse.quote(p["username"]) + "&password=" +
                    urllib.parse.quote(p["password"]))
            if p.get("scope"):
                body += "&scope=" + urllib.parse.quote(p["scope"])
            return (i["token_url"], "token.lua",
                    [basic(p["client_id"], p["client_secret"]), body,
                     self.access_check()])
        raise KeyError(workload)

    def sample_token(self):
        i = self.info
        st, body = http_req(i["token_url"], "POST",
                            "grant_type=client_credentials&scope=" +
                            urllib.parse.quote(i["scope"]),
                            {"Authorization": basic(i["client_id"],
                                                    i["client_secret"]),
                             "Content-Type":
                             "application/x-www-form-urlencoded"})
        if st != 200:
            raise RuntimeError(f"{self.name}: token request gave {st}")
        return json.loads(body)["access_token"]


# ---- latchkeyd --------------------------------------------------------------

def cli(build, db, *args, stdin=None):
    p = subprocess.run([os.path.join(build, "latchkey"), "--db", db, *args],
                       input=stdin, capture_output=True, text=True,
                       timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"latchkey {' '.join(args)}: {p.stderr}")
    return p.stdout


def start_latchkeyd(build, db, port, logf, extra=()):
    p = subprocess.Popen([os.path.join(build, "latchkeyd"), "--db", db,
                          "--listen", f"127.0.0.1:{port}", *extra],
                         stdout=subprocess.PIPE, stderr=logf)
    line = p.stdout.readline()
    if not line:
        raise RuntimeError("latchkeyd did not start; see its log")
    return p


def mint_refresh_pool(token_url, client_id, secret, n, path):
    """n refresh tokens from password logins (a user's, as in real use)."""
    hdr = {"Authorization": basic(client_id, secret),
           "Content-Type": "application/x-www-form-urlencoded"}
    body = f"grant_type=password&username=bench&password={PASSWORD}"

    retried = []

    def one(_):
        # A 503 (temporarily_unavailable) is tried again, twice at most,
        # and counted: this is set-up, not the measurement, and the count
        # is printed so that it is not hidden.
        for attempt in range(3):
            st, b = http_req(token_url, "POST", body, hdr)
            if st != 503 or attempt == 2:
                break
            retried.append(st)
            time.sleep(0.2)
        if st != 200:
            raise RuntimeError(f"password login gave {st}: {b[:200]}")
        return json.loads(b)["refresh_token"]

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        toks = list(ex.map(one, range(n)))
    if retried:
        log(f"  set-up: {len(retried)} of {n} password logins answered 503 "
            "and were tried again")
    with open(path, "w") as f:
        f.write("\n".join(toks) + "\n")


def setup_latchkey(build, work, pool_size, name="latchkeyd", db=None,
                   extra=(), instances=1, front=None,
                   notes="SQLite file, WAL, synchronous=NORMAL; every access "
                         "token record committed before the response"):
    """instances latchkeyd on db (default: a new SQLite file in work) with
    the workloads' clients and user. front(ports), when given, puts a
    balancer in front of them and returns (base URL, stop function); the
    workloads then go through it."""
    db = db or os.path.join(work, "lk.db")
    svc = json.loads(cli(build, db, "client", "add", "bench", "--id", "bench",
                         "--scope", "read write", "--json"))
    app = json.loads(cli(build, db, "client", "add", "app", "--id", "app",
                         "--grant", "password", "--grant", "refresh_token",
                         "--scope", "read write", "--json"))
    rs = json.loads(cli(build, db, "client", "add", "rs", "--id", "rs",
                        "--json"))
    cli(build, db, "user", "add", "bench", "--password-stdin",
        stdin=PASSWORD + "\n")
    ver = subprocess.run([os.path.join(build, "latchkeyd"), "--version"],
                         capture_output=True, text=True).stdout
    # The first line ("latchkeyd 0.1.0"); the libraries follow it.
    ver = (ver.splitlines() or ["dev"])[0].removeprefix("latchkeyd ")
    t = Target(name, ver or "dev", [], {})
    t.procs, t.logs, t.db, t.front_stop = [], [], db, None
    try:
        t.ports = [free_port() for _ in range(instances)]
        for i, port in enumerate(t.ports):
            logf = open(os.path.join(work, f"latchkeyd{i + 1}.log"), "wb")
            t.logs.append(logf)
            t.procs.append(start_latchkeyd(build, db, port, logf, extra))
        t.pids = [p.pid for p in t.procs]
        base = f"http://127.0.0.1:{t.ports[0]}"
        if front is not None:
            base, t.front_stop = front(t.ports)
        t.info = {
            "token_url": base + "/token", "client_id": "bench",
            "client_secret": svc["client_secret"], "scope": "read write",
            "refresh": {"supported": True, "rotates": True,
                        "client_id": "app",
                        "client_secret": app["client_secret"],
                        "tokens_file": os.path.join(work,
                                                    "refresh_tokens.txt")},
            "introspect_url": base + "/introspect",
            "introspect_client": {"client_id": "rs",
                                  "client_secret": rs["client_secret"]},
            "jwks_url": base + "/jwks.json",
            "metadata_url": base + "/.well-known/oauth-authorization-server",
            "password": {"client_id": "app", "client_secret":
                         app["client_secret"], "username": "bench",
                         "password": PASSWORD, "scope": "read write"},
            "stores_access_tokens": True,
            "notes": notes,
        }
        mint_refresh_pool(t.info["token_url"], "app", app["client_secret"],
                          pool_size, t.info["refresh"]["tokens_file"])
    except BaseException:
        stop_latchkeyd(t)
        raise
    return t


def stop_latchkeyd(t):
    """Stops the balancer (if any), then every instance."""
    if t.front_stop is not None:
        t.front_stop()
        t.front_stop = None
    for p in t.procs:
        p.send_signal(signal.SIGTERM)
    for p in t.procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    t.procs = []
    for f in t.logs:
        f.close()
    t.logs = []


def startup_times(build, db, runs):
    """Process start to the first 200 from /healthz, in ms, `runs` times."""
    out = []
    for _ in range(runs):
        port = free_port()
        t0 = time.perf_counter()
        p = subprocess.Popen([os.path.join(build, "latchkeyd"), "--db", db,
                              "--listen", f"127.0.0.1:{port}"],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    st, _ = http_req(f"http://127.0.0.1:{port}/healthz",
                                     timeout=2)
                    if st == 200:
                        break
                except OSError:
                    pass
                if time.perf_counter() - t0 > 10:
                    raise RuntimeError("latchkeyd never answered /healthz")
                time.sleep(0.0005)
            out.append((time.perf_counter() - t0) * 1e3)
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)
    return out


def hash_time(build):
    p = subprocess.run([os.path.join(build, "lk_bench_hash"), "20"],
                       capture_output=True, text=True, timeout=120)
    return json.loads(p.stdout) if p.returncode == 0 else None


# ---- peers ------------------------------------------------------------------

def start_peer(name, work, pool_size):
    script = os.path.join(HERE, "peers", name, "start.sh")
    port = free_port()
    p = subprocess.run([script, str(port), work, str(pool_size)],
                       capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        raise RuntimeError(f"{name}: start.sh failed: {p.stderr[-800:]}")
    with open(os.path.join(work, "peer.json")) as f:
        info = json.load(f)
    pids = info.get("pids") or [info["pid"]]
    return Target(name, info.get("version", "?"), pids, info)


def stop_peer(name, work):
    subprocess.run([os.path.join(HERE, "peers", name, "stop.sh"), work],
                   capture_output=True, timeout=60)


# ---- the runs ---------------------------------------------------------------

def commit_batches(t):
    """(issues, commits) so far, summed over a latchkeyd target's
    instances, from /metrics' latchkey_commit_batch_size histogram; None
    for a peer."""
    ports = getattr(t, "ports", None)
    if not ports or not hasattr(t, "procs"):
        return None
    issues = commits = 0
    for port in ports:
        try:
            _, body = http_req(f"http://127.0.0.1:{port}/metrics")
        except OSError:
            return None
        for line in body.decode().splitlines():
            if line.startswith("latchkey_commit_batch_size_sum "):
                issues += float(line.split()[1])
            elif line.startswith("latchkey_commit_batch_size_count "):
                commits += float(line.split()[1])
    return issues, commits


def run_target(t, workloads, conns, duration, warmup, results):
    for w in workloads:
        if not t.supports(w):
            continue
        for c in conns:
            pool = None
            if w == "refresh":
                pool = t.info["refresh"]["tokens_file"]
                have = sum(1 for line in open(pool) if line.strip())
                if have < 2 * c + 2:
                    log(f"  {t.name} refresh c={c}: only {have} refresh "
                        "tokens left; skipped")
                    continue
            url, script, args = t.wrk_call(w, pool)
            # A probe (bench/scaleout.py) counts what else the requests
            # cost: the database's CPU, round trips, commits, WAL syncs.
            probe = getattr(t, "probe", None)
            if probe is not None:
                probe.before_warmup()
            if warmup > 0:
                wrk(url, script, args, c, warmup, pool)
            if probe is not None:
                probe.run_start()
            b0 = commit_batches(t)
            c0, w0 = cpu_ticks(t.pids), time.monotonic()
            r = wrk(url, script, args, c, duration, pool)
            ticks = cpu_ticks(t.pids) - c0
            b1 = commit_batches(t)
            cpu = ticks / CLK_TCK / (time.monotonic() - w0)
            secs = r["duration_us"] / 1e6
            row = {
                "server": t.name, "workload": w, "connections": c,
                "rps": r["requests"] / secs if secs else 0,
                "p50_ms": r["p50_us"] / 1e3, "p99_ms": r["p99_us"] / 1e3,
                "max_ms": r["max_us"] / 1e3, "requests": r["requests"],
                "non2xx": r["non2xx"],
                "socket_errors": r["connect_errors"] + r["read_errors"] +
                r["write_errors"] + r["timeouts"],
                "checked": r["checked"], "bad": r["bad"],
                "first_bad": r["first_bad"], "server_cpu_cores": cpu,
                "server_cpu_ms_per_req": (ticks / CLK_TCK * 1e3 /
                                          r["requests"]
                                          if r["requests"] else 0),
            }
            if probe is not None:
                row.update(probe.run_end(r["requests"]))
                row.update(probe.after_run())
            batch = ""
            if b0 is not None and b1 is not None and b1[1] > b0[1]:
                # Issues per commit of the writer thread during the run.
                row["commit_batch_mean"] = ((b1[0] - b0[0]) /
                                            (b1[1] - b0[1]))
                batch = f"  batch {row['commit_batch_mean']:.1f}"
            results.append(row)
            log(f"  {t.name:18} {w:18} c={c:<3} {row['rps']:9.0f} rps  "
                f"p50 {row['p50_ms']:7.2f} ms  p99 {row['p99_ms']:7.2f} ms  "
                f"bad {row['bad']}/{row['checked']}  cpu {cpu:.2f}{batch}")


def measure(t, workloads, conns, a, rows):
    """All workloads on one server; its summary. The password grant runs
    last and its peak RSS is kept apart: Argon2id takes 19 MiB per hash in
    flight by design, which says nothing about the rest of the server."""
    rest = [w for w in workloads if w != "password"]
    # The peak under load, not the set-up's: the refresh pool was minted
    # by password logins (latchkeyd gives their memory back within 5 s).
    time.sleep(6)
    reset_hwm(t.pids)
    run_target(t, rest, conns, a.duration, a.warmup, rows)
    s = {"name": t.name, "version": t.version,
         "peak_rss_kib": vm_hwm_kib(t.pids),
         "notes": t.info.get("notes", ""),
         "stores_access_tokens": t.info.get("stores_access_tokens")}
    if "password" in workloads and t.supports("password"):
        run_target(t, ["password"], conns, a.duration, a.warmup, rows)
        s["peak_rss_kib_with_password"] = vm_hwm_kib(t.pids)
    return s


def measure_pg(build, work, workloads, conns, a, rows, meta):
    """The rows of --pg: client_credentials and refresh on SQLite with
    durability=full, then on a throwaway PostgreSQL cluster (fsync on) with
    one latchkeyd and with two behind haproxy, each with its own database
    and refresh pool, in this run."""
    wl = [w for w in scaleout.WORKLOADS if w in workloads]
    if not wl:
        log("--pg: neither client_credentials nor refresh selected")
        return
    d = os.path.join(work, "sqlite-full")
    os.makedirs(d)
    log(f"{scaleout.FULL} (SQLite, durability=full)")
    t = setup_latchkey(build, d, a.pool, name=scaleout.FULL,
                       extra=("--durability", "full"),
                       notes="SQLite WAL, synchronous=FULL")
    try:
        run_target(t, wl, conns, a.duration, a.warmup, rows)
    finally:
        stop_latchkeyd(t)

    log("PostgreSQL: a throwaway cluster, fsync and synchronous_commit on")
    pg = scaleout.Cluster()
    try:
        meta["scaleout"] = {
            "postgresql": pg.settings(),
            "haproxy": scaleout.version(["haproxy", "-v"]),
            "settle_s": a.pg_settle}
        for name, n in ((scaleout.PG1, 1), (scaleout.PG2, 2)):
            d = os.path.join(work, name)
            os.makedirs(d)
            dbname = name.replace("-", "_")
            db = pg.new_database(dbname, build)
            lb = scaleout.Haproxy(d, free_port()) if n > 1 else None
            log(f"{name} ({n} latchkeyd on PostgreSQL"
                f"{', behind haproxy' if lb else ''})")
            t = setup_latchkey(
                build, d, a.pool, name=name, db=db, instances=n,
                extra=("--issuer", lb.url) if lb else (),
                front=lb.start if lb else None,
                notes=f"{n} on PostgreSQL" + (", haproxy" if lb else ""))
            try:
                t.probe = scaleout.Probe(
                    pg, dbname, [f"http://127.0.0.1:{p}" for p in t.ports],
                    lb.pid if lb else None, a.pg_settle)
                run_target(t, wl, conns, a.duration, a.warmup, rows)
            finally:
                stop_latchkeyd(t)
    finally:
        pg.close()


def table(rows, servers):
    out = []
    hdr = (f"{'workload':18} {'server':18} {'conns':>5} {'req/s':>9} "
           f"{'p50 ms':>8} {'p99 ms':>8} {'non2xx':>6} {'bad':>5} "
           f"{'cpu':>5} {'x':>6}")
    out.append(hdr)
    out.append("-" * len(hdr))
    best = {}
    for r in rows:
        if r["server"] == "latchkeyd":
            best[(r["workload"], r["connections"])] = r["rps"]
    for w in WORKLOADS:
        for r in [r for r in rows if r["workload"] == w and
                  not scaleout.is_scaleout(r)]:
            lk = best.get((w, r["connections"]))
            ratio = (f"{lk / r['rps']:5.1f}x" if r["server"] != "latchkeyd"
                     and lk and r["rps"] else "")
            out.append(f"{w:18} {r['server']:18} {r['connections']:>5} "
                       f"{r['rps']:9.0f} {r['p50_ms']:8.2f} "
                       f"{r['p99_ms']:8.2f} {r['non2xx']:>6} {r['bad']:>5} "
                       f"{r['server_cpu_cores']:5.2f} {ratio:>6}")
    out.append("")
    out.append(f"{'server':18} {'version':24} {'peak RSS':>10}  notes")
    for s in servers:
        out.append(f"{s['name']:18} {s['version'][:24]:24} "
                   f"{s['peak_rss_kib'] / 1024:8.1f} MB  "
                   f"{s.get('notes', '')[:90]}")
    return "\n".join(out)


def markdown(res):
    """The results of a run (the JSON) as the Markdown tables of
    docs/performance.md."""
    rows, servers, meta = res["runs"], res["servers"], res["meta"]
    best = {(r["workload"], r["connections"]): r["rps"] for r in rows
            if r["server"] == "latchkeyd"}
    out = [f"Run of {meta['date']}, {meta['cores']} cores, "
           f"{meta['load_generator']} on the same machine, "
           f"{meta['duration_s']:g} s per run after {meta['warmup_s']:g} s "
           "of warm-up. `x`: latchkeyd's requests per second over the "
           "peer's, same workload and connections.", "",
           "| workload | server | conns | req/s | p50 ms | p99 ms | "
           "non-2xx | bad | server CPU | x |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
           "| ---: |"]
    for w in WORKLOADS:
        for r in [r for r in rows if r["workload"] == w and
                  not scaleout.is_scaleout(r)]:
            lk = best.get((w, r["connections"]))
            x = (f"{lk / r['rps']:.1f}" if r["server"] != "latchkeyd" and lk
                 and r["rps"] else "")
            out.append(f"| {w} | {r['server']} | {r['connections']} | "
                       f"{r['rps']:.0f} | {r['p50_ms']:.2f} | "
                       f"{r['p99_ms']:.2f} | {r['non2xx']} | {r['bad']} | "
                       f"{r['server_cpu_cores']:.2f} | {x} |")
    out += ["", "| server | version | peak RSS (without the password "
            "grant) | with it | stores each access token |",
            "| --- | --- | ---: | ---: | --- |"]
    for sv in servers:
        pw = sv.get("peak_rss_kib_with_password")
        out.append(f"| {sv['name']} | {sv['version']} | "
                   f"{sv['peak_rss_kib'] / 1024:.1f} MB | "
                   f"{pw / 1024:.1f} MB |" if pw else
                   f"| {sv['name']} | {sv['version']} | "
                   f"{sv['peak_rss_kib'] / 1024:.1f} MB | - |")
        out[-1] += f" {sv.get('stores_access_tokens', '-')} |"
    lk = [sv for sv in servers if sv["name"] == "latchkeyd"]
    if lk and lk[0].get("startup_ms_median") is not None:
        out += ["", f"latchkeyd start-up (process start to the first 200 "
                f"from /healthz): median {lk[0]['startup_ms_median']:.1f} "
                f"ms, max {lk[0]['startup_ms_max']:.1f} ms."]
        h = lk[0].get("argon2id")
        if h:
            out.append(f"Argon2id t={h['t_cost']} m={h['m_cost_kib']} KiB "
                       f"p={h['lanes']}: {h['median_ms']:.1f} ms per hash "
                       f"(`lk_bench_hash`), so {meta['cores']} cores allow "
                       f"{meta['cores'] * 1000 / h['median_ms']:.0f} per "
                       "second.")
    batches = [r for r in rows if r.get("commit_batch_mean") is not None]
    if batches:
        out += ["", "Token issues per commit of latchkeyd's writer thread "
                "(`latchkey_commit_batch_size`, `_sum` over `_count`, during "
                "each run):", "",
                "| server | workload | conns | issues per commit |",
                "| --- | --- | ---: | ---: |"]
        for r in batches:
            out.append(f"| {r['server']} | {r['workload']} | "
                       f"{r['connections']} | "
                       f"{r['commit_batch_mean']:.1f} |")
    pg = scaleout.markdown(rows, meta)
    if pg:
        out.append(pg)
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build")
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--conns", default="1,16,64")
    ap.add_argument("--peers",
                    default="oidc-provider,glewlwyd,node-oauth2-server",
                    help="comma-separated; '' for none")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--pool", type=int, default=600,
                    help="refresh tokens minted per server")
    ap.add_argument("--startup-runs", type=int, default=20)
    ap.add_argument("--quick", action="store_true",
                    help="2 s runs, 1 s warm-up, 5 start-ups: a smoke test")
    ap.add_argument("--pg", action="store_true",
                    help="also client_credentials and refresh on SQLite "
                    "durability=full, PostgreSQL, and two instances on "
                    "PostgreSQL behind haproxy (docs/scale-out.md)")
    ap.add_argument("--pg-settle", type=float, default=scaleout.SETTLE_S,
                    help="seconds to wait for PostgreSQL's statistics "
                    "after each run")
    ap.add_argument("--out")
    ap.add_argument("--markdown", metavar="RESULTS",
                    help="print a results JSON file as Markdown and exit")
    a = ap.parse_args()
    if a.markdown:
        with open(a.markdown) as f:
            print(markdown(json.load(f)))
        return
    if not a.build:
        ap.error("--build is required")
    if a.quick:
        a.duration, a.warmup, a.startup_runs = 2, 1, 5
    build = os.path.abspath(a.build)
    conns = [int(c) for c in a.conns.split(",") if c]
    workloads = [w for w in a.workloads.split(",") if w]
    for w in workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w}; known: {', '.join(WORKLOADS)}")
    peers = [p for p in a.peers.split(",") if p]
    out = a.out or os.path.join(build, "bench-results.json")
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is not installed (bench/install-deps.sh)")
    if a.pg and shutil.which("haproxy") is None:
        sys.exit("bench: haproxy is not installed (bench/install-deps.sh)")
    # SIGTERM unwinds like Ctrl-C, through the finally blocks that stop
    # every server, haproxy and the PostgreSQL cluster.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    rows, servers = [], []
    meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "machine": platform.machine(), "cores": os.cpu_count(),
            "kernel": platform.release(), "duration_s": a.duration,
            "warmup_s": a.warmup, "connections": conns,
            "load_generator": subprocess.run(
                ["wrk", "-v"], capture_output=True, text=True).stdout
            .splitlines()[0].split(" [")[0]}

    work = tempfile.mkdtemp(prefix="lk-bench-")
    try:
        log(f"latchkeyd ({build})")
        lw = os.path.join(work, "latchkeyd")
        os.makedirs(lw)
        t = setup_latchkey(build, lw, a.pool)
        try:
            servers.append(measure(t, workloads, conns, a, rows))
        finally:
            stop_latchkeyd(t)
        st = startup_times(build, t.db, a.startup_runs)
        servers[-1]["startup_ms_median"] = statistics.median(st)
        servers[-1]["startup_ms_max"] = max(st)
        servers[-1]["argon2id"] = hash_time(build)
        log(f"  start-up to first /healthz 200: median "
            f"{statistics.median(st):.1f} ms, max {max(st):.1f} ms "
            f"({len(st)} runs)")
        if a.pg:
            measure_pg(build, work, workloads, conns, a, rows, meta)

        for name in peers:
            pw = os.path.join(work, name)
            os.makedirs(pw)
            log(f"{name} (installing and starting)")
            try:
                pt = start_peer(name, pw, a.pool)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                log(f"  {name}: not measured: {e}")
                servers.append({"name": name, "version": "-",
                                "peak_rss_kib": 0,
                                "notes": f"not measured: {e}"[:300]})
                stop_peer(name, pw)
                continue
            try:
                servers.append(measure(pt, workloads, conns, a, rows))
            finally:
                stop_peer(name, pw)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    text = table(rows, servers)
    print(text)
    pg = scaleout.table(rows)
    if pg:
        print("\n" + pg)
    lk = [s for s in servers if s["name"] == "latchkeyd"]
    if lk:
        s = lk[0]
        print(f"\nlatchkeyd start-up (process start to first 200 from "
              f"/healthz): median {s['startup_ms_median']:.1f} ms over "
              f"{a.startup_runs} runs")
        if s.get("argon2id"):
            h = s["argon2id"]
            print(f"Argon2id t={h['t_cost']} m={h['m_cost_kib']} KiB "
                  f"p={h['lanes']}: {h['median_ms']:.1f} ms per hash; "
                  f"{os.cpu_count()} cores / that = "
                  f"{os.cpu_count() * 1000 / h['median_ms']:.0f} hashes/s")
    with open(out, "w") as f:
        json.dump({"meta": meta, "servers": servers, "runs": rows}, f,
                  indent=1)
    print(f"\nresults: {out}")
    bad = [r for r in rows if r["bad"] or r["non2xx"] or r["socket_errors"]]
    if bad:
        for r in bad:
            log(f"FAILED CHECKS: {r['server']} {r['workload']} "
                f"c={r['connections']}: {r['bad']} bad, {r['non2xx']} "
                f"non-2xx, {r['socket_errors']} socket errors; first: "
                f"{r['first_bad']}")
        sys.exit(1)


if __name__ == "__main__":
    main()
