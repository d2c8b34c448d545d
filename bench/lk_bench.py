"""Shared by the bench scripts that time one kind of token request
against another in the same run: the server's CPU from /proc, and a run
of requests over one keep-alive connection."""
import os
import statistics
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu(pid):
    """Seconds of CPU (user + system) process pid has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def run(conn, pid, requests):
    """requests: (method, path, body, headers) each, sent one at a time
    on conn; every answer must be 200. Returns (seconds, server CPU)."""
    c0, t0 = cpu(pid), time.perf_counter()
    for method, path, body, headers in requests:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise SystemExit(f"{method} {path}: {r.status} {data!r}")
    return time.perf_counter() - t0, cpu(pid) - c0


def report(results, requests, rounds, how, base, other):
    """Prints the medians of results ({name: [(seconds, cpu)] per round})
    and other's ratios to base."""
    print(f"{requests} requests per run, {rounds} rounds, medians; {how}")
    print(f"{'run':<20}{'req/s':>10}{'CPU us/req':>13}")
    med = {}
    for name, rs in results.items():
        rps = statistics.median(requests / t for t, _ in rs)
        us = statistics.median(c / requests * 1e6 for _, c in rs)
        med[name] = (rps, us)
        print(f"{name:<20}{rps:>10.0f}{us:>13.0f}")
    b, o = med[base], med[other]
    print(f"{other}/{base}: throughput {o[0] / b[0]:.2f}, "
          f"CPU per request {o[1] / b[1]:.2f}x")
