"""The resource registry (RFC 8707, issue 19) against the real latchkeyd
and the real `latchkey`: `latchkey resource add|list|remove`, and tokens
asked for a registered resource carrying its aud, only the scopes it
accepts and its lifetime, through every grant that takes a resource
(client_credentials, password and refresh_token, authorization_code with
the resource at /authorize, token exchange's audience). Which clients may
ask for a resource stays their audiences list (shared/DECISIONS.md):
anything else is invalid_target, registered or not."""
import base64
import hashlib
import json
import secrets
import urllib.parse

import jwt
import requests

from lk_harness import LatchkeyTestCase, add_client, cli

ORDERS = "https://orders.example.test/api"
BILLING = "https://billing.example.test"
PLAIN = "https://plain.example.test"
SVC = ("svc", "svc-secret-0123456789abcdef")
CB = "https://app.example.test/cb"
X = "urn:ietf:params:oauth:grant-type:token-exchange"
AT = "urn:ietf:params:oauth:token-type:access_token"


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def resource_add(db, *args, check=True):
    return cli(db, "resource", "add", *args, check=check)


class ResourceCliTest(LatchkeyTestCase):
    def test_add_list_remove(self):
        out = json.loads(resource_add(
            self.db, ORDERS, "--audience", "orders", "--scope",
            "orders:read", "--scope", "orders:write", "--scope",
            "orders:read", "--access-token-ttl", "300", "--json").stdout)
        self.assertEqual(out["resource"], ORDERS)
        self.assertEqual(out["audience"], "orders")
        self.assertEqual(out["scopes"], ["orders:read", "orders:write"])
        self.assertEqual(out["access_token_ttl"], 300)
        self.assertIsInstance(out["created_at"], int)
        p = resource_add(self.db, BILLING)
        self.assertEqual(p.stdout, "registered resource %s (aud %s)\n"
                         % (BILLING, BILLING))
        resource_add(self.db, PLAIN, "--scope", "")
        rows = json.loads(cli(self.db, "resource", "list", "--json").stdout)
        self.assertEqual([r["resource"] for r in rows],
                         [BILLING, ORDERS, PLAIN])
        self.assertEqual(rows[0], {"resource": BILLING, "audience": None,
                                   "scopes": None, "access_token_ttl": None,
                                   "created_at": rows[0]["created_at"]})
        self.assertEqual(rows[2]["scopes"], [])
        text = cli(self.db, "resource", "list").stdout.splitlines()
        self.assertEqual(text[0].split(), ["RESOURCE", "AUD", "SCOPES",
                                           "ACCESS_TTL", "CREATED"])
        self.assertIn("orders:read orders:write", text[2])
        self.assertIn("(any)", text[1])
        self.assertIn("(none)", text[3])
        p = cli(self.db, "resource", "remove", BILLING)
        self.assertEqual(p.stdout, "removed resource %s\n" % BILLING)
        out = json.loads(cli(self.db, "resource", "remove", ORDERS,
                             "--json").stdout)
        self.assertEqual(out, {"resource": ORDERS, "removed": True})
        rows = json.loads(cli(self.db, "resource", "list", "--json").stdout)
        self.assertEqual([r["resource"] for r in rows], [PLAIN])
        audit = json.loads(cli(self.db, "audit", "list", "--json").stdout)
        self.assertEqual(sorted((e["action"], e["object"]) for e in audit
                                if e["action"].startswith("resource.")),
                         sorted([("resource.add", "resource:" + ORDERS),
                                 ("resource.add", "resource:" + BILLING),
                                 ("resource.add", "resource:" + PLAIN),
                                 ("resource.remove", "resource:" + BILLING),
                                 ("resource.remove", "resource:" + ORDERS)]))

    def test_refusals(self):
        resource_add(self.db, ORDERS)
        cases = [
            ((ORDERS,), 1, "resource '%s' is already registered" % ORDERS),
            (("https://a.example/#frag",), 2, "invalid resource "
             "'https://a.example/#frag'"),
            (("two words",), 2, "invalid resource 'two words'"),
            ((BILLING, "--audience", "a", "--audience", "b"), 2,
             "invalid --audience"),
            ((BILLING, "--audience", "a b"), 2, "invalid --audience"),
            ((BILLING, "--scope", "a b"), 2, "invalid --scope 'a b'"),
            ((BILLING, "--access-token-ttl", "0"), 2,
             "invalid --access-token-ttl '0'"),
            ((BILLING, "--access-token-ttl", "soon"), 2,
             "invalid --access-token-ttl 'soon'"),
            ((BILLING, "--access-token-ttl", "99999999999"), 2,
             "invalid --access-token-ttl"),
        ]
        for args, code, message in cases:
            with self.subTest(args=args):
                p = resource_add(self.db, *args, check=False)
                self.assertEqual(p.returncode, code, p.stderr)
                self.assertIn(message, p.stderr)
                self.assertEqual(p.stdout, "")
        p = cli(self.db, "resource", "remove", BILLING, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no registered resource '%s'" % BILLING, p.stderr)
        # Nothing but the first was recorded.
        rows = json.loads(cli(self.db, "resource", "list", "--json").stdout)
        self.assertEqual([r["resource"] for r in rows], [ORDERS])


class ResourceTokensTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        add_client(self.db, "svc", "--id", SVC[0], "--secret", SVC[1],
                   "--grant", "client_credentials", "--grant", "password",
                   "--grant", "refresh_token", "--grant", "token-exchange",
                   "--scope", "openid orders:read orders:write billing",
                   "--audience", ORDERS, "--audience", BILLING,
                   "--audience", PLAIN)
        resource_add(self.db, ORDERS, "--audience", "orders", "--scope",
                     "orders:read", "--scope", "orders:write",
                     "--access-token-ttl", "300")
        resource_add(self.db, BILLING, "--scope", "billing",
                     "--access-token-ttl", "120")
        cli(self.db, "user", "add", "ada", "--password-stdin",
            stdin="ada-password-1\n")

    def cc(self, s, **form):
        return s.token({"grant_type": "client_credentials", **form},
                       auth=SVC)

    def assertToken(self, r, aud, scope, ttl):
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers["cache-control"], "no-store")
        body = r.json()
        self.assertEqual(body["scope"], scope)
        self.assertEqual(body["expires_in"], ttl)
        c = claims(body["access_token"])
        self.assertEqual(c["aud"], aud)
        self.assertEqual(c["scope"], scope)
        self.assertEqual(c["exp"] - c["iat"], ttl)
        return body

    def test_client_credentials(self):
        s = self.start()
        tok = self.assertToken(self.cc(s, resource=ORDERS), "orders",
                               "openid orders:read orders:write", 300)
        # Introspection and /resource see the same token.
        i = s.introspect(tok["access_token"], SVC)
        self.assertEqual((i["active"], i["aud"], i["scope"]),
                         (True, "orders", "openid orders:read orders:write"))
        r = s.request("GET", "/resource", headers={
            "Authorization": "Bearer " + tok["access_token"]})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["aud"], "orders")
        self.assertToken(self.cc(s, resource=ORDERS, scope="orders:read"),
                         "orders", "orders:read", 300)
        self.assertToken(self.cc(s, resource=BILLING), BILLING,
                         "openid billing", 120)
        # Not registered: its identifier, the client's scopes and the
        # server's lifetime, as before the registry.
        self.assertToken(self.cc(s, resource=PLAIN), PLAIN,
                         "openid orders:read orders:write billing", 3600)
        # No resource: the token is for every audience of the client, so
        # each registered one shapes it (review: without this, leaving
        # resource out escaped the registry): its aud, only the scopes
        # all of them accept, and the shortest lifetime.
        self.assertToken(self.cc(s), ["orders", BILLING, PLAIN], "openid",
                         120)
        r = self.cc(s, scope="billing")
        self.assertOAuthError(r, 400, "invalid_scope")
        self.assertEqual(r.json()["error_description"],
                         "a requested scope is not one the resource accepts")

    def test_refusals(self):
        s = self.start()
        # A scope of the client the resource does not accept.
        r = self.cc(s, resource=ORDERS, scope="orders:read billing")
        self.assertOAuthError(r, 400, "invalid_scope")
        self.assertEqual(r.json()["error_description"],
                         "a requested scope is not one the resource accepts")
        # A scope that is not the client's stays the client's refusal.
        r = self.cc(s, resource=ORDERS, scope="admin")
        self.assertOAuthError(r, 400, "invalid_scope")
        self.assertEqual(r.json()["error_description"],
                         "a requested scope is not allowed for this client")
        # Registered, but not one of the client's audiences.
        resource_add(self.db, "https://hr.example.test")
        for res in ["https://hr.example.test", "orders", ORDERS + "/"]:
            with self.subTest(resource=res):
                self.assertOAuthError(self.cc(s, resource=res), 400,
                                      "invalid_target")
        out = cli(self.db, "token", "list", "--json").stdout
        self.assertEqual(json.loads(out), [])

    def test_lifetimes(self):
        """The resource's lifetime takes the server default's place; a
        client's own lifetime, when shorter, still wins."""
        s = self.start("--access-token-ttl", "60")
        self.assertToken(self.cc(s, resource=ORDERS), "orders",
                         "openid orders:read orders:write", 300)
        self.assertToken(self.cc(s, resource=PLAIN), PLAIN,
                         "openid orders:read orders:write billing", 60)
        s.stop()
        cli(self.db, "client", "update", SVC[0], "--access-token-ttl", "200")
        s = self.start()
        self.assertToken(self.cc(s, resource=ORDERS), "orders",
                         "openid orders:read orders:write", 200)
        self.assertToken(self.cc(s, resource=BILLING), BILLING,
                         "openid billing", 120)

    def test_registry_changes_apply_at_once(self):
        s = self.start()
        cli(self.db, "resource", "remove", ORDERS)
        self.assertToken(self.cc(s, resource=ORDERS), ORDERS,
                         "openid orders:read orders:write billing", 3600)
        resource_add(self.db, ORDERS, "--scope", "")
        self.assertToken(self.cc(s, resource=ORDERS), ORDERS, "openid",
                         3600)
        cli(self.db, "client", "update", SVC[0], "--audience", BILLING)
        r = self.cc(s, resource=ORDERS)
        # A cached client record may have decided: a fresh read agrees.
        self.assertOAuthError(r, 400, "invalid_target")

    def test_password_and_refresh(self):
        """The refresh token holds what the first token got; a refresh
        may aim its access token at another resource, and keeps the
        refresh token's scope."""
        s = self.start()
        r = s.token({"grant_type": "password", "username": "ada",
                     "password": "ada-password-1", "resource": ORDERS},
                    auth=SVC)
        body = self.assertToken(r, "orders", "openid orders:read "
                                "orders:write", 300)
        self.assertIn("id_token", body)
        # An unregistered resource leaves the whole grant.
        r = s.token({"grant_type": "password", "username": "ada",
                     "password": "ada-password-1", "resource": PLAIN},
                    auth=SVC)
        rt = r.json()["refresh_token"]
        r = s.token({"grant_type": "refresh_token", "refresh_token": rt,
                     "resource": BILLING}, auth=SVC)
        body = self.assertToken(r, BILLING, "openid billing", 120)
        r = s.token({"grant_type": "refresh_token",
                     "refresh_token": body["refresh_token"],
                     "resource": ORDERS}, auth=SVC)
        body = self.assertToken(r, "orders", "openid orders:read "
                                "orders:write", 300)
        r = s.token({"grant_type": "refresh_token",
                     "refresh_token": body["refresh_token"]}, auth=SVC)
        body = self.assertToken(r, ["orders", BILLING, PLAIN], "openid", 120)
        r = s.token({"grant_type": "refresh_token",
                     "refresh_token": body["refresh_token"],
                     "resource": BILLING, "scope": "orders:read"}, auth=SVC)
        self.assertOAuthError(r, 400, "invalid_scope")
        # A grant whose scopes the resource accepts none of: the grant is
        # still good (invalid_scope, not invalid_grant).
        r = s.token({"grant_type": "password", "username": "ada",
                     "password": "ada-password-1", "resource": PLAIN,
                     "scope": "orders:write"}, auth=SVC)
        rt = r.json()["refresh_token"]
        r = s.token({"grant_type": "refresh_token", "refresh_token": rt,
                     "resource": BILLING}, auth=SVC)
        self.assertOAuthError(r, 400, "invalid_scope")
        self.assertEqual(r.json()["error_description"],
                         "none of the grant's scopes is one the resource "
                         "accepts")
        r = s.token({"grant_type": "refresh_token", "refresh_token": rt,
                     "resource": ORDERS}, auth=SVC)
        self.assertToken(r, "orders", "orders:write", 300)

    def test_token_exchange(self):
        s = self.start()
        user = s.token({"grant_type": "password", "username": "ada",
                        "password": "ada-password-1", "resource": PLAIN},
                       auth=SVC).json()
        base = {"grant_type": X, "subject_token": user["access_token"],
                "subject_token_type": AT}
        r = s.token({**base, "audience": ORDERS}, auth=SVC)
        body = self.assertToken(r, "orders", "openid orders:read "
                                "orders:write", 300)
        self.assertEqual(body["issued_token_type"], AT)
        self.assertEqual(claims(body["access_token"])["sub"],
                         claims(user["access_token"])["sub"])
        # audience and resource together: a token for both, with the
        # scopes both accept and the shorter lifetime.
        r = s.token({**base, "audience": ORDERS, "resource": BILLING},
                    auth=SVC)
        self.assertToken(r, [BILLING, "orders"], "openid", 120)
        # An unregistered one with a long-lived one: the default bounds
        # it (review: a registered lifetime lengthened the other's).
        resource_add(self.db, "https://long.example.test",
                     "--access-token-ttl", "86400")
        cli(self.db, "client", "update", SVC[0], "--audience", ORDERS,
            "--audience", BILLING, "--audience", PLAIN, "--audience",
            "https://long.example.test")
        r = s.token({**base, "audience": PLAIN,
                     "resource": "https://long.example.test"}, auth=SVC)
        self.assertEqual(r.status, 200, r.body)
        c = claims(r.json()["access_token"])
        self.assertEqual(c["aud"], ["https://long.example.test", PLAIN])
        # The default (3600), and no later than the subject token, which
        # a slow machine may have issued a second or two before.
        self.assertLessEqual(c["exp"] - c["iat"], 3600)
        self.assertGreater(c["exp"] - c["iat"], 3500)
        r = s.token({**base, "audience": "https://hr.example.test"},
                    auth=SVC)
        self.assertOAuthError(r, 400, "invalid_target")
        r = s.token({**base, "resource": ORDERS, "scope": "billing"},
                    auth=SVC)
        self.assertOAuthError(r, 400, "invalid_scope")


class ResourceAuthorizeTest(LatchkeyTestCase):
    """The resource at /authorize: the code remembers it, and its tokens
    are shaped by the registry when the code is redeemed."""

    def setUp(self):
        super().setUp()
        cli(self.db, "user", "add", "dave", "--password-stdin",
            stdin="dave-password-1\n")
        cli(self.db, "client", "add", "Web", "--id", "web", "--public",
            "--grant", "authorization_code", "--scope",
            "openid orders:read billing", "--redirect-uri", CB,
            "--audience", ORDERS, "--audience", BILLING,
            "--auto-approve-as", "dave")
        resource_add(self.db, ORDERS, "--audience", "orders", "--scope",
                     "orders:read", "--access-token-ttl", "300")
        self.s = self.start()

    def authorize(self, **extra):
        self.verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(
            self.verifier.encode()).digest()).rstrip(b"=").decode()
        p = {"response_type": "code", "client_id": "web",
             "redirect_uri": CB, "state": "st-1",
             "code_challenge": challenge, "code_challenge_method": "S256"}
        p.update(extra)
        r = requests.get(self.s.issuer + "/authorize?" +
                         urllib.parse.urlencode(p), allow_redirects=False,
                         timeout=30)
        self.assertEqual(r.status_code, 302, r.text)
        loc = r.headers["location"]
        self.assertTrue(loc.startswith(CB + "?"), loc)
        return urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)

    def redeem(self, q, **extra):
        return self.s.token({"grant_type": "authorization_code",
                             "code": q["code"][0], "client_id": "web",
                             "redirect_uri": CB,
                             "code_verifier": self.verifier, **extra})

    def test_code_for_a_registered_resource(self):
        q = self.authorize(scope="openid orders:read", resource=ORDERS)
        r = self.redeem(q, resource=ORDERS)
        self.assertEqual(r.status, 200, r.body)
        body = r.json()
        self.assertEqual(body["scope"], "openid orders:read")
        self.assertEqual(body["expires_in"], 300)
        self.assertEqual(claims(body["access_token"])["aud"], "orders")
        self.assertEqual(claims(body["id_token"])["aud"], "web")
        # Without a scope, the client's less what the resource refuses.
        q = self.authorize(resource=ORDERS)
        r = self.redeem(q)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["scope"], "openid orders:read")
        self.assertEqual(claims(r.json()["access_token"])["aud"], "orders")

    def test_refusals(self):
        q = self.authorize(scope="openid billing", resource=ORDERS)
        self.assertEqual(q["error"], ["invalid_scope"])
        self.assertEqual(q["error_description"],
                         ["a requested scope is not one the resource "
                          "accepts"])
        self.assertEqual(q["state"], ["st-1"])
        q = self.authorize(scope="openid", resource=PLAIN)
        self.assertEqual(q["error"], ["invalid_target"])
        # The token request may not name another resource than the
        # code's.
        q = self.authorize(scope="openid orders:read", resource=ORDERS)
        r = self.redeem(q, resource=BILLING)
        self.assertOAuthError(r, 400, "invalid_target")
        self.assertEqual(r.json()["error_description"],
                         "the resource is not the one the code was issued "
                         "for")

    def test_code_without_resource_takes_the_token_requests(self):
        q = self.authorize(scope="openid orders:read billing")
        r = self.redeem(q, resource=ORDERS)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["scope"], "openid orders:read")
        self.assertEqual(claims(r.json()["access_token"])["aud"], "orders")
        q = self.authorize(scope="openid billing")
        r = self.redeem(q, resource=ORDERS)
        # Nothing the code holds is accepted there but openid.
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["scope"], "openid")
        # Neither names one: the client's audiences, each shaping it.
        q = self.authorize(scope="openid orders:read billing")
        r = self.redeem(q)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["scope"], "openid orders:read")
        self.assertEqual(r.json()["expires_in"], 300)
        self.assertEqual(claims(r.json()["access_token"])["aud"],
                         ["orders", BILLING])
        q = self.authorize(scope="billing")
        r = self.redeem(q, resource=ORDERS)
        self.assertOAuthError(r, 400, "invalid_scope")
