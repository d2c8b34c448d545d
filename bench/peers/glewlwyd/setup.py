#!/usr/bin/python3
"""Configures a freshly started glewlwyd through its admin API, mints the
refresh token pool and writes peer.json. Called by start.sh; standard
library only.

    setup.py PORT WORKDIR POOL_SIZE PID FAST_ITERATIONS

FAST_ITERATIONS is 0 for the packaged client module settings, otherwise the
PBKDF2 iteration count start.sh wrote into the client module's parameters
(checked here against the stored secret hash).

Creates, as admin/password (the packaged default administrator):
  - scopes "read" and "write" (no password or scheme required);
  - an "oidc" plugin instance named "oidc": client_credentials, password and
    refresh_token grants; access tokens signed ES256 with WORKDIR/key.pem;
    refresh tokens one-use ("refresh-token-one-use": "always"); access
    tokens valid 3600 s; introspection for the token's client;
  - a confidential client (client_secret_basic) allowed those grants and
    scopes; its secret is stored by the database client module as PBKDF2;
  - a user with a password and both scopes.
Then mints POOL_SIZE refresh tokens with password grant requests.
"""
import base64
import http.client
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import threading
import urllib.parse

PORT, WORK, POOL, PID, FAST = (int(sys.argv[1]), sys.argv[2],
                               int(sys.argv[3]), int(sys.argv[4]),
                               int(sys.argv[5]))
BASE = f"http://127.0.0.1:{PORT}"
PLUGIN = "oidc"
SCOPE = "read write"
CLIENT_ID = "bench-client"
USERNAME = "bench-user"


def fail(msg):
    print(f"bench peer glewlwyd: {msg}", file=sys.stderr)
    sys.exit(1)


class Conn:
    def __init__(self):
        self.c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        self.cookie = None

    def req(self, method, path, body=None, headers=None, form=False):
        h = dict(headers or {})
        if self.cookie:
            h["Cookie"] = self.cookie
        if body is not None:
            if form:
                body = urllib.parse.urlencode(body)
                h["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                body = json.dumps(body)
                h["Content-Type"] = "application/json"
        self.c.request(method, path, body, h)
        r = self.c.getresponse()
        data = r.read()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie" and v.startswith("GLEWLWYD2_SESSION_ID="):
                self.cookie = v.split(";", 1)[0]
        return r.status, data

    def admin(self, method, path, body=None):
        st, data = self.req(method, "/api" + path, body)
        if st != 200:
            fail(f"admin API {method} {path}: HTTP {st}: {data[:300]!r}")
        return json.loads(data) if data else None


def basic(user, pw):
    return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()


def main():
    client_secret = secrets.token_urlsafe(24)
    user_password = secrets.token_urlsafe(18)
    with open(os.path.join(WORK, "key.pem")) as f:
        key = f.read()
    with open(os.path.join(WORK, "pub.pem")) as f:
        pub = f.read()

    a = Conn()
    st, data = a.req("POST", "/api/auth/",
                     {"username": "admin", "password": "password"})
    if st != 200 or not a.cookie:
        fail(f"admin login failed: HTTP {st} {data[:200]!r}")

    for s in ("read", "write"):
        a.admin("POST", "/scope/", {
            "name": s, "display_name": s, "description": f"bench {s}",
            "password_required": False, "scheme": {}})

    a.admin("POST", "/mod/plugin/", {
        "module": "oidc", "name": PLUGIN, "display_name": "OpenID Connect",
        "enabled": True, "order_rank": 0,
        "parameters": {
            "iss": f"{BASE}/api/{PLUGIN}",
            "jwt-type": "ecdsa", "jwt-key-size": "256",
            "key": key, "cert": pub,
            "access-token-duration": 3600,
            "refresh-token-duration": 1209600,
            "code-duration": 600,
            "refresh-token-rolling": True,
            "refresh-token-one-use": "always",
            "allow-non-oidc": True,
            "auth-type-client-enabled": True,
            "auth-type-password-enabled": True,
            "auth-type-refresh-enabled": True,
            "auth-type-code-enabled": False,
            "auth-type-token-enabled": False,
            "auth-type-none-enabled": False,
            "auth-type-device-enabled": False,
            "introspection-revocation-allowed": True,
            "introspection-revocation-allow-target-client": True,
        }})

    a.admin("POST", "/client/", {
        "client_id": CLIENT_ID, "name": "bench client", "enabled": True,
        "confidential": True, "password": client_secret,
        "scope": ["read", "write"],
        "authorization_type": ["client_credentials", "password",
                               "refresh_token"],
        "token_endpoint_auth_method": ["client_secret_basic"],
        "redirect_uri": []})

    a.admin("POST", "/user/", {
        "username": USERNAME, "name": "bench user", "enabled": True,
        "password": user_password, "scope": ["read", "write"]})

    # What iteration count the stored client secret hash carries
    # ("<base64>,<iterations>" in this version).
    db = sqlite3.connect(os.path.join(WORK, "glewlwyd.db"))
    (stored,) = db.execute("SELECT gc_password FROM g_client WHERE "
                           "gc_client_id = ?", (CLIENT_ID,)).fetchone()
    db.close()
    iterations = stored.rsplit(",", 1)[1] if "," in stored else "?"
    if FAST and iterations != str(FAST):
        fail(f"GLEWLWYD_FAST: client secret hashed with {iterations} "
             f"PBKDF2 iterations, wanted {FAST}")

    token_path = f"/api/{PLUGIN}/token"
    auth = basic(CLIENT_ID, client_secret)
    st, data = Conn().req("POST", token_path,
                          {"grant_type": "client_credentials",
                           "scope": SCOPE}, {"Authorization": auth},
                          form=True)
    if st != 200 or b"access_token" not in data:
        fail(f"client_credentials check failed: HTTP {st} {data[:300]!r}")

    # Refresh token pool: password grants over 2 keep-alive connections.
    tokens, errors = [], []
    lock = threading.Lock()

    def mint(n):
        try:
            c = Conn()
            for _ in range(n):
                st, data = c.req("POST", token_path,
                                 {"grant_type": "password",
                                  "username": USERNAME,
                                  "password": user_password, "scope": SCOPE},
                                 {"Authorization": auth}, form=True)
                rt = json.loads(data).get("refresh_token") if st == 200 else None
                if not rt:
                    raise ValueError(f"HTTP {st} {data[:200]!r}")
                with lock:
                    tokens.append(rt)
        except (OSError, http.client.HTTPException, ValueError) as e:
            with lock:
                errors.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=mint, args=(POOL // 2 + POOL % 2,)),
               threading.Thread(target=mint, args=(POOL // 2,))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors or len(tokens) != POOL:
        fail(f"minting refresh tokens: got {len(tokens)} of {POOL}: "
             f"{errors[0] if errors else ''}")
    pool_file = os.path.join(WORK, "refresh_tokens.txt")
    with open(pool_file + ".tmp", "w") as f:
        f.writelines(t + "\n" for t in tokens)
    os.replace(pool_file + ".tmp", pool_file)

    version = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "glewlwyd"],
        capture_output=True, text=True).stdout.strip()
    upstream = subprocess.run(["glewlwyd", "-v"], capture_output=True,
                              text=True).stdout.strip() or "?"
    client = {"client_id": CLIENT_ID, "client_secret": client_secret}
    secret_note = (
        f"GLEWLWYD_FAST=1: the database client module's \"pbkdf2-iterations\" "
        f"parameter set to {FAST} (packaged default 150000), so the client "
        f"secret is stored as PBKDF2-SHA256 with {iterations} iterations; "
        "nothing else changed."
        if FAST else
        "Packaged client module settings: the client secret is stored as "
        f"PBKDF2-SHA256 with {iterations} iterations (the module default), "
        "verified on every client-authenticated request.")
    notes = " ".join([
        f"glewlwyd {upstream} (Debian package {version}), one process "
        "(libmicrohttpd, multi-threaded).",
        "Storage: SQLite (fresh database from the Debian dbconfig install "
        "script, rollback journal as packaged), in the work directory.",
        "Every access token and refresh token is written to the database "
        "before the response (gpo_access_token, gpo_refresh_token).",
        "Access tokens: JWT (typ at+jwt) signed ES256 with a P-256 key made "
        "with openssl at start; aud is the scope list.",
        "Refresh tokens: \"refresh-token-one-use\": \"always\" (rotation); a "
        "used token presented again is refused and the token that replaced "
        "it is disabled too. Pool minted with password grant requests.",
        secret_note,
        "Each token is several SQLite commits in autocommit mode (strace "
        "here: 8 fdatasync per client_credentials token, about 20 per "
        "refresh), serialised by the plugin's insert lock, so throughput "
        "also depends on the disk's fsync latency.",
        "The user password (user module) keeps the packaged PBKDF2 "
        "settings; it only costs at pool minting.",
        "Admin API set-up used the packaged default admin/password account "
        "(loopback only).",
    ])
    peer = {
        "name": "glewlwyd",
        "version": version,
        "pid": PID,
        "token_url": f"{BASE}{token_path}",
        "client_id": CLIENT_ID,
        "client_secret": client_secret,
        "scope": SCOPE,
        "auth": "basic",
        "access_token_format": "jwt-es256",
        "stores_access_tokens": True,
        "refresh": {"supported": True, "rotates": True,
                    "tokens_file": pool_file, **client},
        "jwks_url": f"{BASE}/api/{PLUGIN}/jwks",
        "metadata_url": f"{BASE}/api/{PLUGIN}/.well-known/openid-configuration",
        "introspect_url": f"{BASE}/api/{PLUGIN}/introspect",
        "introspect_client": client,
        "health_url": f"{BASE}/config",
        # Not "password": glewlwyd answers 400 to a password grant without
        # a scope parameter, and the driver's password workload sends none.
        "password_grant": {**client, "username": USERNAME,
                           "password": user_password, "scope": SCOPE,
                           "requires_scope_param": True},
        "client_secret_pbkdf2_iterations": int(iterations)
        if iterations.isdigit() else None,
        "notes": notes,
    }
    out = os.path.join(WORK, "peer.json")
    with open(out + ".tmp", "w") as f:
        json.dump(peer, f, indent=2)
        f.write("\n")
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    try:
        main()
    except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
        fail(f"{type(e).__name__}: {e}")
