#!/usr/bin/python3
"""What TLS client authentication costs latchkeyd (RFC 8705,
docs/service-auth.md), against a client secret in the same run: one
latchkeyd serving HTTPS on loopback with tls_client_ca, a client of
tls_client_auth (a CA-signed P-256 certificate named by its DNS name) and
one with a generated secret, both registered for client_credentials.

Usage: bench/mtls.py --build DIR [--requests N] [--rounds R]

Each client has one keep-alive HTTPS connection, so the handshake (and
its certificate) is paid once per connection, not per request, and so is
the certificate's chain check and names (kept with the connection): the
time is the server's per request, the certificate's thumbprint, matching
it, and issuing a token bound to it, against checking a secret and
issuing an unbound one. The runs
alternate for R rounds; medians are reported, with the server's CPU per
request (utime + stime from /proc) and the ratio.
"""
import argparse
import base64
import http.client
import json
import os
import ssl
import subprocess
import sys
import shutil
import tempfile

from lk_bench import report, run  # bench/lk_bench.py


def openssl(tmp, *args):
    subprocess.run(["openssl", *args], cwd=tmp, check=True,
                   capture_output=True)


def pki(tmp):
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    openssl(tmp, "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=Bench CA")
    openssl(tmp, "req", "-x509", *ec, "-keyout", "srv.key", "-out",
            "srv.pem", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
            "subjectAltName=IP:127.0.0.1")
    openssl(tmp, "req", *ec, "-keyout", "cli.key", "-out", "cli.csr",
            "-subj", "/CN=billing")
    with open(os.path.join(tmp, "cli.ext"), "w") as f:
        f.write("subjectAltName=DNS:billing.internal\n")
    openssl(tmp, "x509", "-req", "-in", "cli.csr", "-CA", "ca.pem", "-CAkey",
            "ca.key", "-CAcreateserial", "-out", "cli.pem", "-days", "2",
            "-extfile", "cli.ext")
    for k in ("ca.key", "srv.key", "cli.key"):
        os.chmod(os.path.join(tmp, k), 0o600)


def connect(tmp, port, cert):
    ctx = ssl.create_default_context(cafile=os.path.join(tmp, "srv.pem"))
    if cert:
        ctx.load_cert_chain(os.path.join(tmp, "cli.pem"),
                            os.path.join(tmp, "cli.key"))
    return http.client.HTTPSConnection("127.0.0.1", port, context=ctx,
                                       timeout=30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="lk-mtls-bench-")
    pki(tmp)
    db = os.path.join(tmp, "bench.db")
    cli = os.path.join(a.build, "latchkey")
    subprocess.run([cli, "--db", db, "client", "add", "billing", "--id",
                    "billing", "--scope", "read", "--grant",
                    "client_credentials", "--token-endpoint-auth-method",
                    "tls_client_auth", "--tls-client-auth-san-dns",
                    "billing.internal"], check=True, capture_output=True)
    out = json.loads(subprocess.run(
        [cli, "--db", db, "client", "add", "svc", "--id", "svc", "--json",
         "--scope", "read", "--grant", "client_credentials"], check=True,
        capture_output=True, text=True).stdout)
    auth = "Basic " + base64.b64encode(
        f"svc:{out['client_secret']}".encode()).decode()
    proc = subprocess.Popen(
        [os.path.join(a.build, "latchkeyd"), "--db", db, "--listen",
         "127.0.0.1:0", "--log-level", "warn",
         "--tls-cert", os.path.join(tmp, "srv.pem"),
         "--tls-key", os.path.join(tmp, "srv.key"),
         "--tls-client-ca", os.path.join(tmp, "ca.pem")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    port = json.loads(proc.stdout.readline())["port"]
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    runs = {
        "client_secret": (connect(tmp, port, False),
                          "grant_type=client_credentials",
                          {**form, "Authorization": auth}),
        "tls_client_auth": (connect(tmp, port, True),
                            "grant_type=client_credentials&client_id=billing",
                            form),
    }
    results = {k: [] for k in runs}
    try:
        for _ in range(a.rounds):
            for name, (conn, body, headers) in runs.items():
                results[name].append(run(
                    conn, proc.pid,
                    [("POST", "/token", body, headers)] * a.requests))
    finally:
        for conn, _, _ in runs.values():
            conn.close()
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(tmp)  # private keys and the database
    report(results, a.requests, a.rounds,
           "one HTTPS connection per client, one request at a time",
           "client_secret", "tls_client_auth")

if __name__ == "__main__":
    sys.exit(main())
