"""The test double's second round, against the real latchkeyd: the request
journal (GET /_control/requests) and its redaction, faults with
retry_after and limited to a client or a grant type, deny_login, users
with a fixed sub, and clients and users added, replaced and removed at
runtime (/_control/clients, /_control/users)."""
import base64
import hashlib
import json
import os
import subprocess
import urllib.parse

from lk_harness import LATCHKEYD, basic
from test_test_double import APP, FIXTURES, FORM, SVC, DoubleBase

JSON = {"Content-Type": "application/json"}
DAVE_SUB = "f47ac10b-58cc-4372-a567-0e02b2c3d479"


class RuntimeBase(DoubleBase):
    def journal(self, s, **query):
        r = self.control(s, "requests", method="GET", **query)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers["cache-control"], "no-store")
        return r.json()

    def password(self, s, user="dave", password="dave-password-1"):
        return s.token({"grant_type": "password", "username": user,
                        "password": password}, auth=APP)

    def put(self, s, kind, obj):
        return s.request("POST", "/_control/" + kind, body=json.dumps(obj),
                         headers=JSON)


class JournalTest(RuntimeBase):
    def test_each_request_with_its_role_client_and_outcome(self):
        s = self.double()
        self.assertEqual(self.cc(s).status, 200)
        r = s.token({"grant_type": "client_credentials",
                     "client_id": SVC[0], "client_secret": SVC[1]})
        self.assertEqual(r.status, 200)
        r = s.token({"grant_type": "client_credentials"},
                    auth=(SVC[0], "wrong"))
        self.assertEqual(r.status, 401)
        self.assertEqual(s.request("GET", "/nowhere").status, 404)
        self.control(s, "clock", method="GET")  # not journalled
        j = self.journal(s)
        self.assertEqual(j["dropped"], 0)
        got = [(e["method"], e["path"], e["role"], e["grant_type"],
                e["client_id"], e["client_auth"], e["authorization"],
                e["status"], e["error"]) for e in j["requests"]]
        self.assertEqual(got, [
            ("POST", "/token", "token", "client_credentials", "svc-a",
             "client_secret_basic", "Basic", 200, None),
            ("POST", "/token", "token", "client_credentials", "svc-a",
             "client_secret_post", None, 200, None),
            ("POST", "/token", "token", "client_credentials", "svc-a",
             "client_secret_basic", "Basic", 401, "invalid_client"),
            ("GET", "/nowhere", None, None, None, None, None, 404,
             "not_found"),
        ])
        e = j["requests"][1]
        self.assertEqual(e["params"], {"grant_type": "client_credentials",
                                       "client_id": "svc-a",
                                       "client_secret": True})
        self.assertIsInstance(e["time"], int)
        self.assertEqual(len({x["request_id"] for x in j["requests"]}), 4)
        # Filters: by role or path, and by client.
        self.assertEqual(len(self.journal(s, endpoint="token")["requests"]),
                         3)
        self.assertEqual(len(self.journal(s, endpoint="/nowhere")
                             ["requests"]), 1)
        self.assertEqual(self.journal(s, endpoint="token",
                                      client_id="nobody")["requests"], [])
        self.assertEqual(len(self.journal(s, client_id="svc-a")
                             ["requests"]), 3)

    def test_the_client_refreshed_exactly_once(self):
        """The assertion the journal exists for, as a suite writes it."""
        s = self.double()
        t = self.password(s).json()
        r = s.token({"grant_type": "refresh_token",
                     "refresh_token": t["refresh_token"]}, auth=APP)
        self.assertEqual(r.status, 200)
        refreshes = [e for e in self.journal(s, endpoint="token",
                                             client_id="app")["requests"]
                     if e["grant_type"] == "refresh_token"]
        self.assertEqual(len(refreshes), 1)
        self.assertEqual(refreshes[0]["status"], 200)
        self.assertIs(refreshes[0]["params"]["refresh_token"], True)

    def test_no_secret_ever_reaches_it(self):
        s = self.double("--auto-approve-as", "dave")
        secrets = [SVC[1], APP[1], "dave-password-1"]
        t = self.password(s).json()
        secrets += [t["access_token"], t["refresh_token"]]
        r = s.token({"grant_type": "refresh_token",
                     "refresh_token": t["refresh_token"]}, auth=APP)
        t2 = r.json()
        secrets += [t2["access_token"], t2["refresh_token"]]
        s.request("POST", "/introspect", body=urllib.parse.urlencode(
            {"token": t2["access_token"]}),
            headers={**FORM, "Authorization": basic(*SVC)})
        self.assertEqual(self.resource(s, t2["access_token"]).status, 200)
        s.request("POST", "/revoke", body=urllib.parse.urlencode(
            {"token": t2["refresh_token"], "client_id": APP[0],
             "client_secret": APP[1]}), headers=FORM)
        # A malformed Authorization header may be a bare secret.
        self.resource(s, auth="sekrit-without-a-scheme")
        secrets.append("sekrit-without-a-scheme")
        # The code flow: the code and the verifier.
        verifier = "v3rifier-" + "x" * 40
        challenge = base64.urlsafe_b64encode(hashlib.sha256(
            verifier.encode()).digest()).rstrip(b"=").decode()
        r = s.request("GET", "/authorize?" + urllib.parse.urlencode({
            "response_type": "code", "client_id": "web",
            "redirect_uri": "https://app.example/cb", "state": "st-1",
            "code_challenge": challenge, "code_challenge_method": "S256"}))
        code = urllib.parse.parse_qs(urllib.parse.urlsplit(
            r.headers["location"]).query)["code"][0]
        r = s.token({"grant_type": "authorization_code", "code": code,
                     "client_id": "web", "code_verifier": verifier,
                     "redirect_uri": "https://app.example/cb"})
        self.assertEqual(r.status, 200, r.body)
        secrets += [code, verifier, r.json()["access_token"]]
        text = self.control(s, "requests", method="GET").body.decode()
        for secret in secrets:
            self.assertNotIn(secret, text)
            # Nor any long piece of one.
            self.assertNotIn(secret[:12], text)
        byrole = {}
        for e in json.loads(text)["requests"]:
            byrole.setdefault(e["role"], []).append(e)
        self.assertEqual(byrole["token"][0]["params"]["password"], True)
        self.assertEqual(byrole["token"][0]["params"]["username"], "dave")
        self.assertEqual(byrole["authorize"][0]["params"]
                         ["code_challenge_method"], "S256")
        self.assertIs(byrole["authorize"][0]["params"]["code_challenge"],
                      True)
        self.assertEqual([e["authorization"] for e in byrole["resource"]],
                         ["Bearer", "other"])
        code_exchange = byrole["token"][-1]["params"]
        self.assertIs(code_exchange["code"], True)
        self.assertIs(code_exchange["code_verifier"], True)
        self.assertEqual(byrole["revoke"][0]["client_auth"],
                         "client_secret_post")

    def test_unknown_names_are_counted_not_shown(self):
        """A name may be a secret: a password sent without "password=",
        a JSON body sent as a form."""
        s = self.double()
        s.request("POST", "/token", body="grant_type=password&username=dave"
                  "&SUPERSECRETPASSWORD", headers={**FORM,
                                                   "Authorization":
                                                   basic(*APP)})
        s.request("POST", "/token", body='{"client_secret":"TOPSECRET"}',
                  headers=FORM)
        text = self.control(s, "requests", method="GET").body.decode()
        self.assertNotIn("SUPERSECRET", text)
        self.assertNotIn("TOPSECRET", text)
        a, b = json.loads(text)["requests"]
        self.assertEqual((a["params"], a["other_params"]),
                         ({"grant_type": "password", "username": "dave"}, 1))
        self.assertEqual((b["params"], b["other_params"]), ({}, 1))

    def test_bounded_and_cleared(self):
        s = self.double()
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        for i in range(1005):
            c.request("GET", f"/healthz?n={i}")
            c.getresponse().read()
        c.close()
        j = self.journal(s)
        self.assertEqual((len(j["requests"]), j["dropped"]), (1000, 5))
        # A name on neither list is only counted.
        self.assertEqual((j["requests"][0]["params"],
                          j["requests"][0]["other_params"]), ({}, 1))
        self.assertEqual(j["requests"][0]["path"], "/healthz")
        r = self.control(s, "requests", clear="true")
        self.assertEqual(r.json(), {"requests": [], "dropped": 0})
        self.assertEqual(self.journal(s)["requests"], [])
        r = self.control(s, "requests", clear="yes")
        self.assertOAuthError(r, 400, "invalid_request")
        # A reset empties it too.
        self.cc(s)
        self.control(s, "reset")
        self.assertEqual(self.journal(s)["requests"], [])


class FaultFilterTest(RuntimeBase):
    def test_retry_after(self):
        s = self.double()
        self.control(s, "faults", endpoint="token", status=503,
                     retry_after=0)
        r = self.cc(s)
        self.assertOAuthError(r, 503, "temporarily_unavailable")
        self.assertEqual(r.headers["retry-after"], "0")
        self.assertEqual(r.headers["x-latchkey-fault"], "injected")
        self.control(s, "faults", endpoint="token", status=429,
                     error="slow_down", retry_after=7)
        r = self.cc(s)
        self.assertEqual((r.status, r.headers["retry-after"],
                          r.json()["error"]), (429, "7", "slow_down"))
        self.control(s, "faults", endpoint="token", status=503)
        self.assertEqual(self.cc(s).headers["retry-after"], "1")
        self.control(s, "faults", endpoint="token", status=400)
        self.assertNotIn("retry-after", self.cc(s).headers)
        for bad in ({"retry_after": "-1", "status": "503"},
                    {"retry_after": "86401", "status": "503"},
                    {"retry_after": "x", "status": "503"},
                    {"retry_after": "1", "delay_ms": "10"}):
            with self.subTest(bad=bad):
                r = self.control(s, "faults", endpoint="token", **bad)
                self.assertOAuthError(r, 400, "invalid_request")
        self.assertEqual(self.cc(s).status, 200)

    def test_limited_to_a_client(self):
        s = self.double()
        r = self.control(s, "faults", endpoint="token", status=503,
                         client_id="app", count=2)
        self.assertEqual(r.json()["faults"], [{
            "endpoint": "/token", "remaining": 2, "status": 503,
            "error": "temporarily_unavailable", "client_id": "app"}])
        # Another client's requests pass and do not use it up.
        for _ in range(3):
            self.assertEqual(self.cc(s).status, 200)
        self.assertOAuthError(self.password(s), 503,
                              "temporarily_unavailable")
        # The client named in the form counts as well as Basic's.
        r = s.token({"grant_type": "password", "username": "dave",
                     "password": "dave-password-1", "client_id": APP[0],
                     "client_secret": APP[1]})
        self.assertOAuthError(r, 503, "temporarily_unavailable")
        self.assertEqual(self.password(s).status, 200)

    def test_limited_to_a_grant_type(self):
        s = self.double()
        t = self.password(s).json()
        self.control(s, "faults", endpoint="token", status=400,
                     error="invalid_grant", grant_type="refresh_token")
        self.assertEqual(self.password(s).status, 200)
        self.assertEqual(self.cc(s).status, 200)
        r = s.token({"grant_type": "refresh_token",
                     "refresh_token": t["refresh_token"]}, auth=APP)
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertEqual(r.headers["x-latchkey-fault"], "injected")
        # Used up: the refresh token (untouched by the fault) works.
        r = s.token({"grant_type": "refresh_token",
                     "refresh_token": t["refresh_token"]}, auth=APP)
        self.assertEqual(r.status, 200, r.body)
        # Both limits at once.
        self.control(s, "faults", endpoint="token", status=503,
                     grant_type="client_credentials", client_id="app")
        self.assertEqual(self.cc(s).status, 200)
        self.assertEqual(self.control(s, "faults", method="GET").json()
                         ["faults"][0]["remaining"], 1)


class DenyLoginTest(RuntimeBase):
    def test_the_next_logins_fail(self):
        s = self.double()
        r = self.control(s, "faults", deny_login="dave", count=2)
        self.assertEqual(r.json()["faults"],
                         [{"deny_login": "dave", "remaining": 2}])
        for _ in range(2):
            r = self.password(s)
            self.assertOAuthError(r, 400, "invalid_grant")
            self.assertEqual(r.json()["error_description"],
                             "the username or password is wrong")
        self.assertEqual(self.password(s).status, 200)
        self.assertEqual(self.control(s, "faults", method="GET")
                         .json()["faults"], [])
        # clear=true drops it; so does a reset.
        self.control(s, "faults", deny_login="dave")
        self.control(s, "faults", clear="true")
        self.assertEqual(self.password(s).status, 200)
        self.control(s, "faults", deny_login="dave")
        self.control(s, "reset")
        self.assertEqual(self.password(s).status, 200)
        for bad in ({"deny_login": "dave", "count": "0"},
                    {"deny_login": "dave", "status": "503"}):
            with self.subTest(bad=bad):
                r = self.control(s, "faults", **bad)
                self.assertOAuthError(r, 400, "invalid_request")

    def test_only_logins_use_it_up(self):
        """The control endpoints read users too: they neither fail nor
        use up a denial."""
        s = self.double()
        self.control(s, "faults", deny_login="dave", count=1)
        r = self.control(s, "claims", user="dave", claims='{"x": 1}')
        self.assertEqual(r.status, 200, r.body)
        r = self.put(s, "users", {"username": "dave",
                                  "password": "dave-password-1"})
        self.assertEqual((r.status, r.json()["created"]), (200, False))
        self.assertEqual(len(self.control(s, "users", method="GET")
                             .json()["users"]), 1)
        self.assertEqual(self.control(s, "faults", method="GET")
                         .json()["faults"],
                         [{"deny_login": "dave", "remaining": 1}])
        self.assertOAuthError(self.password(s), 400, "invalid_grant")
        self.assertEqual(self.password(s).status, 200)

    def test_auto_approval_fails_too(self):
        s = self.double("--auto-approve-as", "dave")
        self.control(s, "faults", deny_login="dave")
        q = {"response_type": "code", "client_id": "web",
             "redirect_uri": "https://app.example/cb", "state": "s1",
             "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
             "code_challenge_method": "S256"}
        r = s.request("GET", "/authorize?" + urllib.parse.urlencode(q))
        self.assertEqual(r.status, 302, r.body)
        got = urllib.parse.parse_qs(urllib.parse.urlsplit(
            r.headers["location"]).query)
        self.assertEqual(got["error"], ["access_denied"])
        r = s.request("GET", "/authorize?" + urllib.parse.urlencode(q))
        self.assertIn("code", urllib.parse.parse_qs(urllib.parse.urlsplit(
            r.headers["location"]).query))


class FixedSubTest(RuntimeBase):
    def fixtures_with_sub(self, sub=DAVE_SUB, **more):
        f = json.loads(json.dumps(FIXTURES))
        f["users"][0]["sub"] = sub
        f.update(more)
        self.write_fixtures(f)

    def test_tokens_carry_the_same_sub_in_every_run(self):
        self.fixtures_with_sub()
        subs = []
        for _ in range(2):
            s = self.double()
            t = self.password(s).json()
            info = s.introspect(t["access_token"], SVC)
            self.assertEqual((info["sub"], info["username"]),
                             (DAVE_SUB, "dave"))
            r = self.resource(s, t["access_token"])
            subs.append(r.json()["sub"])
            self.assertEqual(s.stop(), 0)
        self.assertEqual(subs, [DAVE_SUB, DAVE_SUB])

    def start_fails(self, message):
        p = subprocess.run([LATCHKEYD, "--ephemeral", "--listen",
                            "127.0.0.1:0", "--fixtures", self.fixtures],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertIn(message, p.stderr)

    def test_bad_subs_stop_start_up(self):
        self.fixtures_with_sub("svc-a")
        self.start_fails('users[0] (dave): field "sub": "svc-a" is a '
                         "client's id")
        self.fixtures_with_sub("has space")
        self.start_fails("a sub is 1 to 255 printable ASCII characters")
        self.fixtures_with_sub("x" * 256)
        self.start_fails("a sub is 1 to 255 printable ASCII characters")
        self.fixtures_with_sub("same")
        with open(self.fixtures) as fh:
            f = json.load(fh)
        f["users"].append({"username": "erin", "password": "erin-pass-1",
                           "sub": "same"})
        self.write_fixtures(f)
        self.start_fails('"same" is also the sub of user')


class RegistryTest(RuntimeBase):
    def test_clients_added_replaced_and_removed(self):
        s = self.double()
        new = {"client_id": "svc-b", "client_secret": "svc-b-secret",
               "grants": ["client_credentials"], "scopes": ["read"],
               "access_token_ttl": 30}
        r = self.put(s, "clients", new)
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.headers["cache-control"], "no-store")
        c = r.json()
        self.assertTrue(c["created"])
        self.assertEqual((c["client"]["client_id"], c["client"]["scopes"],
                          c["client"]["access_token_ttl"]),
                         ("svc-b", ["read"], 30))
        self.assertNotIn("client_secret", c["client"])
        self.assertNotIn("svc-b-secret", r.body.decode())
        # Effective for the next request.
        r = s.token({"grant_type": "client_credentials"},
                    auth=("svc-b", "svc-b-secret"))
        self.assertEqual((r.status, r.json()["expires_in"]), (200, 30))
        old = r.json()["access_token"]
        # Replaced: a new secret and scopes, at once.
        new.update(client_secret="svc-b-secret-2", scopes=["read", "write"])
        r = self.put(s, "clients", new)
        self.assertEqual((r.status, r.json()["created"]), (200, False))
        r = s.token({"grant_type": "client_credentials"},
                    auth=("svc-b", "svc-b-secret"))
        self.assertOAuthError(r, 401, "invalid_client")
        r = s.token({"grant_type": "client_credentials",
                     "scope": "read write"},
                    auth=("svc-b", "svc-b-secret-2"))
        self.assertEqual(r.status, 200, r.body)
        ids = [x["client_id"] for x in self.control(
            s, "clients", method="GET").json()["clients"]]
        self.assertEqual(sorted(ids), ["app", "svc-a", "svc-b", "web"])
        # Removed, with its tokens.
        r = self.control(s, "clients", remove="svc-b")
        self.assertEqual(r.json(), {"client_id": "svc-b", "removed": True})
        self.assertFalse(s.introspect(old, SVC)["active"])
        r = s.token({"grant_type": "client_credentials"},
                    auth=("svc-b", "svc-b-secret-2"))
        self.assertOAuthError(r, 401, "invalid_client")
        r = self.control(s, "clients", remove="svc-b")
        self.assertOAuthError(r, 404, "not_found")

    def test_bad_descriptions_change_nothing(self):
        s = self.double()
        for body, says in (
                ({"client_id": "x", "client_secret": "s",
                  "grants": ["client_credentials"], "scopes": ["a b"]},
                 'field "scopes"'),
                ({"client_id": "x", "client_secret": "s", "grant": []},
                 'unknown key "grant"'),
                ({"client_id": "x"}, "client_secret"),
                ([1, 2], "one JSON object")):
            with self.subTest(body=body):
                r = self.put(s, "clients", body)
                self.assertOAuthError(r, 400, "invalid_request")
                self.assertIn(says, r.json()["error_description"])
        r = s.request("POST", "/_control/clients", body="{nope",
                      headers=JSON)
        self.assertOAuthError(r, 400, "invalid_request")
        r = self.control(s, "clients", remove="svc-a", other="1")
        self.assertOAuthError(r, 400, "invalid_request")
        ids = [x["client_id"] for x in self.control(
            s, "clients", method="GET").json()["clients"]]
        self.assertEqual(sorted(ids), ["app", "svc-a", "web"])

    def test_users_added_replaced_and_removed(self):
        s = self.double()
        r = self.put(s, "users", {"username": "erin",
                                  "password": "erin-password-1",
                                  "sub": "erin-fixed",
                                  "claims": {"email": "erin@test.example"}})
        self.assertEqual(r.status, 201, r.body)
        u = r.json()["user"]
        self.assertEqual((u["user_id"], u["claims"]),
                         ("erin-fixed", {"email": "erin@test.example"}))
        self.assertNotIn("erin-password-1", r.body.decode())
        t = self.password(s, "erin", "erin-password-1").json()
        self.assertEqual(s.introspect(t["access_token"], SVC)["sub"],
                         "erin-fixed")
        # A new password: the old one is refused at once.
        r = self.put(s, "users", {"username": "erin",
                                  "password": "erin-password-2",
                                  "sub": "erin-fixed"})
        self.assertEqual((r.status, r.json()["created"]), (200, False))
        self.assertOAuthError(self.password(s, "erin", "erin-password-1"),
                              400, "invalid_grant")
        self.assertEqual(self.password(s, "erin", "erin-password-2")
                         .status, 200)
        names = [x["username"] for x in self.control(
            s, "users", method="GET").json()["users"]]
        self.assertEqual(sorted(names), ["dave", "erin"])
        r = self.control(s, "users", remove="erin")
        self.assertEqual(r.json(), {"username": "erin", "removed": True})
        self.assertFalse(s.introspect(t["access_token"], SVC)["active"])
        self.assertOAuthError(self.password(s, "erin", "erin-password-2"),
                              400, "invalid_grant")
        r = self.put(s, "users", {"username": "dave",
                                  "password": "dave-password-1",
                                  "sub": "another"})
        self.assertOAuthError(r, 400, "invalid_request")
        self.assertIn("exists with another sub",
                      r.json()["error_description"])

    def test_runtime_clients_survive_a_reset(self):
        s = self.double()
        self.put(s, "clients", {"client_id": "svc-b",
                                "client_secret": "svc-b-secret",
                                "grants": ["client_credentials"]})
        self.control(s, "reset")
        r = s.token({"grant_type": "client_credentials"},
                    auth=("svc-b", "svc-b-secret"))
        self.assertEqual(r.status, 200)
        self.assertFalse(os.path.exists(self.db))
