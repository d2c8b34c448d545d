"""The aud claim (RFC 9068 section 2.2: REQUIRED) against the real
latchkeyd: every branch of the order in shared/DECISIONS.md (the resource
parameter of RFC 8707, else the client's audiences, else the audience
setting, else the issuer), a string for one value and an array for
several, introspection and /resource following the token, invalid_target
for a resource that is not an audience of the client, and the fixtures
key."""
import json
import os
import subprocess

import jwt

from lk_cli_helpers import SANITIZER_MARKS
from lk_harness import LATCHKEYD, LatchkeyTestCase, add_client, cli

API = "https://api.example.test"
BILLING = "https://billing.example.test/v1"


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


class AudienceTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        plain = add_client(self.db, "plain", "--grant", "client_credentials")
        one = add_client(self.db, "one", "--audience", API)
        two = add_client(self.db, "two", "--audience", API, "--audience",
                         BILLING, "--introspect")
        self.plain = (plain["client_id"], plain["client_secret"])
        self.one = (one["client_id"], one["client_secret"])
        self.two = (two["client_id"], two["client_secret"])

    def token(self, s, auth, **form):
        r = s.token({"grant_type": "client_credentials", **form}, auth=auth)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["access_token"]

    def test_issuer_when_nothing_else(self):
        """No audience setting, no client audiences: aud is the issuer,
        and the start-up log says so."""
        s = self.start()
        tok = self.token(s, self.plain)
        self.assertEqual(claims(tok)["aud"], s.issuer)
        # PyJWT verifies it as any RFC 9068 verifier would.
        jwt.decode(tok, options={"verify_signature": False},
                   audience=s.issuer)
        self.assertEqual(s.introspect(tok, self.two)["aud"], s.issuer)
        self.assertIn("audience is not set: access tokens of clients "
                      "without audiences of their own carry aud %s (the "
                      "issuer)" % s.issuer, s.log_text())

    def test_audience_setting(self):
        s = self.start("--audience", "urn:example:default")
        self.assertEqual(claims(self.token(s, self.plain))["aud"],
                         "urn:example:default")
        self.assertNotIn("audience is not set", s.log_text())

    def test_client_audiences_win_over_the_setting(self):
        s = self.start("--audience", "urn:example:default")
        self.assertEqual(claims(self.token(s, self.one))["aud"], API)
        tok = self.token(s, self.two)
        self.assertEqual(claims(tok)["aud"], [API, BILLING])
        self.assertEqual(s.introspect(tok, self.two)["aud"], [API, BILLING])
        r = s.request("GET", "/resource",
                      headers={"Authorization": "Bearer " + tok})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["aud"], [API, BILLING])

    def test_resource_narrows_to_one_audience(self):
        s = self.start("--audience", "urn:example:default")
        tok = self.token(s, self.two, resource=BILLING)
        self.assertEqual(claims(tok)["aud"], BILLING)
        self.assertEqual(s.introspect(tok, self.two)["aud"], BILLING)
        self.assertEqual(claims(self.token(s, self.one, resource=API))["aud"],
                         API)
        # Without audiences of its own, a client may name its default.
        self.assertEqual(claims(self.token(
            s, self.plain, resource="urn:example:default"))["aud"],
            "urn:example:default")
        # An empty resource is an omitted one (RFC 6749 section 3.2).
        self.assertEqual(claims(self.token(s, self.two, resource=""))["aud"],
                         [API, BILLING])

    def test_resource_not_an_audience_is_invalid_target(self):
        s = self.start()
        cases = [
            (self.one, BILLING),              # another client's audience
            (self.two, "https://api.example.test/"),  # exact match only
            (self.two, API + " " + BILLING),  # one resource, not a list
            (self.plain, "https://elsewhere.example"),
        ]
        for auth, resource in cases:
            with self.subTest(resource=resource):
                r = s.token({"grant_type": "client_credentials",
                             "resource": resource}, auth=auth)
                self.assertOAuthError(r, 400, "invalid_target")
                self.assertEqual(r.headers["cache-control"], "no-store")
        # Nothing was issued for them.
        out = cli(self.db, "token", "list", "--json").stdout
        self.assertEqual(json.loads(out), [])
        # RFC 8707 allows several resource parameters; Latchkey takes one,
        # and a repeated parameter is invalid_request as everywhere.
        r = s.token("grant_type=client_credentials&resource=%s&resource=%s"
                    % (API, BILLING), auth=self.two)
        self.assertOAuthError(r, 400, "invalid_request")
        # Client authentication comes first.
        r = s.token({"grant_type": "client_credentials",
                     "resource": BILLING}, auth=(self.one[0], "wrong"))
        self.assertOAuthError(r, 401, "invalid_client")

    def test_resource_with_user_grants(self):
        """The resource parameter works the same for the password and
        refresh_token grants; a refresh without one gets the client's
        audiences again."""
        app = add_client(self.db, "app", "--grant", "password", "--grant",
                         "refresh_token", "--audience", API, "--audience",
                         BILLING)
        cli(self.db, "user", "add", "dave", "--password-stdin",
            stdin="dave-password-1\n")
        auth = (app["client_id"], app["client_secret"])
        s = self.start()
        r = s.token({"grant_type": "password", "username": "dave",
                     "password": "dave-password-1", "resource": API},
                    auth=auth)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(claims(r.json()["access_token"])["aud"], API)
        rt = r.json()["refresh_token"]
        r = s.token({"grant_type": "refresh_token", "refresh_token": rt,
                     "resource": BILLING}, auth=auth)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(claims(r.json()["access_token"])["aud"], BILLING)
        r = s.token({"grant_type": "refresh_token",
                     "refresh_token": r.json()["refresh_token"],
                     "resource": "https://other.example"}, auth=auth)
        self.assertOAuthError(r, 400, "invalid_target")
        r = s.token({"grant_type": "password", "username": "dave",
                     "password": "dave-password-1"}, auth=auth)
        self.assertEqual(claims(r.json()["access_token"])["aud"],
                         [API, BILLING])

    def test_update_replaces_the_list(self):
        cli(self.db, "client", "update", self.two[0], "--audience", BILLING)
        s = self.start()
        self.assertEqual(claims(self.token(s, self.two))["aud"], BILLING)
        s.stop()
        cli(self.db, "client", "update", self.two[0], "--audience", "")
        s = self.start()
        self.assertEqual(claims(self.token(s, self.two))["aud"], s.issuer)

    def test_audience_setting_must_be_one_value(self):
        p = subprocess.run([LATCHKEYD, "--listen", "127.0.0.1:0", "--db",
                            self.db, "--audience", "two values"],
                           capture_output=True, text=True, timeout=60)
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, p.stderr)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertIn("setting 'audience': 'two values' is not one "
                      "audience: 1 to 2048 printable ASCII characters "
                      "without spaces", p.stderr)


class AudienceFixturesTest(LatchkeyTestCase):
    def test_fixtures_key(self):
        self.write_fixtures({"clients": [
            {"client_id": "svc", "client_secret": "svc-secret-long-enough",
             "audiences": [API, BILLING, API]},
            {"client_id": "one", "client_secret": "one-secret-long-enough",
             "audiences": [BILLING]},
            {"client_id": "none", "client_secret": "none-secret-long-enough",
             "audiences": []},
        ]})
        s = self.start_double()
        form = {"grant_type": "client_credentials"}
        r = s.token(form, auth=("svc", "svc-secret-long-enough"))
        self.assertEqual(r.status, 200, r.body)
        # A value given twice is kept once, as for every list.
        self.assertEqual(claims(r.json()["access_token"])["aud"],
                         [API, BILLING])
        r = s.token(form, auth=("one", "one-secret-long-enough"))
        self.assertEqual(claims(r.json()["access_token"])["aud"], BILLING)
        r = s.token(form, auth=("none", "none-secret-long-enough"))
        self.assertEqual(claims(r.json()["access_token"])["aud"], s.issuer)
        r = s.token({**form, "resource": API},
                    auth=("one", "one-secret-long-enough"))
        self.assertOAuthError(r, 400, "invalid_target")
