"""OpenID Connect ID tokens and the OpenID parameters of /authorize
(issue 15 section 2; OpenID Connect Core 1.0 sections 2, 3.1.2.1,
3.1.2.6, 3.1.3.6 and 12.2) against the real latchkeyd.

Every ID token is checked the way a relying party would, with Debian's
python3-jwt against the keys the server publishes at /jwks.json (the
signature, iss, aud, exp), and the rest is computed here independently:
at_hash from the access token with hashlib, auth_time against the clock
around the login, exp - iat against id_token_ttl.

Most classes run with --signing-alg RS256, where the ID tokens' default
algorithm is also the access tokens'; DefaultAlgorithmTest checks the
server's defaults (access tokens ES256, ID tokens RS256, one current key
of each algorithm)."""
import base64
import hashlib
import json
import time
import urllib.parse

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

import test_authorize as ta
from lk_harness import add_client, cli

CB = ta.CB
ID_TOKEN_TTL = 600


def at_hash(access_token):
    """Core 3.1.3.6: base64url of the left half of SHA-256 of the ASCII."""
    d = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(d[:16]).rstrip(b"=").decode()


class OidcBase(ta.AuthorizeBase):
    """AuthorizeBase's clients and users, with openid (and profile) among
    the scopes of web and conf."""

    SERVER_ARGS = ("--signing-alg", "RS256",
                   "--id-token-ttl", str(ID_TOKEN_TTL))

    def setUp(self):
        super().setUp()
        cli(self.db, "client", "update", "web", "--scope",
            "openid profile read write")
        cli(self.db, "client", "update", "conf", "--scope", "openid read")
        users = json.loads(cli(self.db, "user", "list", "--json").stdout)
        self.uid = {u["username"]: u["user_id"] for u in users}

    def id_token(self, tok, client="web", alg="RS256"):
        """Verifies an ID token against /jwks.json; returns its claims."""
        h = jwt.get_unverified_header(tok)
        self.assertEqual((h["alg"], h["typ"]), (alg, "JWT"), h)
        keys = self.s.get_json("/jwks.json")["keys"]
        jwk = [k for k in keys if k["kid"] == h["kid"]]
        self.assertEqual(len(jwk), 1, keys)
        key = jwt.PyJWK(jwk[0], algorithm=alg).key
        c = jwt.decode(tok, key, algorithms=[alg], audience=client,
                       issuer=self.s.issuer,
                       options={"require": ["iss", "sub", "aud", "exp",
                                            "iat"]})
        self.assertIsInstance(c["aud"], str)  # exactly the client
        self.assertNotIn("azp", c)
        self.assertEqual(c["exp"] - c["iat"], ID_TOKEN_TTL)
        self.assertLessEqual(abs(c["iat"] - time.time()), 5)
        return c

    def openid_flow(self, user="dave", **params):
        """A code flow with openid through the forms; the token response."""
        params.setdefault("scope", "openid read")
        t0 = int(time.time())
        code = self.login_and_consent(user, **params)
        t1 = int(time.time())
        r = self.exchange(code)
        self.assertEqual(r.status, 200, r.body)
        t = r.json()
        self.assertIn("id_token", t)
        self.login_window = (t0, t1)
        return t

    def redirect_query(self, r):
        """The query of a redirect to CB (GET: 302)."""
        return self.redirected(r, 302)


class CodeFlowTest(OidcBase):
    def test_id_token_claims(self):
        t = self.openid_flow(scope="openid profile read",
                             nonce="n-0S6_WzA2Mj")
        c = self.id_token(t["id_token"])
        self.assertEqual(c["sub"], self.uid["dave"])
        self.assertEqual(c["aud"], "web")
        self.assertEqual(c["nonce"], "n-0S6_WzA2Mj")  # through both forms
        self.assertEqual(c["at_hash"], at_hash(t["access_token"]))
        t0, t1 = self.login_window
        self.assertTrue(t0 <= c["auth_time"] <= t1, (c, t0, t1))
        self.assertEqual(c["amr"], ["pwd"])
        self.assertIsInstance(c["sid"], str)
        self.assertGreaterEqual(len(c["sid"]), 16)
        # profile releases the username (claims.c).
        self.assertEqual(c["preferred_username"], "dave")
        self.assertEqual(t["scope"], "openid profile read")

    def test_nonce_is_echoed_exactly_and_only_when_sent(self):
        nonce = "a b+c/d=é%20&x"
        c = self.id_token(self.openid_flow(nonce=nonce)["id_token"])
        self.assertEqual(c["nonce"], nonce)
        # The session and consent are remembered: GET straight to a code.
        q = self.redirect_query(self.get(**self.params(scope="openid read")))
        c = self.id_token(self.exchange(q["code"]).json()["id_token"])
        self.assertNotIn("nonce", c)
        self.assertNotIn("profile", c)
        self.assertNotIn("preferred_username", c)  # no profile scope

    def test_same_session_same_sid(self):
        c1 = self.id_token(self.openid_flow()["id_token"])
        q = self.redirect_query(self.get(**self.params(scope="openid read")))
        c2 = self.id_token(self.exchange(q["code"]).json()["id_token"])
        self.assertEqual((c1["sid"], c1["auth_time"]),
                         (c2["sid"], c2["auth_time"]))
        # Another browser's login is another session.
        self.browser = requests.Session()
        r = self.submit(self.get(**self.params(scope="openid read")),
                        "login", username="dave", password="dave-password-1")
        q = self.redirected(r)  # consent is remembered
        c3 = self.id_token(self.exchange(q["code"]).json()["id_token"])
        self.assertNotEqual(c3["sid"], c1["sid"])

    def test_without_openid_no_id_token(self):
        r = self.exchange(self.login_and_consent(scope="read write"))
        self.assertEqual(r.status, 200, r.body)
        self.assertNotIn("id_token", r.json())

    def test_openid_must_be_an_allowed_scope(self):
        cli(self.db, "client", "update", "web", "--scope", "read")
        q = self.redirect_query(self.get(**self.params(scope="openid read")))
        self.assertEqual((q["error"], q["state"]), ("invalid_scope", "st-1"))

    def test_confidential_client(self):
        code = self.login_and_consent(client_id="conf", scope="openid read",
                                      nonce="xyz")
        r = self.exchange(code, client="conf")
        self.assertEqual(r.status, 200, r.body)
        c = self.id_token(r.json()["id_token"], client="conf")
        self.assertEqual((c["aud"], c["nonce"]), ("conf", "xyz"))

    def test_openid_dropped_from_the_client_before_the_exchange(self):
        code = self.login_and_consent(scope="openid read")
        cli(self.db, "client", "update", "web", "--scope", "read")
        r = self.exchange(code)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["scope"], "read")
        self.assertNotIn("id_token", r.json())


class RefreshTest(OidcBase):
    def test_refresh_repeats_the_login(self):
        t = self.openid_flow(nonce="n1")
        c = self.id_token(t["id_token"])
        time.sleep(1.1)
        r = self.s.token({"grant_type": "refresh_token", "client_id": "web",
                          "refresh_token": t["refresh_token"]})
        self.assertEqual(r.status, 200, r.body)
        t2 = r.json()
        c2 = self.id_token(t2["id_token"])
        for k in ("sub", "aud", "auth_time", "sid", "amr"):
            self.assertEqual(c2[k], c[k], k)
        self.assertNotIn("nonce", c2)  # Core 12.2
        self.assertGreater(c2["iat"], c["iat"])
        self.assertEqual(c2["at_hash"], at_hash(t2["access_token"]))
        # And again, from the rotated token: the family keeps the login.
        r = self.s.token({"grant_type": "refresh_token", "client_id": "web",
                          "refresh_token": t2["refresh_token"]})
        c3 = self.id_token(r.json()["id_token"])
        self.assertEqual((c3["sid"], c3["auth_time"]),
                         (c["sid"], c["auth_time"]))

    def test_narrowed_refresh_has_an_id_token_only_with_openid(self):
        """A refresh that narrows the scope gets an ID token when openid
        stays in what it is granted, and none when the client narrowed
        openid away (as the code grant decides, from the granted scope)."""
        t = self.openid_flow(scope="openid read write")
        r = self.s.token({"grant_type": "refresh_token", "client_id": "web",
                          "refresh_token": t["refresh_token"],
                          "scope": "openid read"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["scope"], "openid read")
        self.id_token(r.json()["id_token"])
        r = self.s.token({"grant_type": "refresh_token", "client_id": "web",
                          "refresh_token": r.json()["refresh_token"],
                          "scope": "read"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["scope"], "read")
        self.assertNotIn("id_token", r.json())

    def test_family_without_openid_gets_none(self):
        r = self.exchange(self.login_and_consent(scope="read"))
        r = self.s.token({"grant_type": "refresh_token", "client_id": "web",
                          "refresh_token": r.json()["refresh_token"]})
        self.assertEqual(r.status, 200, r.body)
        self.assertNotIn("id_token", r.json())

    def test_openid_taken_from_the_client(self):
        t = self.openid_flow()
        cli(self.db, "client", "update", "web", "--scope", "read")
        r = self.s.token({"grant_type": "refresh_token", "client_id": "web",
                          "refresh_token": t["refresh_token"]})
        self.assertEqual(r.status, 200, r.body)
        self.assertNotIn("id_token", r.json())


class OtherGrantsTest(OidcBase):
    def test_password_grant(self):
        pw = add_client(self.db, "pw", "--id", "pw", "--grant", "password",
                        "--grant", "refresh_token", "--scope", "openid read")
        auth = ("pw", pw["client_secret"])
        t0 = int(time.time())
        r = self.s.token({"grant_type": "password", "username": "erin",
                          "password": "erin-password-1",
                          "scope": "openid read"}, auth=auth)
        t1 = int(time.time())
        self.assertEqual(r.status, 200, r.body)
        t = r.json()
        c = self.id_token(t["id_token"], client="pw")
        self.assertEqual(c["sub"], self.uid["erin"])
        self.assertTrue(t0 <= c["auth_time"] <= t1)
        self.assertEqual(c["amr"], ["pwd"])
        self.assertNotIn("sid", c)  # no browser session
        self.assertNotIn("nonce", c)
        self.assertEqual(c["at_hash"], at_hash(t["access_token"]))
        r = self.s.token({"grant_type": "refresh_token",
                          "refresh_token": t["refresh_token"]}, auth=auth)
        c2 = self.id_token(r.json()["id_token"], client="pw")
        self.assertEqual((c2["auth_time"], c2["amr"]), (c["auth_time"], ["pwd"]))
        # Without openid: none.
        r = self.s.token({"grant_type": "password", "username": "erin",
                          "password": "erin-password-1", "scope": "read"},
                         auth=auth)
        self.assertNotIn("id_token", r.json())

    def test_client_credentials_never(self):
        svc = add_client(self.db, "svc", "--id", "svc", "--scope",
                         "openid read")
        r = self.s.token({"grant_type": "client_credentials",
                          "scope": "openid read"},
                         auth=("svc", svc["client_secret"]))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["scope"], "openid read")
        self.assertNotIn("id_token", r.json())


class PromptTest(OidcBase):
    def openid(self, **extra):
        return self.params(scope="openid read", **extra)

    def test_prompt_none(self):
        q = self.redirect_query(self.get(**self.openid(prompt="none")))
        self.assertEqual((q["error"], q["state"]), ("login_required", "st-1"))
        self.assertNotIn("code", q)
        self.openid_flow()
        q = self.redirect_query(self.get(**self.openid(prompt="none")))
        c = self.id_token(self.exchange(q["code"]).json()["id_token"])
        self.assertEqual(c["sub"], self.uid["dave"])
        q = self.redirect_query(self.get(**self.params(
            prompt="none", scope="openid read write")))
        self.assertEqual((q["error"], q["state"]),
                         ("consent_required", "st-1"))
        for bad in ("none login", "login none", "none consent",
                    "none select_account", "sideways", "login sideways"):
            q = self.redirect_query(self.get(**self.openid(prompt=bad)))
            self.assertEqual((q["error"], q["state"]),
                             ("invalid_request", "st-1"), bad)

    def test_prompt_login_asks_again_and_a_new_login_counts(self):
        c1 = self.id_token(self.openid_flow()["id_token"])
        time.sleep(1.1)
        r = self.get(**self.openid(prompt="login", nonce="n2"))
        self.assertPage(r, 200, "Sign in")
        r = self.submit(r, "login", username="dave",
                        password="dave-password-1")
        q = self.redirected(r)  # consent remembered
        c2 = self.id_token(self.exchange(q["code"]).json()["id_token"])
        self.assertGreater(c2["auth_time"], c1["auth_time"])
        self.assertNotEqual(c2["sid"], c1["sid"])  # a new session
        self.assertEqual(c2["nonce"], "n2")

    def test_prompt_values_together(self):
        self.openid_flow()
        r = self.get(**self.openid(prompt="login consent"))
        self.assertPage(r, 200, "Sign in")
        r = self.submit(r, "login", username="dave",
                        password="dave-password-1")
        self.assertPage(r, 200, "Allow access?")  # consent asked again
        self.redirected(self.submit(r, "allow"))

    def test_prompt_consent(self):
        self.openid_flow()
        r = self.get(**self.openid(prompt="consent"))
        self.assertPage(r, 200, "Allow access?")
        q = self.redirected(self.submit(r, "allow"))
        self.assertEqual(self.exchange(q["code"]).status, 200)

    def test_prompt_select_account_shows_the_login_page(self):
        self.openid_flow()
        r = self.get(**self.openid(prompt="select_account"))
        self.assertPage(r, 200, "Sign in")
        # Another account may sign in there.
        r = self.submit(r, "login", username="erin",
                        password="erin-password-1")
        self.assertPage(r, 200, "Allow access?")
        q = self.redirected(self.submit(r, "allow"))
        c = self.id_token(self.exchange(q["code"]).json()["id_token"])
        self.assertEqual(c["sub"], self.uid["erin"])


class MaxAgeTest(OidcBase):
    def openid(self, **extra):
        return self.params(scope="openid read", **extra)

    def test_max_age(self):
        c1 = self.id_token(self.openid_flow()["id_token"])
        # Young enough: no login, and auth_time says when it was.
        q = self.redirect_query(self.get(**self.openid(max_age="3600")))
        c = self.id_token(self.exchange(q["code"]).json()["id_token"])
        self.assertEqual(c["auth_time"], c1["auth_time"])
        # 0: always a new login; with prompt=none, login_required.
        self.assertPage(self.get(**self.openid(max_age="0")), 200, "Sign in")
        q = self.redirect_query(self.get(**self.openid(max_age="0",
                                                       prompt="none")))
        self.assertEqual((q["error"], q["state"]), ("login_required", "st-1"))
        time.sleep(2.1)
        self.assertPage(self.get(**self.openid(max_age="1")), 200, "Sign in")
        q = self.redirect_query(self.get(**self.openid(max_age="1",
                                                       prompt="none")))
        self.assertEqual(q["error"], "login_required")
        # The login the page asks for satisfies it.
        r = self.submit(self.get(**self.openid(max_age="1")), "login",
                        username="dave", password="dave-password-1")
        q = self.redirected(r)
        c = self.id_token(self.exchange(q["code"]).json()["id_token"])
        self.assertGreater(c["auth_time"], c1["auth_time"])
        self.assertLessEqual(time.time() - c["auth_time"], 5)

    def test_bad_max_age(self):
        for bad in ("-1", "abc", "1.5", " 1", "99999999999"):
            q = self.redirect_query(self.get(**self.openid(max_age=bad)))
            self.assertEqual((q["error"], q["state"]),
                             ("invalid_request", "st-1"), bad)


class HintTest(OidcBase):
    def openid(self, **extra):
        return self.params(scope="openid read", **extra)

    def test_id_token_hint(self):
        dave = self.openid_flow()["id_token"]
        # The hint names the signed-in user: silent login works.
        q = self.redirect_query(self.get(**self.openid(prompt="none",
                                                       id_token_hint=dave)))
        self.assertIn("code", q)
        # erin signs in (another browser); dave's hint does not fit.
        self.browser = requests.Session()
        self.openid_flow(user="erin")
        q = self.redirect_query(self.get(**self.openid(prompt="none",
                                                       id_token_hint=dave)))
        self.assertEqual((q["error"], q["state"]), ("login_required", "st-1"))
        # Without prompt=none: a fresh login.
        r = self.get(**self.openid(id_token_hint=dave))
        self.assertPage(r, 200, "Sign in")
        r = self.submit(r, "login", username="dave",
                        password="dave-password-1")
        q = self.redirected(r)  # dave's consent is remembered
        c = self.id_token(self.exchange(q["code"]).json()["id_token"])
        self.assertEqual(c["sub"], self.uid["dave"])

    def test_invalid_hint(self):
        t = self.openid_flow()
        forged_key = rsa.generate_private_key(public_exponent=65537,
                                              key_size=2048)
        claims = jwt.decode(t["id_token"], options={"verify_signature": False})
        kid = jwt.get_unverified_header(t["id_token"])["kid"]
        forged = jwt.encode(claims, forged_key, algorithm="RS256",
                            headers={"kid": kid, "typ": "JWT"})
        for bad in ("abc", t["access_token"], forged,
                    t["id_token"][:-4] + "AAAA"):
            q = self.redirect_query(self.get(**self.openid(id_token_hint=bad)))
            self.assertEqual((q["error"], q["state"]),
                             ("invalid_request", "st-1"))

    def test_login_hint_prefills(self):
        r = self.get(**self.openid(login_hint="erin"))
        self.assertPage(r, 200, "Sign in")
        self.assertIn('value="erin"', r.text)


class RequestParametersTest(OidcBase):
    def test_request_objects_are_not_supported(self):
        for name, err in (("request", "request_not_supported"),
                          ("request_uri", "request_uri_not_supported")):
            for scope in ("openid read", "read"):
                q = self.redirect_query(self.get(**self.params(
                    scope=scope, **{name: "eyJhbGciOiJub25lIn0.e30."})))
                self.assertEqual((q["error"], q["state"]), (err, "st-1"))
                self.assertIn("error_description", q)

    def test_ignored_parameters_are_accepted(self):
        t = self.openid_flow(display="popup", ui_locales="fr-CA en",
                             acr_values="urn:mace:incommon:iap:silver",
                             claims_locales="de")
        c = self.id_token(t["id_token"])
        self.assertNotIn("acr", c)


class RequireNonceTest(OidcBase):
    def test_require_nonce(self):
        out = json.loads(cli(self.db, "client", "update", "web",
                             "--require-nonce", "--json").stdout)
        self.assertIs(out["require_nonce"], True)
        self.openid_flow(nonce="n-1")
        q = self.redirect_query(self.get(**self.params(scope="openid read")))
        self.assertEqual((q["error"], q["state"]), ("invalid_request", "st-1"))
        q = self.redirect_query(self.get(**self.params(scope="openid read",
                                                       nonce="")))
        self.assertEqual(q["error"], "invalid_request")
        # Without openid, a nonce is not asked for.
        q = self.redirect_query(self.get(**self.params(scope="read")))
        self.assertIn("code", q)
        out = json.loads(cli(self.db, "client", "update", "web",
                             "--no-require-nonce", "--json").stdout)
        self.assertIs(out["require_nonce"], False)
        q = self.redirect_query(self.get(**self.params(scope="openid read")))
        self.assertIn("code", q)

    def test_cli(self):
        out = json.loads(cli(self.db, "client", "show", "web",
                             "--json").stdout)
        self.assertEqual((out["id_token_signed_response_alg"],
                          out["require_nonce"]), ("RS256", False))
        p = cli(self.db, "client", "update", "web", "--require-nonce",
                "--no-require-nonce", check=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("exclude each other", p.stderr)
        p = cli(self.db, "client", "update", "web",
                "--id-token-signed-response-alg", "HS256", check=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("RS256 or ES256", p.stderr)
        cli(self.db, "client", "update", "web",
            "--id-token-signed-response-alg", "ES256")
        text = cli(self.db, "client", "show", "web").stdout
        self.assertRegex(text, r"id_token_signed_response_alg\s+ES256")
        self.assertRegex(text, r"require_nonce\s+no")
        rows = json.loads(cli(self.db, "client", "list", "--json").stdout)
        web = [c for c in rows if c["client_id"] == "web"][0]
        self.assertEqual(web["id_token_signed_response_alg"], "ES256")


class DefaultAlgorithmTest(OidcBase):
    """The server's defaults: access tokens ES256, ID tokens RS256 unless
    the client says ES256. Needs a current key of each algorithm."""

    SERVER_ARGS = ("--id-token-ttl", str(ID_TOKEN_TTL))

    def test_id_tokens_rs256_access_tokens_es256(self):
        t = self.openid_flow()
        self.assertEqual(jwt.get_unverified_header(t["access_token"])["alg"],
                         "ES256")
        c = self.id_token(t["id_token"], alg="RS256")
        self.assertEqual(c["at_hash"], at_hash(t["access_token"]))

    def test_client_chooses_es256(self):
        cli(self.db, "client", "update", "web",
            "--id-token-signed-response-alg", "ES256")
        t = self.openid_flow()
        c = self.id_token(t["id_token"], alg="ES256")
        self.assertEqual(c["at_hash"], at_hash(t["access_token"]))


class FixturesTest(ta.AuthorizeBase):
    """The test double's fixture keys for the client options."""

    def setUp(self):
        super(ta.AuthorizeBase, self).setUp()

    def test_fixture_keys(self):
        self.write_fixtures({
            "users": [{"username": "dave", "password": "dave-password-1"}],
            "clients": [{"client_id": "web", "public": True,
                         "grants": ["authorization_code"],
                         "scopes": ["openid"], "redirect_uris": [CB],
                         "id_token_signed_response_alg": "ES256",
                         "require_nonce": True,
                         "auto_approve_as": "dave"}]})
        self.s = self.start_double()
        self.base = "http://127.0.0.1:%d" % self.s.port
        self.browser = requests.Session()
        q = self.redirected(self.get(**self.params(scope="openid")), 302)
        self.assertEqual(q["error"], "invalid_request")  # no nonce
        q = self.redirected(self.get(**self.params(scope="openid",
                                                   nonce="n")), 302)
        r = self.exchange(q["code"])
        self.assertEqual(r.status, 200, r.body)
        tok = r.json()["id_token"]
        self.assertEqual(jwt.get_unverified_header(tok)["alg"], "ES256")
        c = jwt.decode(tok, options={"verify_signature": False})
        self.assertEqual(c["nonce"], "n")
        self.assertIn("auth_time", c)  # the auto approval is the login
