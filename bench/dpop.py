#!/usr/bin/python3
"""What a DPoP proof costs latchkeyd (RFC 9449, docs/service-auth.md):
client_credentials at /token and a call of /resource, each with a proof
and as plain Bearer, against one latchkeyd on loopback, in the same run.

Usage: bench/dpop.py --build DIR [--requests N] [--rounds R]

Proofs are signed here before the clock starts (each request needs its
own: a jti is accepted once), so the time is the server's: reading the
proof, checking its ES256 signature and recording its jti. Requests go
one at a time over one keep-alive connection; the Bearer and DPoP runs
alternate for R rounds and the medians are reported, with the server's
CPU per request (utime + stime from /proc) and the ratio DPoP/Bearer.
wrk is not used: it cannot sign a fresh proof per request.
"""
import argparse
import base64
import hashlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from lk_bench import run  # bench/lk_bench.py



def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Key:
    def __init__(self):
        self.priv = ec.generate_private_key(ec.SECP256R1())
        self.jwk = json.loads(ECAlgorithm.to_jwk(self.priv.public_key()))
        self.pem = self.priv.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())

    def proof(self, htm, htu, token=None):
        c = {"jti": str(uuid.uuid4()), "htm": htm, "htu": htu,
             "iat": int(time.time())}
        if token is not None:
            c["ath"] = b64u(hashlib.sha256(token.encode()).digest())
        return jwt.encode(c, self.pem, algorithm="ES256",
                          headers={"typ": "dpop+jwt", "jwk": self.jwk})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="lk-dpop-bench-")
    db = os.path.join(tmp, "bench.db")
    cli = os.path.join(a.build, "latchkey")
    out = json.loads(subprocess.run(
        [cli, "--db", db, "client", "add", "svc", "--id", "svc", "--json",
         "--scope", "read"], check=True, capture_output=True,
        text=True).stdout)
    auth = "Basic " + base64.b64encode(
        f"svc:{out['client_secret']}".encode()).decode()
    proc = subprocess.Popen(
        [os.path.join(a.build, "latchkeyd"), "--db", db, "--listen",
         "127.0.0.1:0", "--log-level", "warn"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    ready = json.loads(proc.stdout.readline())
    iss, port = ready["issuer"], ready["port"]
    key = Key()
    form = {"Content-Type": "application/x-www-form-urlencoded",
            "Authorization": auth}
    body = "grant_type=client_credentials"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/token", body=body, headers={
            **form, "DPoP": key.proof("POST", iss + "/token")})
        bound = json.loads(conn.getresponse().read())["access_token"]
        conn.request("POST", "/token", body=body, headers=form)
        plain = json.loads(conn.getresponse().read())["access_token"]
        n = a.requests
        results = {k: [] for k in ("token_bearer", "token_dpop",
                                   "resource_bearer", "resource_dpop")}
        for _ in range(a.rounds):
            work = {
                "token_bearer": [("POST", "/token", body, form)] * n,
                "token_dpop": [("POST", "/token", body, {
                    **form, "DPoP": key.proof("POST", iss + "/token")})
                    for _ in range(n)],
                "resource_bearer": [("GET", "/resource", None, {
                    "Authorization": "Bearer " + plain})] * n,
                "resource_dpop": [("GET", "/resource", None, {
                    "Authorization": "DPoP " + bound,
                    "DPoP": key.proof("GET", iss + "/resource", bound)})
                    for _ in range(n)],
            }
            for name, reqs in work.items():
                results[name].append(run(conn, proc.pid, reqs))
    finally:
        conn.close()
        proc.terminate()
        proc.wait(timeout=30)
    print(f"{a.requests} requests per run, {a.rounds} rounds, medians; "
          "one connection, one request at a time")
    print(f"{'run':<18}{'req/s':>10}{'CPU us/req':>13}")
    med = {}
    for name, runs in results.items():
        rps = statistics.median(n / t for t, _ in runs)
        us = statistics.median(c / n * 1e6 for _, c in runs)
        med[name] = (rps, us)
        print(f"{name:<18}{rps:>10.0f}{us:>13.0f}")
    for ep in ("token", "resource"):
        b, d = med[ep + "_bearer"], med[ep + "_dpop"]
        print(f"{ep}: DPoP/Bearer throughput {d[0] / b[0]:.2f}, "
              f"CPU per request {d[1] / b[1]:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
