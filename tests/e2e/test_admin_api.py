"""The admin HTTP API (docs/admin-api.md) against the real latchkeyd: its
own listener (admin_listen), Bearer tokens with latchkey:admin from a
client marked admin, every resource (clients, users, tokens, keys,
consents, sessions, audit events), the audit trail of each change, and
every answer checked against the OpenAPI document it serves
(tests/node/openapi-check.mjs: the document against the OpenAPI 3.1
schema, each body against its schema with Ajv)."""
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import unittest
import urllib.parse

import jwt
import requests

from lk_harness import (LatchkeyTestCase, LATCHKEYD, add_client, basic, cli,
                        skip_or_fail)
from test_authorize import AuthorizeBase

HERE = os.path.dirname(os.path.abspath(__file__))
OPENAPI = os.path.join(HERE, "..", "..", "admin-api", "openapi.json")
CHECKER = os.path.join(HERE, "..", "node", "openapi-check.mjs")
JSON = {"Content-Type": "application/json"}


class OpenApiChecker:
    """One node process for the module: the document's verdict, then one
    verdict per answer."""

    def __init__(self):
        self.proc = subprocess.Popen(["node", CHECKER, OPENAPI],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.document = json.loads(self.proc.stdout.readline())

    def check(self, method, path, status, headers, body):
        line = json.dumps({"method": method, "path": path, "status": status,
                           "content_type": headers.get("content-type"),
                           "body": body})
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


CHECK = None
CHECK_MISSING = None


def setUpModule():
    global CHECK, CHECK_MISSING
    if shutil.which("node") is None:
        CHECK_MISSING = "node is not installed (scripts/install-test-deps.sh)"
        return
    if not os.path.isdir(os.path.join(HERE, "..", "node", "node_modules",
                                      "ajv")):
        CHECK_MISSING = ("tests/node has no node_modules/ajv "
                         "(scripts/install-test-deps.sh)")
        return
    CHECK = OpenApiChecker()


def tearDownModule():
    if CHECK is not None:
        CHECK.close()


class Answer:
    def __init__(self, status, headers, raw):
        self.status, self.headers, self.raw = status, headers, raw
        self.body = json.loads(raw) if raw else None


class AdminBase(AuthorizeBase):
    """The clients and users of AuthorizeBase, plus ops (admin) and svc
    (not), and latchkeyd serving the admin API on a port of its own."""

    SERVER_ARGS = ("--admin-listen", "127.0.0.1:0")

    def setUp(self):
        if CHECK is None:
            skip_or_fail(self, CHECK_MISSING)
        super().setUp()
        ops = add_client(self.db, "ops", "--id", "ops", "--admin",
                         "--scope", "read")
        svc = add_client(self.db, "svc", "--id", "svc", "--scope", "read")
        self.ops = ("ops", ops["client_secret"])
        self.svc = ("svc", svc["client_secret"])
        self.tok = self.token_of(self.ops)

    def token_of(self, creds, **form):
        r = self.s.token(dict({"grant_type": "client_credentials"}, **form),
                         auth=creds)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["access_token"]

    def call(self, method, path, body=None, token="default", headers=None,
            documented=True):
        """One request to the admin port; the answer is checked against
        the OpenAPI document (documented=False: a path it does not have)."""
        h = {}
        if token == "default":
            token = self.tok
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h.update(JSON)
        h.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1",
                                          self.s.ready["admin_port"],
                                          timeout=30)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            a = Answer(r.status, {k.lower(): v for k, v in r.getheaders()},
                       r.read())
        finally:
            conn.close()
        self.assertEqual(a.headers.get("cache-control"), "no-store")
        self.assertTrue(a.headers.get("x-request-id"))
        if documented:
            v = CHECK.check(method, path, a.status, a.headers, a.body)
            self.assertTrue(v["ok"], f"{method} {path} -> {a.status} "
                                     f"{a.raw[:300]!r}: {v.get('why')}")
        return a

    def eventually(self, check, timeout=6):
        """check() true within timeout s (the keyring rereads the store
        every 2 s)."""
        deadline = time.monotonic() + timeout
        while not check():
            self.assertLess(time.monotonic(), deadline, "never happened")
            time.sleep(0.2)

    def assertError(self, a, status, code):
        self.assertEqual(a.status, status, a.raw)
        self.assertTrue(a.headers["content-type"].startswith(
            "application/json"))
        self.assertEqual(a.body["error"], code, a.raw)
        self.assertIsInstance(a.body["error_description"], str)

    def events(self, **q):
        a = self.call("GET", "/admin/audit-events?" + urllib.parse.urlencode(q))
        self.assertEqual(a.status, 200, a.raw)
        return a.body["events"]


class DocumentTest(AdminBase):
    def test_document_is_valid_openapi_and_served(self):
        self.assertTrue(CHECK.document["document"], CHECK.document)
        a = self.call("GET", "/admin/openapi.json", token=None)
        self.assertEqual(a.status, 200, a.raw)
        with open(OPENAPI) as f:
            self.assertEqual(a.body, json.load(f))
        self.assertEqual(a.body["openapi"], "3.1.0")

    def test_every_route_is_in_the_document(self):
        # An undocumented path is a 404 the document does not describe.
        a = self.call("GET", "/admin/nope", documented=False)
        self.assertError(a, 404, "not_found")
        with open(OPENAPI) as f:
            doc = json.load(f)
        for path, ops in doc["paths"].items():
            concrete = path.replace("{client_id}", "nobody").replace(
                "{username}", "nobody").replace("{sid}", "nosid")
            for method in ops:
                if method == "parameters":
                    continue
                a = self.call(method.upper(), concrete,
                             body={} if method in ("post", "patch") else None)
                self.assertNotEqual(a.status, 405, f"{method} {path}")
                self.assertLess(a.status, 500, a.raw)


class AuthTest(AdminBase):
    def test_refusals(self):
        a = self.call("GET", "/admin/clients", token=None)
        self.assertError(a, 401, "invalid_token")
        self.assertEqual(a.headers["www-authenticate"],
                         'Bearer realm="latchkey-admin"')
        a = self.call("GET", "/admin/clients", token="not.a.token")
        self.assertError(a, 401, "invalid_token")
        self.assertIn('error="invalid_token"', a.headers["www-authenticate"])
        a = self.call("GET", "/admin/clients", token=None,
                     headers={"Authorization": basic(*self.ops)})
        self.assertError(a, 400, "invalid_request")
        # A client that is not admin: no latchkey:admin, even when asked.
        r = self.s.token({"grant_type": "client_credentials",
                          "scope": "latchkey:admin"}, auth=self.svc)
        self.assertOAuthError(r, 400, "invalid_scope")
        a = self.call("GET", "/admin/clients", token=self.token_of(self.svc))
        self.assertError(a, 403, "insufficient_scope")
        self.assertIn('scope="latchkey:admin"', a.headers["www-authenticate"])
        # The admin client's token without the scope.
        a = self.call("GET", "/admin/clients",
                      token=self.token_of(self.ops, scope="read"))
        self.assertError(a, 403, "insufficient_scope")

    def test_only_the_admin_clients_own_tokens(self):
        """A user's token got through an admin client carries the user's
        authority, not the operator's: refused even with the scope."""
        cli(self.db, "client", "update", "conf", "--admin")
        code = self.login_and_consent("dave", client_id="conf",
                                      scope="latchkey:admin")
        r = self.exchange(code, client="conf")
        self.assertEqual(r.status, 200, r.body)
        self.assertIn("latchkey:admin", r.json()["scope"].split())
        a = self.call("GET", "/admin/clients", token=r.json()["access_token"])
        self.assertError(a, 403, "insufficient_scope")
        self.assertIn("issued to a user", a.body["error_description"])
        # An admin client is confidential.
        p = cli(self.db, "client", "add", "x", "--public", "--admin",
                check=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("an admin client must be confidential", p.stderr)
        a = self.call("POST", "/admin/clients",
                      body={"public": True, "admin": True})
        self.assertError(a, 400, "invalid_request")
        self.assertIn("'admin'", a.body["error_description"])

    def test_refused_before_the_body(self):
        """Routing, the token and a declared size are checked on the
        headers: an unauthenticated caller cannot make it read a body."""
        port = self.s.ready["admin_port"]
        for auth, want in ((b"", b" 401 "),
                           (b"Authorization: Bearer " + self.tok.encode() +
                            b"\r\n", b" 413 ")):
            with socket.create_connection(("127.0.0.1", port),
                                          timeout=10) as c:
                c.sendall(b"POST /admin/clients HTTP/1.1\r\nHost: x\r\n" +
                          auth + b"Content-Type: application/json\r\n"
                          b"Content-Length: 50000000\r\n\r\n{")
                got = c.recv(65536)
            self.assertIn(want, got.split(b"\r\n")[0], got)
        # A chunked body states no size: read to the limit, then drained
        # (boundedly) and answered 413.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            c.sendall(b"POST /admin/clients HTTP/1.1\r\nHost: x\r\n"
                      b"Authorization: Bearer " + self.tok.encode() +
                      b"\r\nContent-Type: application/json\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")
            piece = b" " * 65536
            for _ in range(10):  # 640 KiB: past max_body_size (16 KiB)
                c.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            c.sendall(b"0\r\n\r\n")
            got = c.recv(65536)
        self.assertIn(b" 413 ", got.split(b"\r\n")[0], got)

    def test_scope_list_cannot_smuggle_admin(self):
        cli(self.db, "client", "update", "svc", "--scope", "read",
            "--scope", "latchkey:admin")
        shown = json.loads(cli(self.db, "client", "show", "svc",
                               "--json").stdout)
        self.assertEqual(shown["scopes"], ["read"])
        self.assertFalse(shown["admin"])

    def test_unmarked_disabled_or_revoked_takes_effect_at_once(self):
        self.assertEqual(self.call("GET", "/admin/clients").status, 200)
        cli(self.db, "client", "update", "ops", "--no-admin")
        time.sleep(1.1)  # the client cache's bound (docs/design.md)
        self.assertError(self.call("GET", "/admin/clients"), 403,
                         "insufficient_scope")
        cli(self.db, "client", "update", "ops", "--admin")
        time.sleep(1.1)
        self.assertEqual(self.call("GET", "/admin/clients").status, 200)
        cli(self.db, "client", "disable", "ops")
        time.sleep(1.1)
        self.assertError(self.call("GET", "/admin/clients"), 401,
                         "invalid_token")
        cli(self.db, "client", "enable", "ops")
        time.sleep(1.1)
        jti = jwt.decode(self.tok, options={"verify_signature": False})["jti"]
        cli(self.db, "token", "revoke", jti)
        self.assertError(self.call("GET", "/admin/clients"), 401,
                         "invalid_token")

    def test_not_on_the_public_port(self):
        r = self.s.request("GET", "/admin/clients",
                           headers={"Authorization": "Bearer " + self.tok})
        self.assertEqual(r.status, 404, r.body)
        a = self.call("POST", "/token", body="grant_type=client_credentials",
                     headers={"Content-Type":
                              "application/x-www-form-urlencoded"},
                     documented=False)
        self.assertError(a, 404, "not_found")

    def test_same_port_as_listen_refused(self):
        p = subprocess.run([LATCHKEYD, "--db", self.db, "--listen",
                            "127.0.0.1:18431", "--admin-listen",
                            "127.0.0.1:18431"], capture_output=True,
                           text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("admin_listen", p.stderr)
        self.assertIn("never shares the public port", p.stderr)

    def test_off_by_default(self):
        self.assertNotIn("admin_port", self.start().ready)


class BadInputTest(AdminBase):
    def test_bodies_parameters_and_methods(self):
        a = self.call("POST", "/admin/clients", body="{not json",
                     headers=JSON)
        self.assertError(a, 400, "invalid_request")
        a = self.call("POST", "/admin/clients", body="[1]", headers=JSON)
        self.assertError(a, 400, "invalid_request")
        a = self.call("POST", "/admin/clients", body='{"name": "x"}',
                     headers={"Content-Type": "text/plain"})
        self.assertError(a, 400, "invalid_request")
        a = self.call("POST", "/admin/clients",
                     body='{"name": "a", "name": "b"}', headers=JSON)
        self.assertError(a, 400, "invalid_request")
        a = self.call("POST", "/admin/clients", body={"nmae": "typo"})
        self.assertError(a, 400, "invalid_request")
        self.assertIn("'nmae'", a.body["error_description"])
        a = self.call("POST", "/admin/clients", body={"grants": "password"})
        self.assertError(a, 400, "invalid_request")
        self.assertIn("'grants'", a.body["error_description"])
        a = self.call("POST", "/admin/clients",
                     body={"grants": ["telepathy"]})
        self.assertError(a, 400, "invalid_request")
        a = self.call("POST", "/admin/clients",
                     body={"client_id": "u_taken"})
        self.assertError(a, 400, "invalid_request")
        a = self.call("POST", "/admin/clients", body={"client_secret": "short"})
        self.assertError(a, 400, "invalid_request")
        a = self.call("POST", "/admin/clients",
                      body={"grants": ["client_credentials"],
                            "grant_types": ["password"]})
        self.assertError(a, 400, "invalid_request")
        a = self.call("DELETE", "/admin/clients/svc", body={"force": True})
        self.assertError(a, 400, "invalid_request")
        a = self.call("GET", "/admin/clients/%00x")
        self.assertError(a, 400, "invalid_request")
        a = self.call("GET", "/admin/clients/caf%C3%A9%FF")
        self.assertEqual(a.status, 404, a.raw)
        a = self.call("GET", "/admin/clients?limit=0")
        self.assertError(a, 400, "invalid_request")
        a = self.call("GET", "/admin/clients?limt=5")
        self.assertError(a, 400, "invalid_request")
        a = self.call("PUT", "/admin/clients", documented=False)
        self.assertError(a, 405, "method_not_allowed")
        self.assertEqual(a.headers["allow"], "GET, POST")
        # Nothing was added by any of them.
        a = self.call("GET", "/admin/clients")
        self.assertEqual(sorted(c["client_id"] for c in a.body["clients"]),
                         ["api", "conf", "ops", "svc", "web"])


class ClientsTest(AdminBase):
    def test_lifecycle_and_its_audit_trail(self):
        a = self.call("POST", "/admin/clients",
                     body={"client_id": "svc-b", "scopes": ["read", "write"],
                           "access_token_ttl": 120, "on_refresh": None})
        self.assertEqual(a.status, 201, a.raw)
        c = a.body
        self.assertEqual(c["scopes"], ["read", "write"])
        self.assertEqual(c["grant_types"], ["client_credentials"])
        secret = c["client_secret"]
        self.assertGreaterEqual(len(secret), 32)
        r = self.s.token({"grant_type": "client_credentials"},
                         auth=("svc-b", secret))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["expires_in"], 120)
        # The same description as the CLI's.
        shown = json.loads(cli(self.db, "client", "show", "svc-b",
                               "--json").stdout)
        got = self.call("GET", "/admin/clients/svc-b").body
        self.assertEqual(got, shown)
        self.assertNotIn("client_secret", got)
        self.assertError(self.call("POST", "/admin/clients",
                                  body={"client_id": "svc-b"}), 409,
                         "conflict")
        a = self.call("PATCH", "/admin/clients/svc-b",
                     body={"scopes": ["read"], "access_token_ttl": None})
        self.assertEqual(a.status, 200, a.raw)
        self.assertEqual(a.body["scopes"], ["read"])
        self.assertIsNone(a.body["access_token_ttl"])
        self.assertError(self.call("PATCH", "/admin/clients/svc-b", body={}),
                         400, "invalid_request")
        self.assertError(self.call("PATCH", "/admin/clients/svc-b",
                                  body={"public": True}), 400,
                         "invalid_request")
        a = self.call("POST", "/admin/clients/svc-b/disable")
        self.assertEqual(a.status, 200, a.raw)
        self.assertTrue(a.body["disabled"])
        r = self.s.token({"grant_type": "client_credentials"},
                         auth=("svc-b", secret))
        self.assertOAuthError(r, 401, "invalid_client")
        a = self.call("POST", "/admin/clients/svc-b/enable")
        self.assertFalse(a.body["disabled"])
        a = self.call("DELETE", "/admin/clients/svc-b")
        self.assertEqual(a.status, 204, a.raw)
        self.assertEqual(a.raw, b"")
        self.assertError(self.call("GET", "/admin/clients/svc-b"), 404,
                         "not_found")
        self.assertError(self.call("DELETE", "/admin/clients/svc-b"), 404,
                         "not_found")

        ev = self.events(object="client:svc-b")
        self.assertEqual([e["id"] for e in ev], sorted(e["id"] for e in ev))
        self.assertEqual([e["action"] for e in ev],
                         ["client.add", "client.update", "client.disable",
                          "client.enable", "client.remove"])
        for e in ev:
            self.assertEqual(e["actor"], "admin-api:ops")
            self.assertEqual(e["address"], "127.0.0.1")
            self.assertNotIn(secret, json.dumps(e))
        upd = [e for e in ev if e["action"] == "client.update"][0]
        self.assertEqual(upd["changes"]["scopes"],
                         {"old": ["read", "write"], "new": ["read"]})
        self.assertEqual(upd["changes"]["access_token_ttl"],
                         {"old": 120, "new": None})
        # The CLI reads the same trail.
        listed = json.loads(cli(self.db, "audit", "list", "--actor",
                                "admin-api:ops", "--json").stdout)
        self.assertEqual(len(listed), len(ev))

    def test_rotate_secret_with_grace(self):
        a = self.call("POST", "/admin/clients/svc/rotate-secret",
                      body={"grace": 300})
        self.assertEqual(a.status, 200, a.raw)
        new = a.body["client_secret"]
        self.assertGreater(a.body["previous_secret_expires_at"], time.time())
        for secret in (self.svc[1], new):
            r = self.s.token({"grant_type": "client_credentials"},
                             auth=("svc", secret))
            self.assertEqual(r.status, 200, r.body)
        shown = self.call("GET", "/admin/clients/svc").body
        self.assertEqual(shown["previous_secret_expires_at"],
                         a.body["previous_secret_expires_at"])
        a = self.call("POST", "/admin/clients/svc/rotate-secret")
        self.assertIsNone(a.body["previous_secret_expires_at"])
        r = self.s.token({"grant_type": "client_credentials"},
                         auth=("svc", new))
        self.assertOAuthError(r, 401, "invalid_client")
        self.assertError(self.call("POST", "/admin/clients/web/rotate-secret"),
                         409, "conflict")
        self.assertError(self.call("POST", "/admin/clients/svc/rotate-secret",
                                  body={"grace": -1}), 400,
                         "invalid_request")
        ev = self.events(object="client:svc")  # oldest first
        self.assertEqual(ev[-1]["changes"]["client_secret"],
                         {"old": "(replaced)", "new": "(generated)"})

    def test_a_change_holds_on_every_instance(self):
        """What a team automates against works across instances: a client
        disabled through one latchkeyd's admin API is refused by another
        on the same database (within the client cache's 1 s)."""
        other = self.start()
        r = other.token({"grant_type": "client_credentials"}, auth=self.svc)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.call("POST", "/admin/clients/svc/disable")
                         .status, 200)
        deadline = time.monotonic() + 3
        while True:
            r = other.token({"grant_type": "client_credentials"},
                            auth=self.svc)
            if r.status != 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertOAuthError(r, 401, "invalid_client")

    def test_listing_pages(self):
        a = self.call("GET", "/admin/clients?limit=2")
        self.assertEqual(len(a.body["clients"]), 2)
        self.assertEqual(a.body["total"], 5)
        a = self.call("GET", "/admin/clients?since=%d" %
                     (int(time.time()) + 3600))
        self.assertEqual(a.body, {"clients": [], "total": 0})


class UsersTest(AdminBase):
    def password_token(self, user, password):
        return self.s.token({"grant_type": "password", "username": user,
                             "password": password}, auth=self.pw)

    def setUp(self):
        super().setUp()
        pw = add_client(self.db, "pw", "--id", "pw", "--grant", "password")
        self.pw = ("pw", pw["client_secret"])

    def test_user_lifecycle(self):
        a = self.call("POST", "/admin/users",
                     body={"username": "frank", "password": "frank-pass-1",
                           "claims": {"email": "frank@example.com"}})
        self.assertEqual(a.status, 201, a.raw)
        self.assertTrue(a.body["user_id"].startswith("u_"))
        self.assertNotIn("password", a.raw.decode())
        self.assertEqual(self.password_token("frank", "frank-pass-1").status,
                         200)
        self.assertError(self.call("POST", "/admin/users",
                                  body={"username": "frank",
                                        "password": "x" * 12}), 409,
                         "conflict")
        self.assertError(self.call("POST", "/admin/users",
                                  body={"username": "nopw"}), 400,
                         "invalid_request")
        a = self.call("PATCH", "/admin/users/frank",
                     body={"claims": {"name": "Frank"},
                           "password": "frank-pass-2"})
        self.assertEqual(a.status, 200, a.raw)
        self.assertEqual(a.body["claims"], {"name": "Frank"})
        self.assertEqual(self.password_token("frank", "frank-pass-1").status,
                         400)
        self.assertEqual(self.password_token("frank", "frank-pass-2").status,
                         200)
        self.assertError(self.call("PATCH", "/admin/users/frank",
                                  body={"claims": {"sub": "me"}}), 400,
                         "invalid_request")
        # A username may hold "/": the path takes it escaped.
        a = self.call("POST", "/admin/users",
                      body={"username": "ops/alice", "password": "x" * 12})
        self.assertEqual(a.status, 201, a.raw)
        a = self.call("GET", "/admin/users/ops%2Falice")
        self.assertEqual(a.body["username"], "ops/alice", a.raw)
        self.assertEqual(self.call("DELETE", "/admin/users/ops%2Falice")
                         .status, 204)
        a = self.call("GET", "/admin/users?limit=10")
        self.assertIn("frank", [u["username"] for u in a.body["users"]])
        self.assertEqual(self.call("DELETE", "/admin/users/frank").status, 204)
        self.assertError(self.call("GET", "/admin/users/frank"), 404,
                         "not_found")
        ev = self.events(object="user:frank")
        self.assertEqual(sorted(e["action"] for e in ev),
                         ["user.add", "user.remove", "user.update"])
        for e in ev:
            self.assertNotIn("frank-pass", json.dumps(e))
            self.assertNotIn("argon2", json.dumps(e))


class TokensTest(AdminBase):
    def test_list_and_revoke(self):
        t1 = self.token_of(self.svc)
        self.token_of(self.svc)
        a = self.call("GET", "/admin/tokens?client=svc&active=true")
        self.assertEqual(a.status, 200, a.raw)
        self.assertEqual(a.body["total"], 2)
        self.assertTrue(all(t["client_id"] == "svc" and
                            t["status"] == "active"
                            for t in a.body["tokens"]))
        jti = jwt.decode(t1, options={"verify_signature": False})["jti"]
        a = self.call("POST", "/admin/tokens/revoke", body={"jti": jti})
        self.assertEqual(a.body, {"target": "jti", "value": jti,
                                  "revoked": 1, "sessions_ended": 0})
        self.assertFalse(self.active(t1))
        a = self.call("POST", "/admin/tokens/revoke", body={"jti": jti})
        self.assertEqual(a.body["revoked"], 0)
        self.assertError(self.call("POST", "/admin/tokens/revoke",
                                  body={"jti": "nope"}), 404, "not_found")
        a = self.call("POST", "/admin/tokens/revoke", body={"client_id": "svc"})
        self.assertEqual(a.body["revoked"], 1)
        self.assertError(self.call("POST", "/admin/tokens/revoke",
                                  body={"client_id": "svc", "jti": jti}),
                         400, "invalid_request")
        self.assertError(self.call("POST", "/admin/tokens/revoke", body={}),
                         400, "invalid_request")
        self.assertError(self.call("GET", "/admin/tokens?active=yes"), 400,
                         "invalid_request")
        self.assertError(self.call("GET", "/admin/tokens?user=nobody"), 404,
                         "not_found")
        ev = self.events(object="client:svc")
        self.assertEqual(ev[-1]["action"], "token.revoke")
        self.assertEqual(ev[-1]["changes"]["revoked_tokens"]["new"], 1)

    def test_refresh_records_of_a_user(self):
        code = self.login_and_consent("dave")
        r = self.exchange(code)
        self.assertEqual(r.status, 200, r.body)
        a = self.call("GET", "/admin/tokens?type=refresh&user=dave")
        self.assertEqual(a.body["total"], 1, a.raw)
        self.assertEqual(a.body["tokens"][0]["username"], "dave")
        self.assertNotIn(r.json()["refresh_token"], a.raw.decode())
        a = self.call("POST", "/admin/tokens/revoke", body={"username": "dave"})
        self.assertEqual(a.body["revoked"], 2, a.raw)
        self.assertEqual(a.body["sessions_ended"], 1, a.raw)


class KeysTest(AdminBase):
    def kids(self):
        return {k["kid"] for k in self.s.get_json("/jwks.json")["keys"]}

    def test_staged_rotation(self):
        a = self.call("GET", "/admin/keys")
        self.assertEqual(a.status, 200, a.raw)
        current = {k["alg"]: k["kid"] for k in a.body["keys"]
                   if k["status"] == "current"}
        self.assertEqual(set(current), {"ES256", "RS256"})
        self.assertError(self.call("POST", "/admin/keys", body={}), 400,
                         "invalid_request")
        self.assertError(self.call("POST", "/admin/keys",
                                  body={"next": True, "alg": "HS256"}), 400,
                         "invalid_request")
        a = self.call("POST", "/admin/keys", body={"next": True,
                                                   "alg": "ES256"})
        self.assertEqual(a.status, 201, a.raw)
        nxt = a.body["keys"][0]["kid"]
        self.eventually(lambda: nxt in self.kids())
        t = self.token_of(self.svc)
        self.assertEqual(jwt.get_unverified_header(t)["kid"],
                         current["ES256"])
        a = self.call("POST", "/admin/keys/rotate", body={"alg": "ES256"})
        self.assertEqual(a.status, 200, a.raw)
        self.assertEqual(a.body["keys"][0]["kid"], nxt)
        self.assertTrue(a.body["keys"][0]["promoted"])
        self.assertEqual(a.body["keys"][0]["previous_kid"], current["ES256"])
        self.eventually(lambda: jwt.get_unverified_header(
            self.token_of(self.svc))["kid"] == nxt)
        self.assertIn(current["ES256"], self.kids())  # still verifiable
        ev = self.events(object="key:ES256")
        self.assertEqual(sorted(e["action"] for e in ev),
                         ["key.add_next", "key.rotate"])


class ConsentsSessionsTest(AdminBase):
    def test_list_and_revoke(self):
        self.login_and_consent("dave")
        a = self.call("GET", "/admin/consents?user=dave")
        self.assertEqual(a.status, 200, a.raw)
        self.assertEqual([(c["client_id"], c["scope"])
                          for c in a.body["consents"]], [("web", "read")])
        a = self.call("GET", "/admin/sessions?user=dave")
        self.assertEqual(a.body["total"], 1, a.raw)
        sid = a.body["sessions"][0]["sid"]
        self.assertEqual(self.call("DELETE", "/admin/consents/dave/web").status,
                         204)
        self.assertError(self.call("DELETE", "/admin/consents/dave/web"), 404,
                         "not_found")
        self.assertEqual(self.call("DELETE", "/admin/sessions/" + sid).status,
                         204)
        self.assertError(self.call("DELETE", "/admin/sessions/" + sid), 404,
                         "not_found")
        # Signed out and asked again.
        r = self.get(**self.params())
        self.assertPage(r, 200, "Sign in")
        actions = {e["action"] for e in self.events(actor="admin-api:ops")}
        self.assertEqual(actions, {"consent.revoke", "session.revoke"})


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   capture_output=True, timeout=60)


class ClientCertificateTest(LatchkeyTestCase):
    """admin_tls_cert/key and admin_tls_client_ca: HTTPS, and a client
    certificate the CA signed is required on top of the token."""

    def make_pki(self):
        d = self.dir
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
                "-out", "ca.pem", "-days", "2", "-subj", "/CN=admin CA",
                cwd=d)
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-keyout", "srv.key",
                "-out", "srv.pem", "-days", "2", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1", cwd=d)
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", "cli.key", "-out", "cli.csr", "-subj",
                "/CN=automation", cwd=d)
        openssl("x509", "-req", "-in", "cli.csr", "-CA", "ca.pem", "-CAkey",
                "ca.key", "-CAcreateserial", "-out", "cli.pem", "-days", "2",
                cwd=d)
        # A certificate from a CA the server does not trust.
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-keyout", "other.key",
                "-out", "other.pem", "-days", "2", "-subj", "/CN=stranger",
                cwd=d)
        for k in ("ca.key", "srv.key", "cli.key", "other.key"):
            os.chmod(os.path.join(d, k), 0o600)

    def test_certificate_required(self):
        if shutil.which("openssl") is None:
            skip_or_fail(self, "openssl is not installed")
        self.make_pki()
        ops = add_client(self.db, "ops", "--id", "ops", "--admin")
        p = lambda n: os.path.join(self.dir, n)  # noqa: E731
        s = self.start("--admin-listen", "127.0.0.1:0",
                       "--admin-tls-cert", p("srv.pem"),
                       "--admin-tls-key", p("srv.key"),
                       "--admin-tls-client-ca", p("ca.pem"))
        r = s.token({"grant_type": "client_credentials"},
                    auth=("ops", ops["client_secret"]))
        tok = r.json()["access_token"]
        url = "https://127.0.0.1:%d/admin/clients" % s.ready["admin_port"]
        h = {"Authorization": "Bearer " + tok}
        ok = requests.get(url, headers=h, verify=p("srv.pem"),
                          cert=(p("cli.pem"), p("cli.key")), timeout=30)
        self.assertEqual(ok.status_code, 200, ok.text)
        self.assertEqual(ok.json()["total"], 1)
        none = requests.get(url, headers=h, verify=p("srv.pem"), timeout=30)
        self.assertEqual(none.status_code, 403, none.text)
        self.assertEqual(none.json()["error"], "unauthorized_client")
        try:
            other = requests.get(url, headers=h, verify=p("srv.pem"),
                                 cert=(p("other.pem"), p("other.key")),
                                 timeout=30)
            self.assertEqual(other.status_code, 403, other.text)
        except requests.exceptions.SSLError:
            pass  # refused in the handshake: as good
        # Plain HTTP is not served there.
        with self.assertRaises(requests.exceptions.ConnectionError):
            requests.get(url.replace("https", "http"), headers=h, timeout=5)
        # TLS 1.1 is refused on the admin listener too.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        try:
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        except ssl.SSLError:
            pass
        with socket.create_connection(("127.0.0.1", s.ready["admin_port"]),
                                      timeout=10) as raw:
            with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
                with ctx.wrap_socket(raw) as t:
                    t.do_handshake()


if __name__ == "__main__":
    unittest.main()
