#!/usr/bin/python3
"""What the JWT bearer grant costs latchkeyd (RFC 7523 section 2.1,
docs/service-auth.md), against client_credentials in the same run: one
latchkeyd on loopback, one client registered for both grants, an issuer
trusted for it with an RS256 key (a Kubernetes cluster's kind).

Usage: bench/jwt_bearer.py --build DIR [--requests N] [--rounds R]

The workload's JWT is signed once, before the clock starts, and presented
on every request, as a pod presents its projected token while it lives
(its jti is not spent). So the time is the server's: parsing the JWT,
looking the issuer up, verifying the RS256 signature, checking that the
sub names no client, and the issue itself. Requests go one at a time over
one keep-alive connection; the two runs alternate for R rounds and the
medians are reported, with the server's CPU per request (utime + stime
from /proc) and the ratio to client_credentials.
"""
import argparse
import base64
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from lk_bench import report, run  # bench/lk_bench.py

ISS = "https://kubernetes.default.svc.cluster.local"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="lk-jwt-bearer-bench-")
    db = os.path.join(tmp, "bench.db")
    cli = os.path.join(a.build, "latchkey")
    out = json.loads(subprocess.run(
        [cli, "--db", db, "client", "add", "workloads", "--id", "workloads",
         "--json", "--scope", "read", "--grant", "client_credentials",
         "--grant", "jwt-bearer"], check=True, capture_output=True,
        text=True).stdout)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk["kid"] = "k8s-1"
    jwks = os.path.join(tmp, "cluster.jwks")
    with open(jwks, "w") as f:
        json.dump({"keys": [jwk]}, f)
    subprocess.run([cli, "--db", db, "issuer", "add", ISS, "--client",
                    "workloads", "--jwks", jwks, "--audience", "latchkey"],
                   check=True, capture_output=True)
    auth = "Basic " + base64.b64encode(
        f"workloads:{out['client_secret']}".encode()).decode()
    proc = subprocess.Popen(
        [os.path.join(a.build, "latchkeyd"), "--db", db, "--listen",
         "127.0.0.1:0", "--log-level", "warn"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    port = json.loads(proc.stdout.readline())["port"]
    now = int(time.time())
    assertion = jwt.encode(
        {"iss": ISS, "sub": "system:serviceaccount:payments:worker",
         "aud": "latchkey", "iat": now, "exp": now + 3600},
        key.private_bytes(serialization.Encoding.PEM,
                          serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption()),
        algorithm="RS256", headers={"kid": "k8s-1"})
    form = {"Content-Type": "application/x-www-form-urlencoded",
            "Authorization": auth}
    bodies = {
        "client_credentials": "grant_type=client_credentials",
        "jwt_bearer": urllib.parse.urlencode({
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": assertion}),
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    results = {k: [] for k in bodies}
    try:
        for _ in range(a.rounds):
            for name, body in bodies.items():
                results[name].append(run(
                    conn, proc.pid,
                    [("POST", "/token", body, form)] * a.requests))
    finally:
        conn.close()
        proc.terminate()
        proc.wait(timeout=30)
    report(results, a.requests, a.rounds,
           "one connection, one request at a time",
           "client_credentials", "jwt_bearer")

if __name__ == "__main__":
    sys.exit(main())
