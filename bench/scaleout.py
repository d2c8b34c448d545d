"""scaleout.py: what `bench/bench.py --pg` adds for issue 13 (the
PostgreSQL rows, docs/scale-out.md).

Owns, for the length of one bench run: a throwaway PostgreSQL cluster made
by tests/pg/cluster.py as durable as a real server (fsync, full_page_writes
and synchronous_commit on: fsync=off would flatter PostgreSQL), the haproxy
in front of two latchkeyd (a generated config, loopback only), and the
per-request costs of each measured run (Probe): CPU of every process of the
cluster and of haproxy, latchkey_db_round_trips_total, pg_stat_database's
xact_commit, transaction ids used (write transactions), and pg_stat_wal's
wal_sync (WAL fsyncs). bench.py starts latchkeyd and runs wrk; everything
started here is stopped by its close()/stop(), which bench.py calls in a
finally, so a failure or Ctrl-C leaves nothing running.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "pg"))
import cluster  # noqa: E402  (tests/pg/cluster.py)

CLK_TCK = os.sysconf("SC_CLK_TCK")

# A backend sends its statistics (pg_stat_database, pg_stat_wal) to shared
# memory at most once a second while busy, and 10 s after it went idle
# (PGSTAT_IDLE_INTERVAL, PostgreSQL 15): counters are read this long after
# the load stopped, or they would miss the last second of it.
SETTLE_S = 11


def proc_ticks(pid):
    """utime + stime of pid in clock ticks; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def children(ppid):
    """Pids whose parent is ppid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == ppid:
                    out.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return out


class Cluster:
    """The throwaway cluster: a unix socket in a directory of its own under
    /tmp (socket paths are short, and the postgres user must reach it)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="lkb-pg-")
        self.port = None
        cluster.start(self.dir, durable_commits=True, fsync=True)
        with open(os.path.join(self.dir, "uri")) as f:
            m = re.search(r"port=(\d+)", f.read())
        self.port = int(m.group(1))
        self.admin = cluster.uri(self.dir, self.port, "postgres")
        # The time spent in WAL fsyncs (pg_stat_wal.wal_sync_time): what
        # a commit waits for, and what group commit would share.
        cluster.psql(self.admin, "ALTER SYSTEM SET track_wal_io_timing = on;"
                     "\nSELECT pg_reload_conf();\n")

    def new_database(self, name, build):
        """A migrated database; its URI."""
        cluster.psql(self.admin, f"CREATE DATABASE {name};\n")
        uri = cluster.uri(self.dir, self.port, name)
        subprocess.run([os.path.join(build, "latchkey"), "--db", uri,
                        "migrate"], check=True, capture_output=True,
                       timeout=120)
        return uri

    def pids(self):
        """The postmaster and every process it started (backends, WAL
        writer, checkpointer, ...)."""
        try:
            with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
                pm = int(f.readline())
        except (OSError, ValueError):
            return []
        return [pm] + children(pm)

    def counters(self, datname):
        """(xact_commit of datname, wal_sync, wal_write, next xid,
        wal_sync_time in ms, rows written to datname's throttle table)."""
        out = cluster.psql(
            self.admin,
            "SELECT (SELECT xact_commit FROM pg_stat_database "
            f"WHERE datname = '{datname}'), w.wal_sync, w.wal_write, "
            "pg_snapshot_xmax(pg_current_snapshot()), w.wal_sync_time "
            "FROM pg_stat_wal w;\n")
        vals = [float(v) for v in out.strip().split("|")]
        # Rows written to the throttle table (migration 0006): what the
        # client-authentication throttle costs a request, in this
        # database's own statistics.
        out = cluster.psql(
            cluster.uri(self.dir, self.port, datname),
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) "
            "FROM pg_stat_user_tables WHERE relname = 'throttle';\n")
        return tuple(vals + [float(out.strip() or 0)])

    def settings(self):
        return cluster.psql(
            self.admin, "SELECT string_agg(name || '=' || setting, ' ' "
            "ORDER BY name) FROM pg_settings WHERE name IN ('fsync', "
            "'synchronous_commit', 'full_page_writes', 'wal_sync_method', "
            "'commit_delay', 'server_version', 'track_wal_io_timing');\n"
        ).strip()

    def close(self):
        cluster.stop(self.dir)


HAPROXY_CFG = """\
# Generated by bench/scaleout.py for one bench run; loopback only.
global
    # One thread: the balancer shares the machine's cores with latchkeyd,
    # PostgreSQL and wrk; its CPU is reported apart.
    nbthread 1
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s

frontend latchkey
    bind 127.0.0.1:{port}
    default_backend latchkeyd

backend latchkeyd
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
{servers}
"""


class Haproxy:
    """haproxy in the foreground (-db) on a port chosen at once, so the
    instances can be given the balancer's URL as their issuer first."""

    def __init__(self, work, port):
        self.work = work
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc = None
        self.log = None

    def start(self, ports):
        """bench.setup_latchkey's front: starts haproxy before ports;
        returns (base URL, stop)."""
        if shutil.which("haproxy") is None:
            raise RuntimeError("haproxy is not installed "
                               "(bench/install-deps.sh)")
        cfg = os.path.join(self.work, "haproxy.cfg")
        servers = "\n".join(f"    server lk{i + 1} 127.0.0.1:{p} check "
                            "inter 1s" for i, p in enumerate(ports))
        with open(cfg, "w") as f:
            f.write(HAPROXY_CFG.format(port=self.port, servers=servers))
        self.log = open(os.path.join(self.work, "haproxy.log"), "wb")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", cfg],
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(self.url + "/readyz",
                                            timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("haproxy did not answer; see "
                                   "haproxy.log")
            time.sleep(0.1)
        return self.url, self.stop

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def stop(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self.log is not None:
            self.log.close()
            self.log = None


def version(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (p.stdout or p.stderr).splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def scrape(bases):
    """(token requests answered, database round trips), summed over the
    instances' /metrics."""
    tokens = trips = 0
    for base in bases:
        with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
            text = r.read().decode()
        for line in text.splitlines():
            if line.startswith('latchkey_http_requests_total{endpoint='
                               '"token",'):
                tokens += int(line.rsplit(" ", 1)[1])
            elif line.startswith("latchkey_db_round_trips_total "):
                trips += int(line.rsplit(" ", 1)[1])
    return tokens, trips


class Probe:
    """Per-request costs of one target's runs, beside what bench.py
    measures (requests, latency, latchkeyd's CPU).

    CPU (the cluster's processes, haproxy) is counted over the measured
    run only and divided by wrk's requests, as latchkeyd's is. The
    database counters are read before the warm-up and SETTLE_S after the
    run (see SETTLE_S) and divided by the token requests the instances
    answered in between (warm-up included), read from their /metrics."""

    def __init__(self, pg, datname, bases, lb_pid=None, settle=SETTLE_S):
        self.pg, self.datname, self.bases = pg, datname, bases
        self.lb_pid, self.settle = lb_pid, settle
        self.settled = False
        self.c0 = self.m0 = None
        self.ticks0 = {}

    def _snapshot(self):
        return self.pg.counters(self.datname), scrape(self.bases)

    def before_warmup(self):
        if not self.settled:
            time.sleep(self.settle)  # the minting of the refresh pool
        self.c0, self.m0 = self._snapshot()
        self.settled = False

    def run_start(self):
        self.ticks0 = {p: proc_ticks(p) for p in self.pg.pids()}
        self.lb0 = proc_ticks(self.lb_pid) if self.lb_pid else None

    def run_end(self, requests):
        pg = 0
        for p in set(self.pg.pids()) | set(self.ticks0):
            now = proc_ticks(p)
            # A backend that started during the run counts from 0; one
            # that ended is lost (latchkeyd keeps its connections).
            if now is not None:
                pg += now - (self.ticks0.get(p) or 0)
        out = {"pg_cpu_ms_per_req": pg / CLK_TCK * 1e3 / requests
               if requests else 0}
        if self.lb_pid:
            lb = (proc_ticks(self.lb_pid) or 0) - (self.lb0 or 0)
            out["lb_cpu_ms_per_req"] = (lb / CLK_TCK * 1e3 / requests
                                        if requests else 0)
        return out

    def after_run(self):
        time.sleep(self.settle)
        self.settled = True
        c1, m1 = self._snapshot()
        n = m1[0] - self.m0[0]
        if n <= 0:
            return {}
        return {
            "db_requests": n,
            "round_trips_per_req": (m1[1] - self.m0[1]) / n,
            "xact_commit_per_req": (c1[0] - self.c0[0]) / n,
            "wal_sync_per_req": (c1[1] - self.c0[1]) / n,
            "wal_write_per_req": (c1[2] - self.c0[2]) / n,
            "xids_per_req": (c1[3] - self.c0[3]) / n,
            "throttle_rows_per_req": (c1[5] - self.c0[5]) / n,
            "wal_sync_ms_per_sync": ((c1[4] - self.c0[4]) /
                                     (c1[1] - self.c0[1])
                                     if c1[1] > self.c0[1] else 0),
        }


# ---- the tables --------------------------------------------------------------

BASE = "latchkeyd"          # SQLite, durability=normal: bench.py's own row
FULL = "latchkeyd-sqlite-full"
PG1 = "latchkeyd-pg"
PG2 = "latchkeyd-pg-x2"
ORDER = [BASE, FULL, PG1, PG2]
WORKLOADS = ["client_credentials", "refresh"]


def is_scaleout(row):
    return row["server"] in (FULL, PG1, PG2)


def _rows(rows):
    """(workload, conns, server, row, ratio to SQLite full, to normal)."""
    by = {(r["server"], r["workload"], r["connections"]): r for r in rows}
    for w in WORKLOADS:
        for c in sorted({r["connections"] for r in rows
                         if r["workload"] == w}):
            full = by.get((FULL, w, c))
            norm = by.get((BASE, w, c))
            for srv in ORDER:
                r = by.get((srv, w, c))
                if r is None:
                    continue
                rf = r["rps"] / full["rps"] if full and full["rps"] else None
                rn = r["rps"] / norm["rps"] if norm and norm["rps"] else None
                yield w, c, srv, r, rf, rn


def _f(v, fmt):
    return "-" if v is None else format(v, fmt)


COLS = ["workload", "server", "conns", "req/s", "p50 ms", "p99 ms",
        "bad", "lk CPU ms/req", "pg CPU ms/req", "lb CPU ms/req",
        "round trips/req", "xact_commit/req", "xids/req",
        "throttle rows/req", "wal_sync/req", "ms/wal_sync", "x SQLite full", "x SQLite normal"]


def _cells(w, c, srv, r, rf, rn):
    return [w, srv, str(c), f"{r['rps']:.0f}", f"{r['p50_ms']:.2f}",
            f"{r['p99_ms']:.2f}", str(r["bad"] + r["non2xx"]),
            _f(r.get("server_cpu_ms_per_req"), ".3f"),
            _f(r.get("pg_cpu_ms_per_req"), ".3f"),
            _f(r.get("lb_cpu_ms_per_req"), ".3f"),
            _f(r.get("round_trips_per_req"), ".2f"),
            _f(r.get("xact_commit_per_req"), ".2f"),
            _f(r.get("xids_per_req"), ".2f"),
            _f(r.get("throttle_rows_per_req"), ".2f"),
            _f(r.get("wal_sync_per_req"), ".3f"),
            _f(r.get("wal_sync_ms_per_sync"), ".3f"),
            _f(rf, ".2f"), _f(rn, ".2f")]


def table(rows):
    """The rows of --pg as text; empty when there are none."""
    if not any(is_scaleout(r) for r in rows):
        return ""
    lines = [[*COLS]] + [_cells(*x) for x in _rows(rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLS))]
    return "\n".join("  ".join(v.rjust(widths[i]) if i > 1 else
                               v.ljust(widths[i]) for i, v in enumerate(line))
                     for line in lines)


def markdown(rows, meta):
    """The rows of --pg as the Markdown table of docs/performance.md."""
    if not any(is_scaleout(r) for r in rows):
        return ""
    m = meta.get("scaleout", {})
    out = ["", f"PostgreSQL rows (`--pg`), same run: {m.get('postgresql', '')}"
           f"; {m.get('haproxy', '')}. `x`: requests per second over "
           "SQLite's at `durability=full` and at `normal`, same workload "
           "and connections.", "",
           "| " + " | ".join(COLS) + " |",
           "| --- | --- | " + " | ".join("---:" for _ in COLS[2:]) + " |"]
    for x in _rows(rows):
        out.append("| " + " | ".join(_cells(*x)) + " |")
    return "\n".join(out)
