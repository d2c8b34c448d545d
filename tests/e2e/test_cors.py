"""CORS for browser applications (setting cors_allowed_origins): on the
discovery documents, JWKS, token, userinfo and revocation endpoints only, errors
included; OPTIONS preflight answers; nothing for a disallowed origin,
nothing when the setting is empty, never on /authorize, /introspect,
/resource, /_control/ or the health and metrics endpoints; the entries
the setting refuses at start. The token endpoint reads clients, so this
runs on both backends (the test double's injected 503 is SQLite by
nature: --ephemeral)."""
import subprocess
import urllib.parse

from lk_harness import LATCHKEYD, LatchkeyTestCase, add_client, basic

APP = "http://app.test:3000"
OTHER = "http://evil.test:3000"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
OIDC = "/.well-known/openid-configuration"
RFC8414 = "/.well-known/oauth-authorization-server"
CORS_HEADERS = ("access-control-allow-origin",
                "access-control-allow-methods",
                "access-control-allow-headers", "access-control-max-age",
                "access-control-expose-headers",
                "access-control-allow-credentials")


class CorsTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        c = add_client(self.db, "svc", "--scope", "read")
        self.auth = (c["client_id"], c["client_secret"])

    def start_cors(self, origins=APP + " https://spa.example.test", *more):
        return self.start("--cors-allowed-origins", origins, *more)

    def token(self, s, origin, auth=True, form=None):
        h = {**FORM, "Origin": origin}
        if auth:
            h["Authorization"] = basic(*self.auth)
        return s.request("POST", "/token", headers=h, body=urllib.parse.
                         urlencode(form or {"grant_type":
                                            "client_credentials"}))

    def assertAllowed(self, r, origin=APP):
        self.assertEqual(r.headers.get("access-control-allow-origin"),
                         origin, r.headers)
        self.assertEqual(r.headers.get("vary"), "Origin")
        self.assertEqual(r.headers.get("access-control-expose-headers"),
                         "WWW-Authenticate, Retry-After, DPoP-Nonce")
        self.assertNotIn("access-control-allow-credentials", r.headers)

    def assertNoCors(self, r):
        for h in CORS_HEADERS:
            self.assertNotIn(h, r.headers)

    def test_allowed_origin_on_every_cors_endpoint(self):
        s = self.start_cors()
        for path in (OIDC, RFC8414, "/jwks.json"):
            with self.subTest(path=path):
                r = s.request("GET", path, headers={"Origin": APP})
                self.assertEqual(r.status, 200)
                self.assertAllowed(r)
                r = s.request("HEAD", path, headers={"Origin": APP})
                self.assertAllowed(r)
        r = self.token(s, APP)
        self.assertEqual(r.status, 200, r.body)
        self.assertAllowed(r)
        at = r.json()["access_token"]
        r = s.request("POST", "/revoke", headers={
            **FORM, "Origin": "https://spa.example.test",
            "Authorization": basic(*self.auth)},
            body=urllib.parse.urlencode({"token": at}))
        self.assertEqual(r.status, 200, r.body)
        self.assertAllowed(r, "https://spa.example.test")

    def test_errors_carry_the_headers(self):
        s = self.start_cors()
        r = self.token(s, APP, auth=False)  # 401 invalid_client
        self.assertOAuthError(r, 401, "invalid_client")
        self.assertAllowed(r)
        self.assertIn("www-authenticate", r.headers)
        r = self.token(s, APP, form={"grant_type": "nope"})  # 400
        self.assertOAuthError(r, 400, "unsupported_grant_type")
        self.assertAllowed(r)
        r = s.request("GET", "/userinfo", headers={  # 401
            "Origin": APP, "Authorization": "Bearer not-a-token"})
        self.assertOAuthError(r, 401, "invalid_token")
        self.assertAllowed(r)
        self.assertIn("www-authenticate", r.headers)
        r = s.request("GET", "/token", headers={"Origin": APP})  # 405
        self.assertOAuthError(r, 405, "method_not_allowed")
        self.assertEqual(r.headers["allow"], "POST, OPTIONS")
        self.assertAllowed(r)
        r = s.request("POST", "/token", headers={**FORM, "Origin": APP},
                      body="x=" + "a" * 20000)  # 413
        self.assertOAuthError(r, 413, "request_too_large")
        self.assertAllowed(r)

    def test_disallowed_origin_gets_no_cors_headers(self):
        s = self.start_cors()
        for origin in (OTHER, "null", "http://app.test:3001",
                       "https://app.test:3000", APP + "/"):
            with self.subTest(origin=origin):
                r = s.request("GET", OIDC, headers={"Origin": origin})
                self.assertEqual(r.status, 200)
                self.assertNoCors(r)
                # A cache must not hand it to an allowed origin either.
                self.assertEqual(r.headers.get("vary"), "Origin")
                r = self.token(s, origin)
                self.assertEqual(r.status, 200)
                self.assertNoCors(r)
        r = s.request("GET", OIDC)  # no Origin at all
        self.assertNoCors(r)
        self.assertEqual(r.headers.get("vary"), "Origin")

    def test_origins_compare_as_browsers_serialize_them(self):
        s = self.start_cors("HTTPS://SPA.Example.Test:443,http://[::1]:8080")
        r = s.request("GET", OIDC,
                      headers={"Origin": "https://spa.example.test"})
        self.assertAllowed(r, "https://spa.example.test")
        r = s.request("GET", OIDC, headers={"Origin": "http://[::1]:8080"})
        self.assertAllowed(r, "http://[::1]:8080")

    def test_preflight(self):
        s = self.start_cors()
        pre = {"Origin": APP, "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "authorization,content-type"}
        for path, allow in (("/token", "POST, OPTIONS"),
                            ("/revoke", "POST, OPTIONS"),
                            ("/userinfo", "GET, HEAD, POST, OPTIONS"),
                            ("/jwks.json", "GET, HEAD, OPTIONS"),
                            (OIDC, "GET, HEAD, OPTIONS"),
                            (RFC8414, "GET, HEAD, OPTIONS")):
            with self.subTest(path=path):
                r = s.request("OPTIONS", path, headers=pre)
                self.assertEqual(r.status, 204, r.body)
                self.assertEqual(r.body, b"")
                self.assertEqual(r.headers["access-control-allow-origin"], APP)
                self.assertEqual(r.headers["access-control-allow-methods"],
                                 allow)
                self.assertEqual(r.headers["access-control-allow-headers"],
                                 "Authorization, Content-Type, DPoP")
                self.assertEqual(r.headers["access-control-max-age"], "600")
                self.assertEqual(r.headers["allow"], allow)
                self.assertEqual(r.headers["vary"], "Origin")
                self.assertNotIn("access-control-allow-credentials",
                                 r.headers)
                # Disallowed: the same 204 with no CORS header, which
                # the browser takes as a refusal.
                r = s.request("OPTIONS", path, headers={**pre,
                                                        "Origin": OTHER})
                self.assertEqual(r.status, 204)
                self.assertNoCors(r)
                self.assertEqual(r.headers["allow"], allow)
        # The connection stays usable after a preflight.
        log = s.log_text()
        self.assertIn("OPTIONS /token 204", log)

    def test_never_on_pages_introspect_resource_and_health(self):
        s = self.start_cors("*")
        for method, path in (("GET", "/authorize?response_type=code"),
                             ("POST", "/authorize"), ("GET", "/logout"),
                             ("POST", "/logout"),
                             ("POST", "/introspect"), ("GET", "/resource"),
                             ("GET", "/healthz"), ("GET", "/readyz"),
                             ("GET", "/metrics"), ("GET", "/nowhere")):
            with self.subTest(method=method, path=path):
                r = s.request(method, path, headers={**FORM, "Origin": APP},
                              body="" if method == "POST" else None)
                self.assertNoCors(r)
                self.assertNotIn("vary", r.headers)
                r = s.request("OPTIONS", path.split("?")[0],
                              headers={"Origin": APP,
                                       "Access-Control-Request-Method":
                                       "POST"})
                self.assertIn(r.status, (404, 405))
                self.assertNoCors(r)

    def test_off_by_default(self):
        s = self.start()
        r = s.request("GET", OIDC, headers={"Origin": APP})
        self.assertEqual(r.status, 200)
        self.assertNoCors(r)
        self.assertNotIn("vary", r.headers)
        r = self.token(s, APP)
        self.assertNoCors(r)
        r = s.request("OPTIONS", "/token", headers={
            "Origin": APP, "Access-Control-Request-Method": "POST"})
        self.assertOAuthError(r, 405, "method_not_allowed")
        self.assertEqual(r.headers["allow"], "POST")
        self.assertNoCors(r)

    def test_any_origin(self):
        s = self.start_cors("*")
        self.assertIn("cors_allowed_origins is '*'", s.log_text())
        for origin in (APP, OTHER, "https://x.example"):
            r = s.request("GET", "/jwks.json", headers={"Origin": origin})
            self.assertAllowed(r, origin)
        r = s.request("GET", "/jwks.json", headers={"Origin": "null"})
        self.assertNoCors(r)

    def test_bad_entries_stop_start_up(self):
        for spec, why in (("http://app.test/", "path"),
                          ("https://app.test/cb", "path"),
                          ("app.test", "scheme://host"),
                          ("null", "null"),
                          ("*, " + APP, "only entry"),
                          ("http://app.test:0", "port")):
            with self.subTest(spec=spec):
                p = subprocess.run([LATCHKEYD, "--listen", "127.0.0.1:0",
                                    "--db", self.db,
                                    "--cors-allowed-origins", spec],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn("cors_allowed_origins", p.stderr)
                self.assertIn(why, p.stderr)
                self.assertEqual(p.stdout, "")


class CorsTestDoubleTest(LatchkeyTestCase):
    """An injected 503 on the token endpoint, and /_control/ with CORS on."""

    def test_injected_503_carries_the_headers_and_control_never(self):
        self.write_fixtures({"clients": [
            {"client_id": "svc", "client_secret": "svc-secret",
             "grants": ["client_credentials"], "scopes": ["read"]}]})
        s = self.start_double("--cors-allowed-origins", APP)
        r = s.request("POST", "/_control/faults", headers=FORM,
                      body="endpoint=token&status=503&count=1")
        self.assertEqual(r.status, 200, r.body)
        for h in CORS_HEADERS:
            self.assertNotIn(h, r.headers)
        self.assertNotIn("vary", r.headers)
        r = s.request("POST", "/token", headers={
            **FORM, "Origin": APP, "Authorization": basic("svc",
                                                          "svc-secret")},
            body="grant_type=client_credentials")
        self.assertOAuthError(r, 503, "temporarily_unavailable")
        self.assertEqual(r.headers["access-control-allow-origin"], APP)
        self.assertEqual(r.headers["retry-after"], "1")
        self.assertIn("Retry-After",
                      r.headers["access-control-expose-headers"])
        r = s.request("OPTIONS", "/_control/faults", headers={"Origin": APP})
        self.assertIn(r.status, (404, 405))
        self.assertNotIn("access-control-allow-origin", r.headers)
