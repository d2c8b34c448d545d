"""Shared by the bench scripts that time one kind of token request
against another in the same run: the server's CPU from /proc, and a run
of requests over one keep-alive connection."""
import os
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
