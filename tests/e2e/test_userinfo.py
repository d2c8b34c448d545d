"""OpenID Connect claims (issue 15, sections 3 and 4): GET|POST /userinfo
(RFC 6750 bearer, the claims the token's scopes and client release, every
refusal), the claims of access tokens (a client's access_token_claims,
users' claims named by release_claims), claims in fixtures, and the test
double's /_control/claims, on the real latchkeyd (both backends: run as
e2e_pg_test_userinfo too). The release rule is docs/openid-connect.md,
"Claims"."""
import base64
import json
import urllib.parse

import lk_db
from lk_harness import LatchkeyTestCase, basic, cli

ADA_CLAIMS = {
    "name": "Ada Lovelace", "given_name": "Ada",
    "email": "ada@example.com", "email_verified": True,
    "address": {"locality": "London", "country": "UK"},
    "phone_number": "+44 20 7946 0000",
    "roles": ["admin"], "groups": ["ops"], "tenant": "ada-co",
}
SCOPES = ["openid", "profile", "email", "address", "phone", "read"]
FIXTURES = {
    "clients": [
        {"client_id": "app", "client_secret": "app-secret-0123456789",
         "grants": ["password", "refresh_token"], "scopes": SCOPES,
         "release_claims": ["roles"],
         "access_token_claims": {"tenant": "acme", "api_version": 2}},
        {"client_id": "plain", "client_secret": "plain-secret-0123456789",
         "grants": ["password"], "scopes": SCOPES},
        {"client_id": "svc", "client_secret": "svc-secret-0123456789",
         "grants": ["client_credentials"], "scopes": ["openid", "read"],
         "access_token_claims": {"tenant": "acme"}},
    ],
    "users": [
        {"username": "ada", "password": "ada-password-1",
         "claims": ADA_CLAIMS},
        {"username": "bob", "password": "bob-password-1"},
    ],
}
APP = ("app", "app-secret-0123456789")
PLAIN = ("plain", "plain-secret-0123456789")
SVC = ("svc", "svc-secret-0123456789")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def payload(jwt):
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class UserinfoBase(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        self.write_fixtures(FIXTURES)

    def login(self, s, scope, user="ada", client=APP, **extra):
        r = s.token({"grant_type": "password", "username": user,
                     "password": user + "-password-1", "scope": scope,
                     **extra}, auth=client)
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def userinfo(self, s, token, method="GET", body=None, headers=None):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        return s.request(method, "/userinfo", body=body, headers=h)

    def claims_of(self, s, scope, client=APP):
        r = self.userinfo(s, self.login(s, scope, client=client)
                          ["access_token"])
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def control(self, s, method="POST", **form):
        body = urllib.parse.urlencode(form) if method == "POST" else None
        return s.request(method, "/_control/claims", body=body,
                         headers=FORM if method == "POST" else {})

    def assertBearerError(self, r, status, code):
        self.assertOAuthError(r, status, code)
        h = r.headers["www-authenticate"]
        self.assertTrue(h.startswith(
            f'Bearer realm="latchkey", error="{code}"'), h)
        if code == "insufficient_scope":
            self.assertTrue(h.endswith(', scope="openid"'), h)


class ReleaseTest(UserinfoBase):
    """Which claims each scope and client release, at /userinfo."""

    def test_each_scope_releases_its_standard_claims(self):
        s = self.start_double()
        sub = self.login(s, "openid")
        sub = payload(sub["access_token"])["sub"]
        self.assertEqual(self.claims_of(s, "openid", PLAIN), {"sub": sub})
        self.assertEqual(self.claims_of(s, "openid profile", PLAIN),
                         {"sub": sub, "name": "Ada Lovelace",
                          "given_name": "Ada", "preferred_username": "ada"})
        self.assertEqual(self.claims_of(s, "openid email", PLAIN),
                         {"sub": sub, "email": "ada@example.com",
                          "email_verified": True})
        self.assertEqual(self.claims_of(s, "openid address", PLAIN),
                         {"sub": sub, "address": ADA_CLAIMS["address"]})
        self.assertEqual(self.claims_of(s, "openid phone", PLAIN),
                         {"sub": sub, "phone_number": "+44 20 7946 0000"})
        every = self.claims_of(s, "openid profile email address phone",
                               PLAIN)
        for custom in ("roles", "groups", "tenant"):
            self.assertNotIn(custom, every)

    def test_release_claims_gives_custom_claims_whatever_the_scope(self):
        s = self.start_double()
        c = self.claims_of(s, "openid", APP)
        self.assertEqual(c["roles"], ["admin"])
        self.assertEqual(set(c), {"sub", "roles"})
        c = self.claims_of(s, "openid email", APP)
        self.assertEqual(set(c), {"sub", "roles", "email", "email_verified"})

    def test_user_without_claims(self):
        s = self.start_double()
        t = self.login(s, "openid profile email", user="bob")["access_token"]
        r = self.userinfo(s, t)
        self.assertEqual(r.json(), {"sub": payload(t)["sub"],
                                    "preferred_username": "bob"})


class UserinfoRequestTest(UserinfoBase):
    """RFC 6750's ways to present the token, and every refusal."""

    def test_get_and_post_with_header_and_post_body(self):
        s = self.start_double()
        t = self.login(s, "openid email")["access_token"]
        want = self.userinfo(s, t).json()
        for method in ("GET", "POST"):
            r = self.userinfo(s, t, method=method)
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.headers["content-type"], "application/json")
            self.assertEqual(r.headers["cache-control"], "no-store")
            self.assertEqual(r.json(), want)
        r = s.request("POST", "/userinfo",
                      body=urllib.parse.urlencode({"access_token": t}),
                      headers=FORM)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), want)
        self.assertEqual(s.request("HEAD", "/userinfo",
                                   headers={"Authorization": "Bearer " + t})
                         .status, 200)

    def test_no_token(self):
        s = self.start_double()
        for method in ("GET", "POST"):
            r = s.request(method, "/userinfo")
            self.assertEqual(r.status, 401)
            self.assertEqual(r.headers["www-authenticate"],
                             'Bearer realm="latchkey"')

    def test_token_in_query_is_refused(self):
        s = self.start_double()
        t = self.login(s, "openid")["access_token"]
        r = s.request("GET", "/userinfo?access_token=" + t)
        self.assertBearerError(r, 400, "invalid_request")
        self.assertIn("query", r.json()["error_description"])
        # Other query parameters, repeated ones too, are not refused: the
        # header's token is answered.
        r = s.request("GET", "/userinfo?a=1&a=2",
                      headers={"Authorization": "Bearer " + t})
        self.assertEqual(r.status, 200, r.body)
        self.assertIn("sub", r.json())

    def test_token_twice_or_malformed(self):
        s = self.start_double()
        t = self.login(s, "openid")["access_token"]
        r = self.userinfo(s, t, method="POST",
                          body=urllib.parse.urlencode({"access_token": t}),
                          headers=FORM)
        self.assertBearerError(r, 400, "invalid_request")
        r = s.request("GET", "/userinfo",
                      headers={"Authorization": "Basic YTpi"})
        self.assertBearerError(r, 400, "invalid_request")
        r = s.request("POST", "/userinfo", body="access_token=" + t,
                      headers={"Content-Type": "text/plain"})
        self.assertBearerError(r, 400, "invalid_request")

    def test_bad_expired_and_revoked_tokens(self):
        s = self.start_double()
        self.assertBearerError(self.userinfo(s, "not.a.token"), 401,
                               "invalid_token")
        t = self.login(s, "openid")["access_token"]
        self.assertBearerError(self.userinfo(s, t[:-4] + "AAAA"), 401,
                               "invalid_token")
        r = s.request("POST", "/revoke",
                      body=urllib.parse.urlencode({"token": t}),
                      headers={**FORM, "Authorization": basic(*APP)})
        self.assertEqual(r.status, 200)
        self.assertBearerError(self.userinfo(s, t), 401, "invalid_token")
        t = self.login(s, "openid")["access_token"]
        self.assertEqual(self.userinfo(s, t).status, 200)
        r = s.request("POST", "/_control/clock", body="advance=100000",
                      headers=FORM)
        self.assertEqual(r.status, 200)
        self.assertBearerError(self.userinfo(s, t), 401, "invalid_token")

    def test_without_openid_is_insufficient_scope(self):
        s = self.start_double()
        t = self.login(s, "profile email")["access_token"]
        self.assertBearerError(self.userinfo(s, t), 403,
                               "insufficient_scope")

    def test_client_credentials_token_is_refused(self):
        s = self.start_double()
        r = s.token({"grant_type": "client_credentials",
                     "scope": "openid read"}, auth=SVC)
        self.assertEqual(r.status, 200, r.body)
        r = self.userinfo(s, r.json()["access_token"])
        self.assertBearerError(r, 401, "invalid_token")
        self.assertIn("client_credentials", r.json()["error_description"])

    def test_removed_user(self):
        s = self.start("--fixtures", self.fixtures)
        t = self.login(s, "openid")["access_token"]
        self.assertEqual(self.userinfo(s, t).status, 200)
        # Removed behind the CLI's back (which would revoke the tokens
        # too): the user's absence alone refuses.
        lk_db.db_query(self.db, "DELETE FROM users WHERE username = ?",
                       ("ada",))
        r = self.userinfo(s, t)
        self.assertBearerError(r, 401, "invalid_token")
        self.assertIn("no longer exists", r.json()["error_description"])

    def test_store_unavailable_is_503(self):
        s = self.start("--fixtures", self.fixtures)
        t = self.login(s, "openid")["access_token"]
        lk_db.db_query(self.db, "ALTER TABLE users RENAME TO users_away")
        try:
            r = self.userinfo(s, t)
        finally:
            lk_db.db_query(self.db, "ALTER TABLE users_away RENAME TO users")
        self.assertOAuthError(r, 503, "temporarily_unavailable")
        self.assertEqual(r.headers["retry-after"], "1")
        self.assertEqual(self.userinfo(s, t).status, 200)

    def test_faults_reach_userinfo(self):
        s = self.start_double()
        t = self.login(s, "openid")["access_token"]
        r = s.request("POST", "/_control/faults",
                      body="endpoint=userinfo&status=401", headers=FORM)
        self.assertEqual(r.status, 200, r.body)
        r = self.userinfo(s, t)
        self.assertBearerError(r, 401, "invalid_token")
        self.assertEqual(r.headers["x-latchkey-fault"], "injected")
        self.assertEqual(self.userinfo(s, t).status, 200)

    def test_custom_path(self):
        s = self.start_double("--userinfo-path", "/oidc/me")
        t = self.login(s, "openid")["access_token"]
        self.assertEqual(self.userinfo(s, t).status, 404)
        r = s.request("GET", "/oidc/me",
                      headers={"Authorization": "Bearer " + t})
        self.assertEqual(r.status, 200, r.body)


class AccessTokenClaimsTest(UserinfoBase):
    def test_client_and_released_claims_in_access_tokens(self):
        s = self.start_double()
        tok = self.login(s, "openid profile email")
        p = payload(tok["access_token"])
        self.assertEqual(p["tenant"], "acme")
        self.assertEqual(p["api_version"], 2)
        self.assertEqual(p["roles"], ["admin"])
        # Standard claims stay out of access tokens unless named.
        for name in ("email", "name", "groups", "preferred_username"):
            self.assertNotIn(name, p)
        # Refreshed tokens carry them too.
        r = s.token({"grant_type": "refresh_token",
                     "refresh_token": tok["refresh_token"]}, auth=APP)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(payload(r.json()["access_token"])["roles"],
                         ["admin"])
        p = payload(self.login(s, "openid", client=PLAIN)["access_token"])
        for name in ("tenant", "roles", "api_version"):
            self.assertNotIn(name, p)
        r = s.token({"grant_type": "client_credentials"}, auth=SVC)
        self.assertEqual(payload(r.json()["access_token"])["tenant"], "acme")

    def test_user_claim_wins_over_client_claim(self):
        fx = json.loads(json.dumps(FIXTURES))
        fx["clients"][0]["release_claims"] = ["roles", "tenant"]
        self.write_fixtures(fx)
        s = self.start_double()
        p = payload(self.login(s, "openid")["access_token"])
        self.assertEqual(p["tenant"], "ada-co")
        self.assertEqual(p["client_id"], "app")

    def test_cli_set_claims_reach_tokens_and_userinfo(self):
        s = self.start()
        cli(self.db, "client", "add", "cliapp", "--id", "cliapp",
            "--secret", "cliapp-secret-0123456789", "--grant", "password",
            "--scope", "openid email read", "--access-token-claim",
            "tenant=acme", "--access-token-claim", "level=3",
            "--release-claim", "groups")
        cli(self.db, "user", "add", "carol", "--password-stdin",
            "--claim", "email=carol@example.com", "--claim",
            'groups=["ops","dev"]', stdin="carol-password-1\n")
        auth = ("cliapp", "cliapp-secret-0123456789")
        r = s.token({"grant_type": "password", "username": "carol",
                     "password": "carol-password-1",
                     "scope": "openid email"}, auth=auth)
        self.assertEqual(r.status, 200, r.body)
        t = r.json()["access_token"]
        p = payload(t)
        self.assertEqual((p["tenant"], p["level"], p["groups"]),
                         ("acme", 3, ["ops", "dev"]))
        self.assertNotIn("email", p)
        c = self.userinfo(s, t).json()
        self.assertEqual(c["email"], "carol@example.com")
        self.assertEqual(c["groups"], ["ops", "dev"])
        # --email in access tokens: name it in release_claims.
        cli(self.db, "client", "update", "cliapp", "--release-claim",
            "groups email", "--unset-access-token-claim", "level")
        r = s.token({"grant_type": "password", "username": "carol",
                     "password": "carol-password-1", "scope": "openid"},
                    auth=auth)
        p = payload(r.json()["access_token"])
        self.assertEqual(p["email"], "carol@example.com")
        self.assertNotIn("level", p)
        self.assertEqual(p["tenant"], "acme")


class FixtureClaimsTest(UserinfoBase):
    def refused(self, fixtures, message):
        self.write_fixtures(fixtures)
        s = None
        with self.assertRaises(AssertionError) as e:
            s = self.start_double()
        self.assertIsNone(s)
        self.assertIn(message, str(e.exception))

    def test_bad_claims_stop_start_up(self):
        fx = json.loads(json.dumps(FIXTURES))
        fx["users"][0]["claims"] = {"sub": "me"}
        self.refused(fx, 'users[0] (ada): field "claims": claim "sub"')
        fx["users"][0]["claims"] = {"email_verified": "yes"}
        self.refused(fx, 'claim "email_verified": true or false')
        fx["users"][0]["claims"] = ["roles"]
        self.refused(fx, 'field "claims": expected an object')
        fx = json.loads(json.dumps(FIXTURES))
        fx["clients"][0]["access_token_claims"] = {"exp": 1}
        self.refused(fx, 'field "access_token_claims": claim "exp"')
        fx = json.loads(json.dumps(FIXTURES))
        fx["clients"][0]["release_claims"] = ["aud"]
        self.refused(fx, 'field "release_claims": invalid claim name "aud"')

    def test_reset_restores_the_fixtures_claims(self):
        s = self.start("--fixtures", self.fixtures, "--test-double")
        cli(self.db, "user", "update", "ada", "--claim", "roles=[]",
            "--unset-claim", "email")
        cli(self.db, "client", "update", "app", "--access-token-claim",
            "tenant=other", "--release-claim", "")
        r = s.request("POST", "/_control/reset", body="", headers=FORM)
        self.assertEqual(r.status, 200, r.body)
        shown = json.loads(cli(self.db, "user", "show", "ada",
                               "--json").stdout)
        self.assertEqual(shown["claims"], ADA_CLAIMS)
        shown = json.loads(cli(self.db, "client", "show", "app",
                               "--json").stdout)
        self.assertEqual(shown["access_token_claims"],
                         {"tenant": "acme", "api_version": 2})
        self.assertEqual(shown["release_claims"], ["roles"])


class ControlClaimsTest(UserinfoBase):
    def test_user_extras_set_merge_and_clear(self):
        s = self.start_double()
        before = self.login(s, "openid email")["access_token"]
        r = self.control(s, user="ada", claims=json.dumps(
            {"roles": ["auditor"], "email": "ada@test.example"}))
        self.assertEqual(r.status, 200, r.body)
        body = r.json()
        self.assertEqual(body["user"], "ada")
        self.assertEqual(body["extra_claims"],
                         {"roles": ["auditor"], "email": "ada@test.example"})
        self.assertEqual(body["claims"]["roles"], ["auditor"])
        self.assertEqual(body["claims"]["name"], "Ada Lovelace")
        after = self.login(s, "openid email")["access_token"]
        self.assertEqual(payload(after)["roles"], ["auditor"])
        self.assertEqual(payload(before)["roles"], ["admin"])
        c = self.userinfo(s, after).json()
        self.assertEqual((c["email"], c["roles"], c["email_verified"]),
                         ("ada@test.example", ["auditor"], True))
        # Userinfo answers as the user is now, for old tokens too.
        self.assertEqual(self.userinfo(s, before).json()["roles"],
                         ["auditor"])
        listed = self.control(s, method="GET").json()
        self.assertEqual(listed["users"]["ada"]["roles"], ["auditor"])
        self.assertEqual(listed["clients"], {})
        r = self.control(s, user="ada", claims="{}")
        self.assertEqual(r.json()["extra_claims"], {})
        self.assertEqual(r.json()["claims"], ADA_CLAIMS)
        t = self.login(s, "openid email")["access_token"]
        self.assertEqual(self.userinfo(s, t).json()["email"],
                         "ada@example.com")

    def test_client_extras(self):
        s = self.start_double()
        r = self.control(s, client="app", claims=json.dumps(
            {"tenant": "beta", "feature": True}))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["access_token_claims"],
                         {"tenant": "beta", "api_version": 2,
                          "feature": True})
        p = payload(self.login(s, "openid")["access_token"])
        self.assertEqual((p["tenant"], p["api_version"], p["feature"]),
                         ("beta", 2, True))
        r = self.control(s, client="app", claims="{}")
        p = payload(self.login(s, "openid")["access_token"])
        self.assertEqual(p["tenant"], "acme")
        self.assertNotIn("feature", p)

    def test_reset_drops_the_extras(self):
        s = self.start_double()
        self.control(s, user="ada", claims='{"roles":["x"]}')
        self.control(s, client="app", claims='{"tenant":"x"}')
        r = s.request("POST", "/_control/reset", body="", headers=FORM)
        self.assertEqual(r.status, 200)
        self.assertEqual(self.control(s, method="GET").json(),
                         {"users": {}, "clients": {}})
        p = payload(self.login(s, "openid")["access_token"])
        self.assertEqual((p["tenant"], p["roles"]), ("acme", ["admin"]))

    def test_bad_requests(self):
        s = self.start_double()
        cases = [
            ({"claims": "{}"}, "exactly one"),
            ({"user": "ada", "client": "app", "claims": "{}"},
             "exactly one"),
            ({"user": "ada"}, "JSON object"),
            ({"user": "ada", "claims": "[1]"}, "JSON object"),
            ({"user": "ada", "claims": "{nope"}, "JSON object"),
            ({"user": "ada", "claims": '{"sub":"x"}'}, 'claim "sub"'),
            ({"user": "ada", "claims": '{"email_verified":1}'},
             'claim "email_verified"'),
            ({"client": "app", "claims": '{"iss":"x"}'}, 'claim "iss"'),
            ({"user": "nobody", "claims": "{}"}, "no such user"),
            ({"client": "nobody", "claims": "{}"}, "no such client"),
        ]
        for form, words in cases:
            r = self.control(s, **form)
            self.assertOAuthError(r, 400, "invalid_request")
            self.assertIn(words, r.json()["error_description"], form)
        r = s.request("POST", "/_control/claims",
                      body='user=ada&claims={}',
                      headers={"Content-Type": "text/plain"})
        self.assertOAuthError(r, 400, "invalid_request")
        self.assertEqual(self.control(s, method="GET").json(),
                         {"users": {}, "clients": {}})

    def test_not_without_test_double(self):
        s = self.start("--fixtures", self.fixtures)
        r = self.control(s, user="ada", claims="{}")
        self.assertEqual(r.status, 404)
