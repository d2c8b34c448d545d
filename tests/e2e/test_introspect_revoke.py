"""POST /introspect (RFC 7662) and POST /revoke (RFC 7009) for access
tokens, against the real latchkeyd."""
import base64
import json
import lk_db
import urllib.parse

import jwt

from lk_harness import LatchkeyTestCase, add_client, basic, cli


class IntrospectRevokeTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        a = add_client(self.db, "svc-a", "--scope", "read", "--scope", "write")
        b = add_client(self.db, "svc-b", "--scope", "read")
        rs = add_client(self.db, "api", "--grant", "client_credentials")
        self.a = (a["client_id"], a["client_secret"])
        self.b = (b["client_id"], b["client_secret"])
        self.rs = (rs["client_id"], rs["client_secret"])
        self.pub = add_client(self.db, "spa", "--public")["client_id"]
        self.s = self.start("--audience", "https://api.test")

    def token(self, auth, **form):
        r = self.s.token({"grant_type": "client_credentials", **form},
                         auth=auth)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["access_token"]

    def introspect(self, token, auth=None, **extra):
        return self._post("/introspect", {"token": token, **extra},
                          auth or self.rs)

    def _post(self, path, form, auth):
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        if auth is not None:
            h["Authorization"] = basic(*auth)
        return self.s.request("POST", path, body=urllib.parse.urlencode(form),
                              headers=h)

    def assertInactive(self, r):
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers["cache-control"], "no-store")
        self.assertEqual(r.json(), {"active": False})

    def test_active_token(self):
        tok = self.token(self.a, scope="read")
        claims = jwt.decode(tok, options={"verify_signature": False})
        r = self.introspect(tok)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers["cache-control"], "no-store")
        self.assertEqual(r.json(), {
            "active": True, "client_id": self.a[0], "sub": self.a[0],
            "scope": "read", "jti": claims["jti"], "token_type": "Bearer",
            "exp": claims["exp"], "iat": claims["iat"], "iss": self.s.issuer,
            "aud": "https://api.test"})
        # client_secret_post works too, and a hint changes nothing.
        r = self.s.request("POST", "/introspect", body=(
            f"token={tok}&token_type_hint=access_token&client_id={self.rs[0]}"
            f"&client_secret={self.rs[1]}"),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertTrue(r.json()["active"])

    def test_inactive_tokens_say_only_active_false(self):
        tok = self.token(self.a)
        h, p, sig = tok.split(".")
        forged_claims = json.loads(base64.urlsafe_b64decode(p + "=="))
        forged_claims["scope"] = "admin"
        forged = h + "." + base64.urlsafe_b64encode(json.dumps(
            forged_claims).encode()).decode().rstrip("=") + "." + sig
        bad_sig = tok[:-4] + ("AAAA" if not tok.endswith("AAAA") else "BBBB")
        other_key = jwt.encode({"jti": forged_claims["jti"]},
                               "x" * 32, algorithm="HS256",
                               headers={"typ": "at+jwt",
                                        "kid": jwt.get_unverified_header(
                                            tok)["kid"]})
        # The same signature spelt another way (RFC 7515 section 2 has no
        # padding; the last character of an ES256 signature has 4 unused
        # bits): not the token we issued.
        b64 = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
               "0123456789-_")
        padded = tok + "=="
        stray = tok[:-1] + b64[b64.index(tok[-1]) ^ 1]
        for t in [forged, bad_sig, other_key, "not-a-token", "a.b.c",
                  "x" * 12000, tok + ".x", "\u00e9t\u00e9", padded, stray]:
            with self.subTest(t=t[:20]):
                self.assertInactive(self.introspect(t))
        r = self.introspect("x" * 100000)  # over max_body_size
        self.assertOAuthError(r, 413, "request_too_large")
        # Revoked (by the CLI) and expired tokens are inactive.
        jti = jwt.decode(tok, options={"verify_signature": False})["jti"]
        cli(self.db, "token", "revoke", jti)
        self.assertInactive(self.introspect(tok))
        tok2 = self.token(self.b)
        db = lk_db.connect(self.db)
        db.execute("UPDATE access_tokens SET expires_at = 1 WHERE jti = ?",
                   (jwt.decode(tok2, options={"verify_signature": False})[
                       "jti"],))
        db.commit()
        db.close()
        self.assertInactive(self.introspect(tok2))

    def test_introspection_needs_a_confidential_client(self):
        tok = self.token(self.a)
        r = self._post("/introspect", {"token": tok}, None)
        self.assertOAuthError(r, 401, "invalid_client")
        self.assertIn("www-authenticate", r.headers)
        r = self._post("/introspect", {"token": tok}, (self.rs[0], "wrong"))
        self.assertOAuthError(r, 401, "invalid_client")
        r = self._post("/introspect", {"token": tok, "client_id": self.pub},
                       None)
        self.assertOAuthError(r, 401, "invalid_client")
        r = self._post("/introspect", {}, self.rs)
        self.assertOAuthError(r, 400, "invalid_request")
        r = self.s.request("POST", "/introspect",
                           body=f"token={tok}&token={tok}", headers={
                               "Content-Type":
                               "application/x-www-form-urlencoded"})
        self.assertOAuthError(r, 400, "invalid_request")
        r = self.s.request("GET", "/introspect")
        self.assertOAuthError(r, 405, "method_not_allowed")

    def test_revoke_own_token(self):
        tok = self.token(self.a)
        self.assertTrue(self.introspect(tok).json()["active"])
        r = self._post("/revoke", {"token": tok,
                                   "token_type_hint": "access_token"}, self.a)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.headers["cache-control"], "no-store")
        self.assertInactive(self.introspect(tok))
        active = json.loads(cli(self.db, "token", "list", "--active",
                                "--json").stdout)
        jti = jwt.decode(tok, options={"verify_signature": False})["jti"]
        self.assertNotIn(jti, [t["jti"] for t in active])
        # Again, and unknown or garbage tokens: still 200.
        for t in [tok, "garbage", "a.b.c"]:
            r = self._post("/revoke", {"token": t}, self.a)
            self.assertEqual(r.status, 200, r.body)
        # An unknown hint is ignored, not an error.
        r = self._post("/revoke", {"token": tok, "token_type_hint": "foo"},
                       self.a)
        self.assertEqual(r.status, 200, r.body)

    def test_revoke_other_clients_token_is_refused(self):
        tok = self.token(self.a)
        r = self._post("/revoke", {"token": tok}, self.b)
        self.assertOAuthError(r, 400, "unauthorized_client")
        self.assertTrue(self.introspect(tok).json()["active"])
        r = self._post("/revoke", {"token": tok}, (self.a[0], "wrong"))
        self.assertOAuthError(r, 401, "invalid_client")
        r = self._post("/revoke", {}, self.a)
        self.assertOAuthError(r, 400, "invalid_request")
        self.assertTrue(self.introspect(tok).json()["active"])

    def test_metadata_lists_both_endpoints(self):
        md = self.s.get_json("/.well-known/oauth-authorization-server")
        self.assertEqual(md["revocation_endpoint"], self.s.issuer + "/revoke")
        self.assertEqual(md["introspection_endpoint"],
                         self.s.issuer + "/introspect")
        self.assertEqual(md["introspection_endpoint_auth_methods_supported"],
                         ["client_secret_basic", "client_secret_post",
                          "private_key_jwt"])


class IntrospectFlagTest(LatchkeyTestCase):
    """RFC 7662 section 4: introspection SHOULD be limited to authorized
    resource servers. The client flag `introspect` (CLI and fixtures) and
    the setting introspection_requires_flag (off by default, issue 12)."""

    def setUp(self):
        super().setUp()
        svc = add_client(self.db, "svc", "--scope", "read")
        rs = add_client(self.db, "rs", "--introspect")
        other = add_client(self.db, "other", "--no-introspect")
        self.svc = (svc["client_id"], svc["client_secret"])
        self.rs = (rs["client_id"], rs["client_secret"])
        self.other = (other["client_id"], other["client_secret"])
        self.assertTrue(rs["introspect"])
        self.assertFalse(other["introspect"])
        self.assertFalse(svc["introspect"])

    def post(self, s, tok, auth):
        return s.request("POST", "/introspect",
                         body=urllib.parse.urlencode({"token": tok}),
                         headers={"Content-Type":
                                  "application/x-www-form-urlencoded",
                                  "Authorization": basic(*auth)})

    def tok(self, s):
        r = s.token({"grant_type": "client_credentials"}, auth=self.svc)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["access_token"]

    def test_off_by_default(self):
        s = self.start()
        tok = self.tok(s)
        for auth in (self.rs, self.other, self.svc):
            r = self.post(s, tok, auth)
            self.assertEqual(r.status, 200, r.body)
            self.assertTrue(r.json()["active"])

    def test_required_flag(self):
        s = self.start("--introspection-requires-flag")
        tok = self.tok(s)
        r = self.post(s, tok, self.rs)
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.json()["active"])
        for auth in (self.other, self.svc):
            r = self.post(s, tok, auth)
            self.assertOAuthError(r, 403, "unauthorized_client")
            self.assertEqual(r.headers["cache-control"], "no-store")
            self.assertNotIn("www-authenticate", r.headers)
            self.assertNotIn("active", r.json())
        # Wrong credentials are still 401 first, flag or not.
        r = self.post(s, tok, (self.rs[0], "wrong"))
        self.assertOAuthError(r, 401, "invalid_client")
        # Revocation is not introspection: no flag needed.
        r = s.request("POST", "/revoke",
                      body=urllib.parse.urlencode({"token": tok}),
                      headers={"Content-Type":
                               "application/x-www-form-urlencoded",
                               "Authorization": basic(*self.svc)})
        self.assertEqual(r.status, 200, r.body)

    def test_update_turns_it_on_and_off(self):
        cli(self.db, "client", "update", self.other[0], "--introspect")
        cli(self.db, "client", "update", self.rs[0], "--no-introspect")
        s = self.start("--introspection-requires-flag", "true")
        tok = self.tok(s)
        self.assertEqual(self.post(s, tok, self.other).status, 200)
        self.assertOAuthError(self.post(s, tok, self.rs), 403,
                              "unauthorized_client")

    def test_fixtures_key(self):
        self.write_fixtures({"clients": [
            {"client_id": "svc", "client_secret": "svc-secret-long-enough"},
            {"client_id": "rs", "client_secret": "rs-secret-long-enough",
             "introspect": True},
            {"client_id": "no", "client_secret": "no-secret-long-enough",
             "introspect": False},
        ]})
        s = self.start_double("--introspection-requires-flag")
        r = s.token({"grant_type": "client_credentials"},
                    auth=("svc", "svc-secret-long-enough"))
        tok = r.json()["access_token"]
        r = self.post(s, tok, ("rs", "rs-secret-long-enough"))
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.json()["active"])
        for auth in (("no", "no-secret-long-enough"),
                     ("svc", "svc-secret-long-enough")):
            self.assertOAuthError(self.post(s, tok, auth), 403,
                                  "unauthorized_client")
