"""Latchkey as a test double: --ephemeral, --fixtures, --ready-file, the
/_control/ endpoints (clock, faults, reset, tokens), the Bearer-protected
/resource and custom endpoint paths, against the real latchkeyd."""
import json
import os
import subprocess
import threading
import time
import urllib.parse

from lk_harness import LATCHKEYD, LatchkeyTestCase, basic

FIXTURES = {
    "clients": [
        {"client_id": "svc-a", "client_secret": "svc-a-secret",
         "grants": ["client_credentials"], "scopes": ["read", "write"],
         "access_token_ttl": 60},
        {"client_id": "app", "client_secret": "app-secret",
         "grants": ["password", "refresh_token"], "scopes": ["read"],
         "refresh_token_ttl": 3600},
        {"client_id": "web", "public": True,
         "grants": ["authorization_code", "refresh_token"],
         "redirect_uris": ["https://app.example/cb"], "scopes": ["read"]},
    ],
    "users": [{"username": "dave", "password": "dave-password-1"}],
}
SVC = ("svc-a", "svc-a-secret")
APP = ("app", "app-secret")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def resource_metadata(s):
    """/resource's RFC 9728 metadata URL on s (test_resource_metadata)."""
    return s.issuer + "/.well-known/oauth-protected-resource/resource"


class DoubleBase(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        self.write_fixtures(FIXTURES)

    def double(self, *args, env=None):
        return self.start_double(*args, env=env)

    def control(self, s, path, method="POST", **form):
        body = urllib.parse.urlencode(form) if method == "POST" else None
        if method == "GET" and form:
            path += "?" + urllib.parse.urlencode(form)
        r = s.request(method, "/_control/" + path, body=body,
                      headers=FORM if method == "POST" else {})
        return r

    def cc(self, s, **extra):
        return s.token({"grant_type": "client_credentials", **extra},
                       auth=SVC)

    def resource(self, s, token=None, query="", auth=None):
        h = {}
        if auth is not None:
            h["Authorization"] = auth
        elif token is not None:
            h["Authorization"] = "Bearer " + token
        return s.request("GET", "/resource" + query, headers=h)


class StartTest(DoubleBase):
    def test_ephemeral_with_fixtures_and_ready_file(self):
        tmp = os.path.join(self.dir, "tmp")
        os.mkdir(tmp)
        ready = os.path.join(self.dir, "ready.json")
        s = self.double("--ready-file", ready, env={"TMPDIR": tmp})
        with open(ready) as f:
            self.assertEqual(json.loads(f.read()), s.ready)
        self.assertEqual((s.ready["ready"], s.ready["pid"]),
                         (True, s.proc.pid))
        self.assertEqual(s.ready["issuer"], "http://127.0.0.1:%d" % s.port)
        # The private database lives under TMPDIR, and only while it runs.
        [d] = os.listdir(tmp)
        self.assertTrue(d.startswith("latchkeyd-"))
        # The ready line names it, for the CLI.
        self.assertEqual(s.ready["db"], os.path.join(tmp, d, "latchkey.db"))
        self.assertFalse(os.path.exists(self.db))
        r = self.cc(s)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["expires_in"], 60)
        r = s.token({"grant_type": "password", "username": "dave",
                     "password": "dave-password-1"}, auth=APP)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(s.stop(), 0)
        self.assertEqual(os.listdir(tmp), [])
        self.assertFalse(os.path.exists(ready))  # no stale line for the next

    def test_parallel_servers_do_not_interfere(self):
        servers = [self.double() for _ in range(4)]
        self.assertEqual(len({s.port for s in servers}), 4)
        tokens = [self.cc(s).json()["access_token"] for s in servers]
        # Each knows only its own tokens (and keys).
        for i, s in enumerate(servers):
            for k, t in enumerate(tokens):
                r = self.resource(s, t)
                self.assertEqual(r.status, 200 if i == k else 401)
        self.control(servers[0], "clock", advance=100000)
        self.assertEqual(self.resource(servers[1], tokens[1]).status, 200)

    def test_control_endpoints_absent_without_the_mode(self):
        s = self.start("--ephemeral", "--fixtures", self.fixtures)
        for path in ("clock", "faults", "reset", "tokens"):
            with self.subTest(path=path):
                r = s.request("GET", "/_control/" + path)
                self.assertOAuthError(r, 404, "not_found")
        r = self.cc(s)
        self.assertEqual(r.status, 200)

    def test_ready_file_that_cannot_be_written(self):
        p = subprocess.run([LATCHKEYD, "--listen", "127.0.0.1:0",
                            "--ephemeral", "--ready-file",
                            os.path.join(self.dir, "no", "such", "dir")],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(p.stdout, "")
        self.assertIn("ready_file", p.stderr)


class ControlGuardTest(DoubleBase):
    def test_only_this_host_by_name_and_only_forms(self):
        s = self.double()
        for h in ({"Host": "evil.example"}, {"Host": "attacker.test:80"},
                  {"Host": "127.0.0.1", "Origin": "https://evil.example"}):
            with self.subTest(h=h):
                r = s.request("GET", "/_control/clock", headers=h)
                self.assertOAuthError(r, 404, "not_found")
        for host in ("localhost:%d" % s.port, "127.0.0.1"):
            r = s.request("GET", "/_control/clock", headers={"Host": host})
            self.assertEqual(r.status, 200)
        # A page can POST text/plain cross-origin without a preflight.
        r = s.request("POST", "/_control/reset", body="x",
                      headers={"Content-Type": "text/plain"})
        self.assertOAuthError(r, 400, "invalid_request")
        # Only "true" means yes.
        self.control(s, "faults", endpoint="jwks", status=500)
        self.control(s, "faults", clear="false")
        self.assertEqual(len(self.control(s, "faults", method="GET")
                             .json()["faults"]), 1)

    def test_host_and_origin_must_be_loopback_literals(self):
        # Defect 4: a prefix test let a name an attacker's DNS answers
        # (DNS rebinding) through. Only a loopback IP literal, localhost or
        # [::1], each with an optional numeric port.
        s = self.double()
        port = s.port
        refused = ["127.0.0.1.evil.example", "127.evil", "127.0.0.1.",
                   "localhost.evil.example", "[::1]x", "[::1].evil",
                   "127.0.0.1:80x", "127.0.0.1:", "localhost:port",
                   "127.1", "127.0.0.256", "0127.0.0.1", "[::2]",
                   "[::1", "128.0.0.1", "evil.example:127"]
        accepted = ["127.0.0.1:%d" % port, "127.1.2.3", "localhost",
                    "LocalHost:%d" % port, "[::1]:%d" % port, "[::1]"]
        for host in refused:
            with self.subTest(host=host):
                r = s.request("GET", "/_control/clock",
                              headers={"Host": host})
                self.assertOAuthError(r, 404, "not_found")
                r = s.request("GET", "/_control/clock",
                              headers={"Origin": "http://" + host})
                self.assertOAuthError(r, 404, "not_found")
        for host in accepted:
            with self.subTest(host=host):
                r = s.request("GET", "/_control/clock",
                              headers={"Host": host})
                self.assertEqual(r.status, 200, r.body)
                self.assertIn("now", r.json())
                r = s.request("GET", "/_control/clock",
                              headers={"Origin": "http://" + host})
                self.assertEqual(r.status, 200, r.body)

    def test_reset_forgets_login_failures(self):
        s = self.double("--login-max-failures", "2")
        bad = {"grant_type": "password", "username": "dave",
               "password": "wrong-password"}
        for _ in range(2):
            self.assertOAuthError(s.token(bad, auth=APP), 400, "invalid_grant")
        good = dict(bad, password="dave-password-1")
        self.assertIn("too many", s.token(good, auth=APP)
                      .json()["error_description"])
        self.control(s, "reset")
        self.assertEqual(s.token(good, auth=APP).status, 200)


class ClockTest(DoubleBase):
    def test_clock_moves_expire_every_kind_of_token(self):
        s = self.double()
        at = self.cc(s).json()["access_token"]
        login = s.token({"grant_type": "password", "username": "dave",
                         "password": "dave-password-1"}, auth=APP).json()
        r = self.control(s, "clock", method="GET")
        self.assertEqual(r.json()["offset"], 0)
        r = self.control(s, "clock", advance=61)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["offset"], 61)
        self.assertAlmostEqual(r.json()["now"], time.time() + 61, delta=5)
        # The access token (ttl 60) is expired; the refresh token is not.
        self.assertEqual(self.resource(s, at).status, 401)
        r = s.token({"grant_type": "refresh_token",
                     "refresh_token": login["refresh_token"]}, auth=APP)
        self.assertEqual(r.status, 200, r.body)
        rt = r.json()["refresh_token"]
        # New tokens are stamped with the moved clock: valid now.
        self.assertEqual(self.resource(s, self.cc(s).json()["access_token"])
                         .status, 200)
        self.control(s, "clock", advance=3601)
        r = s.token({"grant_type": "refresh_token", "refresh_token": rt},
                    auth=APP)
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertEqual(r.json()["error_description"],
                         "the refresh token expired")
        self.assertEqual(self.control(s, "clock", reset="true")
                         .json()["offset"], 0)

    def test_codes_expire(self):
        s = self.double("--auto-approve-as", "dave")
        import base64
        import hashlib
        verifier = "v" * 43
        challenge = base64.urlsafe_b64encode(hashlib.sha256(
            verifier.encode()).digest()).rstrip(b"=").decode()
        q = urllib.parse.urlencode({
            "response_type": "code", "client_id": "web",
            "redirect_uri": "https://app.example/cb",
            "code_challenge": challenge, "code_challenge_method": "S256"})
        r = s.request("GET", "/authorize?" + q)
        code = urllib.parse.parse_qs(urllib.parse.urlsplit(
            r.headers["location"]).query)["code"][0]
        self.control(s, "clock", advance=61)
        r = s.token({"grant_type": "authorization_code", "code": code,
                     "client_id": "web", "code_verifier": verifier,
                     "redirect_uri": "https://app.example/cb"})
        self.assertOAuthError(r, 400, "invalid_grant")

    def test_bad_clock_requests(self):
        s = self.double()
        for form in ({}, {"advance": "x"}, {"advance": "1.5"},
                     {"advance": "99999999999"}):
            with self.subTest(form=form):
                self.assertOAuthError(self.control(s, "clock", **form), 400,
                                      "invalid_request")


class FaultTest(DoubleBase):
    def test_status_faults_for_the_next_n_requests(self):
        s = self.double()
        r = self.control(s, "faults", endpoint="token", count=2, status=503)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["faults"], [{
            "endpoint": "/token", "remaining": 2, "status": 503,
            "error": "temporarily_unavailable"}])
        for _ in range(2):
            r = self.cc(s)
            self.assertOAuthError(r, 503, "temporarily_unavailable")
            self.assertEqual(r.headers["retry-after"], "1")
            self.assertEqual(r.headers["x-latchkey-fault"], "injected")
        self.assertEqual(self.cc(s).status, 200)
        self.assertEqual(self.control(s, "faults", method="GET")
                         .json()["faults"], [])
        # An OAuth error of choice, on a path; only that endpoint.
        self.control(s, "faults", endpoint="/token", status=400,
                     error="invalid_grant")
        self.assertEqual(s.request("GET", "/healthz").status, 200)
        self.assertOAuthError(self.cc(s), 400, "invalid_grant")
        self.assertEqual(self.cc(s).status, 200)

    def test_delay_fault_holds_up_only_that_request(self):
        s = self.double("--threads", "1")
        self.control(s, "faults", endpoint="token", delay_ms=1500)
        out = {}
        th = threading.Thread(target=lambda: out.setdefault("r", self.cc(s)))
        t0 = time.monotonic()
        th.start()
        time.sleep(0.3)
        self.assertEqual(s.request("GET", "/healthz").status, 200)
        self.assertNotIn("r", out)
        th.join(10)
        self.assertEqual(out["r"].status, 200, out["r"].body)
        self.assertGreaterEqual(time.monotonic() - t0, 1.4)

    def test_injected_401_names_its_scheme(self):
        s = self.double()
        self.control(s, "faults", endpoint="resource", status=401)
        r = self.resource(s, "x")
        self.assertEqual((r.status, r.json()["error"]), (401, "invalid_token"))
        # The challenge /resource sends, its metadata URL included (RFC
        # 9728 section 5.1).
        self.assertEqual(r.headers["www-authenticate"],
                         'Bearer realm="latchkey", error="invalid_token", '
                         'resource_metadata="%s"' % resource_metadata(s))
        self.control(s, "faults", endpoint="token", status=401)
        r = self.cc(s)
        self.assertOAuthError(r, 401, "invalid_client")
        self.assertTrue(r.headers["www-authenticate"].startswith("Basic "))

    def test_delays_end_at_a_stop(self):
        # Held requests go at once when a stop begins, and get their real
        # answer; more delays than on_refresh_hook_max_concurrent are all
        # held (they take no hook slot).
        s = self.double("--on-refresh-hook-max-concurrent", "1")
        self.control(s, "faults", endpoint="token", delay_ms=30000, count=3)
        out = []
        ths = [threading.Thread(target=lambda: out.append(self.cc(s)))
               for _ in range(3)]
        for th in ths:
            th.start()
        time.sleep(0.5)
        self.assertEqual(out, [])
        t0 = time.monotonic()
        self.assertEqual(s.stop(), 0)
        for th in ths:
            th.join(10)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual([r.status for r in out], [200, 200, 200])

    def test_delay_on_authorize_keeps_its_checks(self):
        s = self.double()
        self.control(s, "faults", endpoint="authorize", delay_ms=200)
        r = s.request("POST", "/authorize", body="action=login&csrf=x",
                      headers={**FORM, "Origin": "https://evil.example"})
        self.assertEqual(r.status, 400)
        self.assertIn(b"expired or did not come from", r.body)

    def test_clear_and_refusals(self):
        s = self.double()
        self.control(s, "faults", endpoint="resource", status=500, count=5)
        self.control(s, "faults", clear="true")
        self.assertEqual(self.control(s, "faults", method="GET")
                         .json()["faults"], [])
        bad = [{"endpoint": "nope", "status": 503},
               {"endpoint": "token"},
               {"endpoint": "token", "status": 503, "delay_ms": 10},
               {"endpoint": "token", "status": 200},
               {"endpoint": "token", "status": 503, "count": 0},
               {"endpoint": "token", "delay_ms": 600000},
               {"endpoint": "token", "status": 503, "error": "a b"},
               {"endpoint": "/_control/clock", "status": 503}]
        for form in bad:
            with self.subTest(form=form):
                self.assertOAuthError(self.control(s, "faults", **form), 400,
                                      "invalid_request")


class ResetAndTokensTest(DoubleBase):
    def test_tokens_then_reset(self):
        s = self.double()
        at = self.cc(s).json()["access_token"]
        login = s.token({"grant_type": "password", "username": "dave",
                         "password": "dave-password-1"}, auth=APP).json()
        listed = self.control(s, "tokens", method="GET").json()
        self.assertEqual(len(listed["access_tokens"]), 2)
        self.assertEqual([t["client_id"] for t in listed["refresh_tokens"]],
                         ["app"])
        self.assertEqual(listed["refresh_tokens"][0]["status"], "active")
        self.assertNotIn(login["refresh_token"], json.dumps(listed))
        only = self.control(s, "tokens", method="GET", client_id="svc-a")
        self.assertEqual([t["client_id"] for t in
                          only.json()["access_tokens"]], ["svc-a"])
        self.control(s, "clock", advance=10)
        self.control(s, "faults", endpoint="jwks", status=500)
        r = self.control(s, "reset")
        self.assertEqual((r.status, r.json()), (200, {"reset": True}))
        listed = self.control(s, "tokens", method="GET").json()
        self.assertEqual(listed, {"access_tokens": [], "refresh_tokens": []})
        self.assertEqual(self.control(s, "clock", method="GET")
                         .json()["offset"], 0)
        self.assertEqual(s.request("GET", "/jwks.json").status, 200)
        self.assertEqual(self.resource(s, at).status, 401)
        r = s.token({"grant_type": "refresh_token",
                     "refresh_token": login["refresh_token"]}, auth=APP)
        self.assertOAuthError(r, 400, "invalid_grant")
        # Fixtures are back: the same fixed credentials work.
        self.assertEqual(self.cc(s).status, 200)


class ResourceTest(DoubleBase):
    def test_the_four_answers(self):
        s = self.double()
        at = self.cc(s, scope="read").json()["access_token"]
        r = self.resource(s, at)
        self.assertEqual(r.status, 200, r.body)
        body = r.json()
        self.assertEqual((body["active"], body["client_id"], body["scope"]),
                         (True, "svc-a", "read"))
        self.assertEqual(r.headers["cache-control"], "no-store")
        # None sent: a bare challenge.
        r = self.resource(s)
        self.assertEqual(r.status, 401)
        self.assertEqual(r.headers["www-authenticate"],
                         'Bearer realm="latchkey", resource_metadata="%s"'
                         % resource_metadata(s))
        # Bad, expired, revoked: invalid_token.
        for tok in ("nope", at[:-2] + "xx"):
            r = self.resource(s, tok)
            self.assertEqual(r.status, 401)
            self.assertIn('error="invalid_token"',
                          r.headers["www-authenticate"])
        s.request("POST", "/revoke", body=urllib.parse.urlencode(
            {"token": at}), headers={**FORM, "Authorization": basic(*SVC)})
        r = self.resource(s, at)
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["error"], "invalid_token")
        # A scope the token lacks.
        at = self.cc(s, scope="read").json()["access_token"]
        r = self.resource(s, at, "?scope=write")
        self.assertEqual(r.status, 403)
        self.assertEqual(r.headers["www-authenticate"],
                         'Bearer realm="latchkey", error="insufficient_scope", '
                         'error_description="the access token lacks a scope '
                         'this request needs", scope="write", '
                         'resource_metadata="%s"' % resource_metadata(s))
        self.assertEqual(self.resource(s, at, "?scope=read").status, 200)
        # Malformed requests.
        for auth in ("Basic abc", "Bearer", "Bearer a b", "Bearer \"x\""):
            with self.subTest(auth=auth):
                r = self.resource(s, auth=auth)
                self.assertEqual(r.status, 400)
                self.assertIn('error="invalid_request"',
                              r.headers["www-authenticate"])
        for q in ('?scope=%22x', '?scope=write&x=%zz',
                  '?scope=read&scope=write'):
            with self.subTest(q=q):
                r = self.resource(s, at, q)
                self.assertEqual(r.status, 400)
                self.assertEqual(r.json()["error"], "invalid_request")


    def test_high_s_spelling_is_refused(self):
        # Defect 8: ECDSA signatures are malleable; (r, n - s) verifies as
        # well as (r, s). One token has one spelling: the high-S twin of a
        # live token is not active at /introspect nor at /resource.
        import base64
        n = int("FFFFFFFF00000000FFFFFFFFFFFFFFFF"
                "BCE6FAADA7179E84F3B9CAC2FC632551", 16)  # P-256's order

        def b64d(x):
            return base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))

        s = self.double()
        for i in range(16):
            at = self.cc(s, scope="read").json()["access_token"]
            head, _, sig = at.rpartition(".")
            rs = b64d(sig)
            self.assertEqual(len(rs), 64)
            sv = int.from_bytes(rs[32:], "big")
            self.assertLessEqual(sv, n // 2, "minted a high-S signature")
            twin = head + "." + base64.urlsafe_b64encode(
                rs[:32] + (n - sv).to_bytes(32, "big")).decode().rstrip("=")
            with self.subTest(i=i):
                self.assertTrue(s.introspect(at, SVC)["active"])
                self.assertEqual(s.introspect(twin, SVC), {"active": False})
                r = self.resource(s, twin)
                self.assertEqual(r.status, 401, r.body)
                self.assertEqual(r.json()["error"], "invalid_token")
                self.assertIn('error="invalid_token"',
                              r.headers["www-authenticate"])
                self.assertEqual(self.resource(s, at).status, 200)

    def test_bearer_spacing(self):
        # RFC 6750 section 2.1: "Bearer" 1*SP b64token; trailing
        # whitespace is the header's optional whitespace (RFC 9110 5.5).
        s = self.double()
        at = self.cc(s, scope="read").json()["access_token"]
        for auth in ("Bearer  " + at, "Bearer " + at + " ",
                     "Bearer   " + at + "  \t ", "bearer " + at):
            with self.subTest(auth=auth.replace(at, "TOKEN")):
                r = self.resource(s, auth=auth)
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.json()["client_id"], "svc-a")
        for auth in ("Bearer\t" + at, "Bearer " + at + " x",
                     "Bearer " + at + " " + at, "Bearer    "):
            with self.subTest(auth=auth.replace(at, "TOKEN")):
                r = self.resource(s, auth=auth)
                self.assertEqual(r.status, 400, r.body)
                self.assertIn('error="invalid_request"',
                              r.headers["www-authenticate"])


class CustomPathsTest(DoubleBase):
    KC = "/realms/test/protocol/openid-connect"

    def test_keycloak_paths(self):
        s = self.double("--token-path", self.KC + "/token",
                        "--authorize-path", self.KC + "/auth",
                        "--revoke-path", self.KC + "/revoke",
                        "--introspect-path", self.KC + "/token/introspect",
                        "--jwks-path", self.KC + "/certs",
                        "--metadata-path",
                        "/realms/test/.well-known/openid-configuration")
        r = s.request("POST", self.KC + "/token",
                      body="grant_type=client_credentials",
                      headers={**FORM, "Authorization": basic(*SVC)})
        self.assertEqual(r.status, 200, r.body)
        self.assertOAuthError(self.cc(s), 404, "not_found")
        md = s.get_json("/realms/test/.well-known/openid-configuration")
        base = "http://127.0.0.1:%d" % s.port
        self.assertEqual(md["token_endpoint"], base + self.KC + "/token")
        self.assertEqual(md["authorization_endpoint"], base + self.KC + "/auth")
        self.assertEqual(md["jwks_uri"], base + self.KC + "/certs")
        self.assertEqual(md["introspection_endpoint"],
                         base + self.KC + "/token/introspect")
        self.assertEqual([k["alg"] for k in
                          s.get_json(self.KC + "/certs")["keys"]],
                         ["ES256", "RS256"])
        # Faults name endpoints by role, whatever their path.
        self.control(s, "faults", endpoint="token", status=503)
        r = s.request("POST", self.KC + "/token",
                      body="grant_type=client_credentials",
                      headers={**FORM, "Authorization": basic(*SVC)})
        self.assertEqual(r.status, 503)

    def test_bad_paths_stop_start_up(self):
        for args, text in ((["--token-path", "token"], "token_path"),
                           (["--jwks-path", "/a b"], "jwks_path"),
                           (["--token-path", "/_control/x"], "token_path"),
                           (["--token-path", "/jwks.json"], "share")):
            with self.subTest(args=args):
                p = subprocess.run([LATCHKEYD, "--listen", "127.0.0.1:0",
                                    "--ephemeral", *args],
                                   capture_output=True, text=True, timeout=30)
                self.assertNotEqual(p.returncode, 0)
                self.assertIn(text, p.stderr)
                self.assertEqual(p.stdout, "")

