"""Several issuers in one test double (fixtures' "tenants"), and an
issuer with a path on a free port (--issuer-path, an issuer template with
{port}), against the real latchkeyd: each tenant its own issuer,
metadata, keys, clients, users, tokens, clock, faults, journal and
/_control/, and nothing of one seen by another."""
import json
import os
import subprocess
import urllib.parse

import jwt

from lk_harness import LATCHKEYD, basic
from test_test_double import FORM, DoubleBase

TWO = {
    "clients": [{"client_id": "svc", "client_secret": "root-secret",
                 "grants": ["client_credentials"]}],
    "tenants": [
        {"name": "a", "path": "/realms/a",
         "clients": [{"client_id": "svc", "client_secret": "a-secret",
                      "grants": ["client_credentials"], "scopes": ["read"]},
                     {"client_id": "app", "client_secret": "app-a-secret",
                      "grants": ["password", "refresh_token"]},
                     {"client_id": "rs", "client_secret": "rs-secret",
                      "grants": ["client_credentials"]}],
         "users": [{"username": "dave", "password": "dave-password-a",
                    "sub": "dave-in-a"}]},
        {"name": "b", "path": "/realms/b",
         "clients": [{"client_id": "svc", "client_secret": "b-secret",
                      "grants": ["client_credentials"], "scopes": ["read"]},
                     {"client_id": "rs", "client_secret": "rs-secret",
                      "grants": ["client_credentials"]}]},
    ],
}


class TenantBase(DoubleBase):
    def setUp(self):
        super().setUp()
        self.write_fixtures(TWO)

    def post(self, s, path, form, auth=None):
        h = dict(FORM)
        if auth:
            h["Authorization"] = basic(*auth)
        return s.request("POST", path, body=urllib.parse.urlencode(form),
                         headers=h)

    def cc(self, s, tenant, secret):
        r = self.post(s, f"/realms/{tenant}/token",
                      {"grant_type": "client_credentials"},
                      auth=("svc", secret))
        self.assertEqual(r.status, 200, r.body)
        return r.json()["access_token"]

    def introspect(self, s, tenant, token):
        r = self.post(s, f"/realms/{tenant}/introspect", {"token": token},
                      auth=("rs", "rs-secret"))
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def resource(self, s, tenant, token):
        return s.request("GET", f"/realms/{tenant}/resource",
                         headers={"Authorization": "Bearer " + token})


class TenantsTest(TenantBase):
    def test_the_ready_line_names_each_issuer(self):
        s = self.double()
        base = "http://127.0.0.1:%d" % s.port
        self.assertEqual(s.ready["issuer"], base)
        self.assertEqual(s.ready["tenants"], [
            {"name": "a", "issuer": base + "/realms/a"},
            {"name": "b", "issuer": base + "/realms/b"}])

    def test_each_its_own_metadata_and_keys(self):
        s = self.double()
        base = "http://127.0.0.1:%d" % s.port
        kids = {}
        for t in ("a", "b"):
            md = s.get_json(f"/realms/{t}/.well-known/openid-configuration")
            iss = f"{base}/realms/{t}"
            self.assertEqual(md["issuer"], iss)
            self.assertEqual(md["token_endpoint"], iss + "/token")
            self.assertEqual(md["jwks_uri"], iss + "/jwks.json")
            # RFC 8414's document too, under the tenant's path.
            self.assertEqual(s.get_json(
                f"/realms/{t}/.well-known/oauth-authorization-server")
                ["issuer"], iss)
            kids[t] = {k["kid"] for k in
                       s.get_json(f"/realms/{t}/jwks.json")["keys"]}
        kids["root"] = {k["kid"] for k in s.get_json("/jwks.json")["keys"]}
        self.assertFalse(kids["a"] & kids["b"])
        self.assertFalse(kids["a"] & kids["root"])
        # A token of a is signed by a's key and names a as its issuer.
        tok = self.cc(s, "a", "a-secret")
        head = jwt.get_unverified_header(tok)
        self.assertIn(head["kid"], kids["a"])
        jwks = jwt.PyJWKSet.from_dict(s.get_json("/realms/a/jwks.json"))
        claims = jwt.decode(tok, key=jwks[head["kid"]].key,
                            algorithms=[head["alg"]],
                            audience=base + "/realms/a")
        self.assertEqual(claims["iss"], base + "/realms/a")

    def test_isolation(self):
        s = self.double()
        ta = self.cc(s, "a", "a-secret")
        tb = self.cc(s, "b", "b-secret")
        # Each tenant's client has its own secret.
        r = self.post(s, "/realms/a/token",
                      {"grant_type": "client_credentials"},
                      auth=("svc", "b-secret"))
        self.assertOAuthError(r, 401, "invalid_client")
        r = self.post(s, "/token", {"grant_type": "client_credentials"},
                      auth=("svc", "a-secret"))
        self.assertOAuthError(r, 401, "invalid_client")
        # A token of a: refused by b's introspection and /resource.
        self.assertTrue(self.introspect(s, "a", ta)["active"])
        self.assertEqual(self.introspect(s, "b", ta), {"active": False})
        self.assertEqual(self.resource(s, "a", ta).status, 200)
        r = self.resource(s, "b", ta)
        self.assertOAuthError(r, 401, "invalid_token")
        self.assertEqual(self.resource(s, "b", tb).status, 200)
        self.assertEqual(self.resource(s, "a", tb).status, 401)
        # Users: dave is a's only.
        r = self.post(s, "/realms/a/token",
                      {"grant_type": "password", "username": "dave",
                       "password": "dave-password-a"},
                      auth=("app", "app-a-secret"))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.introspect(s, "a", r.json()["access_token"])
                         ["sub"], "dave-in-a")
        # Each tenant's control endpoints see only its own.
        tokens_a = s.get_json("/realms/a/_control/tokens")
        tokens_b = s.get_json("/realms/b/_control/tokens")
        self.assertEqual(len(tokens_a["access_tokens"]), 2)
        self.assertEqual(len(tokens_b["access_tokens"]), 1)
        self.assertEqual(s.get_json("/_control/tokens")["access_tokens"], [])
        users = s.get_json("/realms/b/_control/users")["users"]
        self.assertEqual(users, [])
        # A reset of b leaves a's tokens alone.
        r = s.request("POST", "/realms/b/_control/reset", body="",
                      headers=FORM)
        self.assertEqual(r.status, 200, r.body)
        self.assertFalse(self.introspect(s, "b", tb)["active"])
        self.assertTrue(self.introspect(s, "a", ta)["active"])

    def test_clocks_are_independent(self):
        s = self.double()
        ta = self.cc(s, "a", "a-secret")
        tb = self.cc(s, "b", "b-secret")
        r = s.request("POST", "/realms/a/_control/clock",
                      body="advance=7200", headers=FORM)
        self.assertEqual(r.json()["offset"], 7200)
        self.assertEqual(s.get_json("/realms/b/_control/clock")["offset"], 0)
        self.assertEqual(s.get_json("/_control/clock")["offset"], 0)
        # a's token has expired in a's time; b's lives on in b's.
        self.assertEqual(self.introspect(s, "a", ta), {"active": False})
        self.assertTrue(self.introspect(s, "b", tb)["active"])
        # A new token of a is stamped with a's moved time.
        ta2 = self.cc(s, "a", "a-secret")
        iat = jwt.decode(ta2, options={"verify_signature": False})["iat"]
        now_b = s.get_json("/realms/b/_control/clock")["now"]
        self.assertGreaterEqual(iat - now_b, 7200 - 5)

    def test_a_hooked_refresh_keeps_the_tenants_time(self):
        """A refresh through on_refresh=hook runs on a thread of its own:
        its tokens are stamped with the tenant's time all the same."""
        hook = os.path.join(self.dir, "hook.sh")
        with open(hook, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(hook, 0o755)
        f = json.loads(json.dumps(TWO))
        f["tenants"][0]["clients"][1]["on_refresh"] = "hook"
        self.write_fixtures(f)
        s = self.double("--on-refresh-hook", hook)
        r = self.post(s, "/realms/a/token",
                      {"grant_type": "password", "username": "dave",
                       "password": "dave-password-a"},
                      auth=("app", "app-a-secret"))
        self.assertEqual(r.status, 200, r.body)
        rt = r.json()["refresh_token"]
        s.request("POST", "/realms/a/_control/clock", body="advance=1000",
                  headers=FORM)
        r = self.post(s, "/realms/a/token",
                      {"grant_type": "refresh_token", "refresh_token": rt},
                      auth=("app", "app-a-secret"))
        self.assertEqual(r.status, 200, r.body)
        iat = jwt.decode(r.json()["access_token"],
                         options={"verify_signature": False})["iat"]
        root_now = s.get_json("/_control/clock")["now"]
        self.assertGreaterEqual(iat - root_now, 1000 - 5)

    def test_faults_and_journal_are_per_tenant(self):
        s = self.double()
        r = s.request("POST", "/realms/a/_control/faults",
                      body="endpoint=token&status=503&retry_after=0",
                      headers=FORM)
        self.assertEqual(r.json()["faults"][0]["endpoint"], "/realms/a/token")
        self.cc(s, "b", "b-secret")  # b is not hit
        r = self.post(s, "/realms/a/token",
                      {"grant_type": "client_credentials"},
                      auth=("svc", "a-secret"))
        self.assertOAuthError(r, 503, "temporarily_unavailable")
        self.assertEqual(r.headers["retry-after"], "0")
        # endpoint may name the path without the tenant's prefix.
        r = s.request("POST", "/realms/b/_control/faults",
                      body="endpoint=/token&status=500", headers=FORM)
        self.assertEqual(r.json()["faults"][0]["endpoint"], "/realms/b/token")
        s.request("POST", "/realms/b/_control/faults", body="clear=true",
                  headers=FORM)
        s.request("GET", "/realms/a/nowhere")
        ja = s.get_json("/realms/a/_control/requests")["requests"]
        jb = s.get_json("/realms/b/_control/requests")["requests"]
        self.assertEqual([(e["path"], e["status"]) for e in ja],
                         [("/realms/a/token", 503),
                          ("/realms/a/nowhere", 404)])
        self.assertEqual([(e["path"], e["status"]) for e in jb],
                         [("/realms/b/token", 200)])
        self.assertEqual(s.get_json("/_control/requests")["requests"], [])

    def test_pages_post_and_set_cookies_under_the_tenant(self):
        f = json.loads(json.dumps(TWO))
        f["tenants"][0]["clients"].append({
            "client_id": "web", "public": True,
            "grants": ["authorization_code"],
            "redirect_uris": ["https://app.example/cb"]})
        self.write_fixtures(f)
        s = self.double()
        q = urllib.parse.urlencode({
            "response_type": "code", "client_id": "web",
            "redirect_uri": "https://app.example/cb",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256"})
        r = s.request("GET", "/realms/a/authorize?" + q)
        self.assertEqual(r.status, 200, r.body)
        self.assertIn(b'action="/realms/a/authorize"', r.body)
        # Its own cookie name: a tenant never takes another's (or the
        # root issuer's) session or CSRF cookie on the same origin.
        self.assertTrue(r.headers["set-cookie"].startswith("lk_csrf-a="),
                        r.headers["set-cookie"])
        self.assertIn("Path=/;", r.headers["set-cookie"])
        # b has no such client.
        r = s.request("GET", "/realms/b/authorize?" + q)
        self.assertEqual(r.status, 400, r.body)


class TenantRefusalsTest(TenantBase):
    def fails(self, fixtures, message, *args):
        self.write_fixtures(fixtures)
        p = subprocess.run([LATCHKEYD, "--listen", "127.0.0.1:0",
                            "--fixtures", self.fixtures, *args],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertIn(message, p.stderr)

    def test_bad_tenants_stop_start_up(self):
        eph = ("--ephemeral",)
        self.fails({"tenants": [{"name": "a", "path": "/a"},
                                {"name": "a", "path": "/b"}]},
                   "tenants[1] (a): its name or path is also tenants[0]'s",
                   *eph)
        self.fails({"tenants": [{"name": "a", "path": "/a"},
                                {"name": "b", "path": "/a"}]},
                   "its name or path is also tenants[0]'s", *eph)
        self.fails({"tenants": [{"name": "A", "path": "/a"}]},
                   'tenants[0]: field "name"', *eph)
        for path in ("a", "/", "/a/", "/_control", "/a?b", "/a b"):
            with self.subTest(path=path):
                self.fails({"tenants": [{"name": "a", "path": path}]},
                           'tenants[0] (a): field "path"', *eph)
        self.fails({"tenants": [{"name": "a", "path": "/a", "keys": []}]},
                   'unknown key "keys"', *eph)
        self.fails({"tenants": [{"name": "a", "path": "/a", "clients": [
            {"client_id": "x", "client_secret": "s", "grants": ["nope"]}]}]},
                   'tenants[0] (a): clients[0] (x): field "grants"', *eph)
        self.fails({"tenants": {"name": "a"}}, '"tenants" must be an array',
                   *eph)
        # Each tenant is a throwaway database of its own.
        self.fails({"tenants": [{"name": "a", "path": "/a"}]},
                   "tenants need --ephemeral", "--db",
                   self.db)
        # A tenant's path that is the issuer's own.
        self.fails({"tenants": [{"name": "a", "path": "/a"}]},
                   "two endpoints share the path", "--issuer-path", "/a",
                   *eph)


class IssuerPathTest(DoubleBase):
    def test_issuer_path_on_a_free_port(self):
        s = self.double("--issuer-path", "/realms/test")
        iss = "http://127.0.0.1:%d/realms/test" % s.port
        self.assertEqual(s.ready["issuer"], iss)
        md = s.get_json("/realms/test/.well-known/openid-configuration")
        self.assertEqual((md["issuer"], md["token_endpoint"]),
                         (iss, iss + "/token"))
        # Every endpoint is served where the document says.
        r = s.request("POST", "/realms/test/token",
                      body="grant_type=client_credentials",
                      headers={**FORM, "Authorization": basic("svc-a",
                                                             "svc-a-secret")})
        self.assertEqual(r.status, 200, r.body)
        claims = jwt.decode(r.json()["access_token"],
                            options={"verify_signature": False})
        self.assertEqual(claims["iss"], iss)
        self.assertEqual(s.request("POST", "/token",
                                   body="grant_type=client_credentials",
                                   headers=FORM).status, 404)
        # Its controls are under it too; /healthz stays at the root.
        self.assertEqual(s.get_json("/realms/test/_control/clock")["offset"],
                         0)
        self.assertEqual(s.request("GET", "/_control/clock").status, 404)
        self.assertEqual(s.request("GET", "/healthz").status, 200)

    def test_issuer_template_with_the_port(self):
        s = self.double("--issuer", "http://localhost:{port}")
        self.assertEqual(s.ready["issuer"], "http://localhost:%d" % s.port)
        md = s.get_json("/.well-known/openid-configuration")
        self.assertEqual(md["token_endpoint"],
                         "http://localhost:%d/token" % s.port)
        s2 = self.double("--issuer", "http://localhost:{port}",
                         "--issuer-path", "/realms/kc")
        self.assertEqual(s2.ready["issuer"],
                         "http://localhost:%d/realms/kc" % s2.port)

    def test_bad_issuer_paths(self):
        for p in ("realms", "/realms/", "/_control/x", "/a?b"):
            with self.subTest(p=p):
                r = subprocess.run([LATCHKEYD, "--issuer-path", p,
                                    "--ephemeral"], capture_output=True,
                                   text=True, timeout=30)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("setting 'issuer_path'", r.stderr)

