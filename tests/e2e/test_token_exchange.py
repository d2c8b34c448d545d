"""Issue 19 section 3: token exchange (RFC 8693) on the real latchkeyd
(both backends: run as e2e_pg_test_token_exchange too).

A gateway client granted `token-exchange` trades a user's access token
(or ID token) for one aimed at one of its audiences, never wider than the
subject token; with an actor token the new token's `act` claim names the
actor, and an exchange of an exchanged token nests the earlier actor
(section 4.1). Revoking the subject token's refresh family revokes what
was exchanged from it. Hostile cases: a widened scope, an audience the
client may not ask for, a revoked, foreign or altered subject token, an
unsupported token type, a client without the grant, a public client."""
import json

import jwt

from lk_harness import LatchkeyTestCase, add_client, cli

X = "urn:ietf:params:oauth:grant-type:token-exchange"
AT = "urn:ietf:params:oauth:token-type:access_token"
IDT = "urn:ietf:params:oauth:token-type:id_token"
GW = ("gw", "gw-secret-long-enough-1")
APP = ("app", "app-secret-long-enough-1")


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


class TokenExchangeTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        add_client(self.db, "app", "--id", APP[0], "--secret", APP[1],
                   "--grant", "password", "--grant", "refresh_token",
                   "--grant", "token-exchange",
                   "--scope", "openid read write")
        c = add_client(self.db, "gw", "--id", GW[0], "--secret", GW[1],
                       "--grant", "token-exchange", "--grant",
                       "client_credentials", "--audience", "https://orders",
                       "--audience", "https://billing", "--scope", "read")
        # JSON output names the grant by its URN (the short name is input).
        self.assertEqual(c["grant_types"], [X, "client_credentials"])
        cli(self.db, "user", "add", "ada", "--password-stdin",
            stdin="ada-password-1\n")
        self.s = self.start()
        r = self.s.token({"grant_type": "password", "username": "ada",
                          "password": "ada-password-1",
                          "scope": "openid read write"}, auth=APP)
        self.assertEqual(r.status, 200, r.body)
        self.user = r.json()
        self.gw_token = self.s.token({"grant_type": "client_credentials"},
                                     auth=GW).json()["access_token"]

    def exchange(self, subject, auth=GW, **form):
        f = {"grant_type": X, "subject_token": subject,
             "subject_token_type": AT}
        f.update(form)
        return self.s.token(f, auth=auth)

    def test_a_chain_with_act(self):
        r = self.exchange(self.user["access_token"], audience="https://orders",
                          scope="read", actor_token=self.gw_token,
                          actor_token_type=AT)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers["cache-control"], "no-store")
        one = r.json()
        self.assertEqual((one["issued_token_type"], one["token_type"],
                          one["scope"]), (AT, "Bearer", "read"))
        self.assertNotIn("refresh_token", one)
        c1 = claims(one["access_token"])
        user_sub = claims(self.user["access_token"])["sub"]
        self.assertEqual((c1["sub"], c1["client_id"], c1["aud"], c1["act"]),
                         (user_sub, "gw", "https://orders", {"sub": "gw"}))
        # The exchanged token exchanged again: the earlier actor nests.
        r = self.exchange(one["access_token"], audience="https://billing",
                          actor_token=self.gw_token, actor_token_type=AT)
        self.assertEqual(r.status, 200, r.body)
        c2 = claims(r.json()["access_token"])
        self.assertEqual((c2["sub"], c2["aud"], c2["scope"]),
                         (user_sub, "https://billing", "read"))
        self.assertEqual(c2["act"], {"sub": "gw", "act": {"sub": "gw"}})
        # Without an actor token the subject token's chain is kept.
        c3 = claims(self.exchange(r.json()["access_token"]).json()
                    ["access_token"])
        self.assertEqual(c3["act"], c2["act"])
        # The tokens verify at /introspect like any other.
        i = self.s.introspect(r.json()["access_token"], GW)
        self.assertEqual((i["active"], i["sub"], i["client_id"]),
                         (True, user_sub, "gw"))

    def test_revoking_the_family_revokes_the_exchanged(self):
        ex = self.exchange(self.user["access_token"]).json()["access_token"]
        self.assertTrue(self.s.introspect(ex, GW)["active"])
        # A refresh token used twice revokes its family (RFC 9700).
        rt = {"grant_type": "refresh_token",
              "refresh_token": self.user["refresh_token"]}
        self.assertEqual(self.s.token(rt, auth=APP).status, 200)
        self.assertOAuthError(self.s.token(rt, auth=APP), 400,
                              "invalid_grant")
        self.assertEqual(self.s.introspect(ex, GW), {"active": False})
        # And the revoked subject token cannot be exchanged any more.
        r = self.exchange(self.user["access_token"])
        self.assertOAuthError(r, 400, "invalid_request")
        self.assertIn("subject_token is not a live token",
                      r.json()["error_description"])

    def test_an_id_token_as_subject(self):
        idt = self.user["id_token"]
        r = self.exchange(idt, auth=APP, subject_token_type=IDT,
                          scope="read")
        self.assertEqual(r.status, 200, r.body)
        c = claims(r.json()["access_token"])
        self.assertEqual(c["sub"], claims(idt)["sub"])
        self.assertEqual(r.json()["scope"], "read")
        # No later than the ID token it came from.
        self.assertLessEqual(c["exp"], claims(idt)["exp"])
        # An ID token holds no scope: the client's own scopes bound it.
        self.assertOAuthError(self.exchange(idt, auth=APP,
                                            subject_token_type=IDT,
                                            scope="admin"),
                              400, "invalid_scope")
        # Only the client it was issued to may exchange it.
        r = self.exchange(idt, subject_token_type=IDT)
        self.assertOAuthError(r, 400, "invalid_request")
        self.assertIn("only by the client it was issued to",
                      r.json()["error_description"])

    def test_bounded_by_the_client_and_the_subject(self):
        # gw may hold only read: the user's write does not come along.
        r = self.exchange(self.user["access_token"])
        self.assertEqual((r.status, r.json()["scope"]), (200, "read"))
        self.assertOAuthError(self.exchange(self.user["access_token"],
                                            scope="write"),
                              400, "invalid_scope")
        # It expires no later than the subject token.
        self.assertLessEqual(claims(r.json()["access_token"])["exp"],
                             claims(self.user["access_token"])["exp"])
        # The tokens of a disabled client are exchanged no more.
        cli(self.db, "client", "disable", "app")
        self.assertOAuthError(self.exchange(self.user["access_token"]),
                              400, "invalid_request")

    def test_hostile_exchanges(self):
        at = self.user["access_token"]
        head, body, sig = at.split(".")
        c = claims(at)
        c["scope"] = "admin"
        forged = ".".join([head, jwt.utils.base64url_encode(
            json.dumps(c).encode()).decode(), sig])
        cases = [
            (dict(subject_token=at, scope="read write admin"), 400,
             "invalid_scope"),
            (dict(subject_token=at, audience="https://evil.example"), 400,
             "invalid_target"),
            (dict(subject_token=at, resource="https://evil.example"), 400,
             "invalid_target"),
            (dict(subject_token=forged), 400, "invalid_request"),
            (dict(subject_token="not-a-token"), 400, "invalid_request"),
            (dict(subject_token=at, subject_token_type=IDT), 400,
             "invalid_request"),
            (dict(subject_token=at, subject_token_type="urn:x"), 400,
             "invalid_request"),
            (dict(subject_token=at, requested_token_type=IDT), 400,
             "invalid_request"),
            (dict(subject_token=at, actor_token="x"), 400,
             "invalid_request"),
            (dict(subject_token=at, actor_token="x", actor_token_type=AT),
             400, "invalid_request"),
            (dict(subject_token_type=AT, subject_token=None), 400,
             "invalid_request"),
        ]
        for form, status, code in cases:
            with self.subTest(form={k: str(v)[:20] for k, v in form.items()}):
                f = {"grant_type": X, "subject_token_type": AT}
                f.update({k: v for k, v in form.items() if v is not None})
                if form.get("subject_token", "") is None:
                    f.pop("subject_token", None)
                self.assertOAuthError(self.s.token(f, auth=GW), status, code)
        # A scope narrower than the subject token's is fine.
        r = self.exchange(at, scope="read")
        self.assertEqual((r.status, r.json()["scope"]), (200, "read"))

    def test_who_may_exchange(self):
        # A client without the grant: unauthorized_client.
        add_client(self.db, "plain", "--id", "plain", "--secret",
                   "plain-secret-long-enough")
        self.assertOAuthError(self.exchange(self.user["access_token"],
                                            auth=("plain",
                                                  "plain-secret-long-enough")),
                              400, "unauthorized_client")
        # A public client cannot be given it.
        p = cli(self.db, "client", "add", "spa", "--public", "--grant",
                "token-exchange", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("a public client cannot exchange tokens", p.stderr)
        # The full URN is accepted as the short name is.
        c = add_client(self.db, "gw2", "--grant", X)
        self.assertEqual(c["grant_types"], [X])
