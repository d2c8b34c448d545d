"""OpenID Connect RP-Initiated Logout 1.0 at /logout (end_session_path),
and the login sessions it ends, against the real latchkeyd on both
backends: a valid id_token_hint signs out at once (the session row and
the lk_session cookie gone, the next /authorize asks for a login), a
registered post_logout_redirect_uri gets the browser back with state,
anything else is an error page and never a redirect; without a hint a
CSRF-guarded confirmation page asks; a client's
logout_revokes_refresh_tokens revokes the session's refresh tokens.
`latchkey session list|revoke` and the client options are here too.

Until the ID-token work issues ID tokens, the hints are signed here with
the server's own current key read from its signing_keys table (typ JWT,
iss the issuer), and the tests that refuse a hint sign one with another
key, another issuer or for another client."""
import json
import time
import urllib.parse

import jwt
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import \
    decode_dss_signature

import lk_db
from lk_harness import LatchkeyTestCase, cli
from test_authorize import CB, PAGE_HEADERS, AuthorizeBase, Form

BYE = "https://app.example/bye"
LOOP = "http://127.0.0.1/loop-bye"


# The order of P-256; the server takes only the low-s form of an ECDSA
# signature (one token, one text), as its own signer makes.
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def es256_jws(claims, pem, header):
    """A compact ES256 JWS (RFC 7515) of claims with header, signed with
    the PEM private key, s in its low form."""
    b64 = lambda b: jwt.utils.base64url_encode(b).decode()
    signing_input = (b64(json.dumps(header).encode()) + "." +
                     b64(json.dumps(claims).encode()))
    key = serialization.load_pem_private_key(
        pem.encode() if isinstance(pem, str) else pem, password=None)
    r, s = decode_dss_signature(key.sign(signing_input.encode(),
                                         ec.ECDSA(hashes.SHA256())))
    s = min(s, P256_N - s)
    return (signing_input + "." +
            b64(r.to_bytes(32, "big") + s.to_bytes(32, "big")))


def user_id(db, name):
    users = json.loads(cli(db, "user", "list", "--json").stdout)
    return [u["user_id"] for u in users if u["username"] == name][0]


class LogoutBase(AuthorizeBase):
    def setUp(self):
        super().setUp()
        cli(self.db, "client", "update", "web", "--post-logout-redirect-uri",
            BYE, "--post-logout-redirect-uri", LOOP)
        cli(self.db, "client", "update", "conf", "--post-logout-redirect-uri",
            "https://app.example/conf-bye", "--logout-revokes-refresh-tokens")

    # -- sessions and hints --------------------------------------------

    def sessions(self, user=None):
        sql = "SELECT sid, user_id FROM sessions"
        rows = lk_db.db_query(self.db, sql)
        if user is not None:
            uid = user_id(self.db, user)
            rows = [r for r in rows if r[1] == uid]
        return [r[0] for r in rows]

    def sign_in(self, user="dave", client="web"):
        """A browser signed in as user (or, already signed in, allowing
        another client); returns the token response of the code it got
        for client."""
        if "lk_session" in self.browser.cookies:
            p = self.params(client_id=client)
            r = self.get(**p)
            self.assertPage(r, 200, "Allow access?")
            code = self.redirected(self.submit(r, "allow"))["code"]
        else:
            code = self.login_and_consent(user, client_id=client)
        r = self.exchange(code, client=client)
        self.assertEqual(r.status, 200, r.body)
        self.assertIn("lk_session", self.browser.cookies)
        return r.json()

    def key(self):
        [(kid, alg, pem)] = lk_db.db_query(
            self.db, "SELECT kid, alg, private_pem FROM signing_keys "
            "WHERE retired_at IS NULL AND alg = 'ES256'")
        return kid, alg, pem

    def hint(self, user="dave", aud="web", sid="session", iss=None,
             exp=None, key=None, typ="JWT", azp=None):
        """An ID token of ours (or, with key, iss, typ, not quite)."""
        kid, alg, pem = self.key()
        if sid == "session":
            [sid] = self.sessions(user)
        now = int(time.time())
        claims = {"iss": iss or self.s.issuer, "sub": user_id(self.db, user),
                  "aud": aud, "iat": now, "auth_time": now,
                  "exp": exp if exp is not None else now + 600}
        if sid is not None:
            claims["sid"] = sid
        if azp is not None:
            claims["azp"] = azp
        return es256_jws(claims, key or pem, {"alg": alg, "kid": kid,
                                              "typ": typ})

    # -- requests ------------------------------------------------------

    def logout(self, method="GET", browser=None, **params):
        b = browser or self.browser
        url = self.base + "/logout"
        if method == "GET":
            return b.get(url + "?" + urllib.parse.urlencode(params),
                         allow_redirects=False)
        return b.post(url, data=params, allow_redirects=False)

    def confirm(self, page, **override):
        form = Form(page.text)
        self.assertEqual(form.action, "/logout")
        self.assertIn(("action", "logout"), form.buttons)
        data = dict(form.fields, action="logout")
        data.update(override)
        return self.browser.post(self.base + form.action, data=data,
                                 allow_redirects=False)

    def assertSignedOutCookie(self, r):
        self.assertRegex(r.headers.get("set-cookie", ""),
                         r"(^|, )lk_session=; Path=/; Max-Age=0; HttpOnly; "
                         r"SameSite=Lax")
        self.assertNotIn("lk_session", self.browser.cookies)

    def assertLoginAsked(self):
        r = self.get(**self.params())
        self.assertPage(r, 200, "Sign in")

    def assertErrorPage(self, r):
        self.assertPage(r, 400, "Cannot continue")


class HintTest(LogoutBase):
    def test_valid_hint_signs_out_at_once_and_goes_back_with_state(self):
        self.sign_in()
        [sid] = self.sessions("dave")
        r = self.logout(id_token_hint=self.hint(), state="s t&1",
                        post_logout_redirect_uri=BYE)
        self.assertEqual(r.status_code, 302, r.text)
        self.assertEqual(r.headers["location"], BYE + "?state=s%20t%261")
        for k, v in PAGE_HEADERS.items():
            self.assertEqual(r.headers[k], v)
        self.assertSignedOutCookie(r)
        self.assertNotIn(sid, self.sessions())
        self.assertLoginAsked()

    def test_valid_hint_without_a_uri_says_signed_out(self):
        self.sign_in()
        r = self.logout(id_token_hint=self.hint(), client_id="web")
        self.assertPage(r, 200, "Signed out")
        self.assertIn("Web App", r.text)
        self.assertSignedOutCookie(r)
        self.assertEqual(self.sessions("dave"), [])

    def test_rs256_hint(self):
        """ID tokens are RS256 by default: a hint signed with the
        current RS256 key works the same."""
        self.sign_in()
        [sid] = self.sessions("dave")
        [(kid, pem)] = lk_db.db_query(
            self.db, "SELECT kid, private_pem FROM signing_keys "
            "WHERE retired_at IS NULL AND alg = 'RS256'")
        now = int(time.time())
        h = jwt.encode({"iss": self.s.issuer, "sub": user_id(self.db, "dave"),
                        "aud": "web", "iat": now, "exp": now + 60,
                        "sid": sid}, pem, algorithm="RS256",
                       headers={"kid": kid, "typ": "JWT"})
        r = self.logout(id_token_hint=h, post_logout_redirect_uri=BYE)
        self.assertEqual(r.status_code, 302, r.text)
        self.assertEqual(self.sessions(), [])

    def test_hint_posted_by_the_client(self):
        self.sign_in()
        r = self.logout("POST", id_token_hint=self.hint(),
                        post_logout_redirect_uri=BYE, state="x")
        self.assertEqual(r.status_code, 303, r.text)
        self.assertEqual(r.headers["location"], BYE + "?state=x")
        self.assertEqual(self.sessions("dave"), [])

    def test_expired_hint_still_names_the_session(self):
        self.sign_in()
        r = self.logout(id_token_hint=self.hint(exp=int(time.time()) - 7200))
        self.assertPage(r, 200, "Signed out")
        self.assertEqual(self.sessions("dave"), [])

    def test_hint_ends_its_session_even_from_another_browser(self):
        """The RP holds the ID token; the session it names ends, wherever
        the browser is. Another user's session in the calling browser is
        left alone."""
        self.sign_in("dave")
        [dave_sid] = self.sessions("dave")
        dave_hint = self.hint("dave")
        self.browser = requests.Session()
        self.sign_in("erin")
        r = self.logout(id_token_hint=dave_hint)
        self.assertPage(r, 200, "Signed out")
        self.assertEqual(self.sessions("dave"), [])
        self.assertEqual(len(self.sessions("erin")), 1)
        self.assertNotIn(dave_sid, self.sessions())

    def test_hints_that_are_not_ours_are_refused(self):
        self.sign_in()
        [sid] = self.sessions("dave")
        other_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        good = self.hint()
        head, body, sig = good.split(".")
        tampered = head + "." + jwt.utils.base64url_encode(
            json.dumps({**jwt.decode(good, options={
                "verify_signature": False}), "sub": user_id(self.db, "erin")
            }).encode()).decode() + "." + sig
        for name, h in (("another key", self.hint(key=other_key)),
                        ("another issuer", self.hint(iss="https://evil.test")),
                        ("an access token's typ", self.hint(typ="at+jwt")),
                        ("a changed payload", tampered),
                        ("not a JWT", "abc.def"),
                        ("unsigned", jwt.encode({"sub": "x"}, None,
                                                algorithm="none"))):
            with self.subTest(name):
                r = self.logout(id_token_hint=h,
                                post_logout_redirect_uri=BYE)
                self.assertErrorPage(r)
                self.assertIn("not an ID token of this server", r.text)
                self.assertEqual(self.sessions(), [sid])
        self.assertIn("lk_session", self.browser.cookies)

    def test_hint_for_another_client_than_client_id(self):
        self.sign_in()
        for h in (self.hint(aud="conf"), self.hint(aud="web", azp="conf")):
            r = self.logout(id_token_hint=h, client_id="web",
                            post_logout_redirect_uri=BYE)
            self.assertErrorPage(r)
            self.assertIn("another application", r.text)
        # The hint's own client: its URIs, not web's.
        r = self.logout(id_token_hint=self.hint(aud="conf"),
                        post_logout_redirect_uri=BYE)
        self.assertErrorPage(r)
        self.assertEqual(len(self.sessions("dave")), 1)
        r = self.logout(id_token_hint=self.hint(aud="conf"),
                        post_logout_redirect_uri="https://app.example/"
                                                 "conf-bye")
        self.assertEqual(r.status_code, 302)
        self.assertEqual(self.sessions("dave"), [])


class RedirectUriTest(LogoutBase):
    def test_only_registered_uris(self):
        self.sign_in()
        [sid] = self.sessions("dave")
        for uri in ("https://evil.example/bye", BYE + "/", BYE + "?x=1",
                    CB, "https://app.example/conf-bye",
                    "http://localhost:5555/loop-bye", "javascript:alert(1)"):
            with self.subTest(uri=uri):
                r = self.logout(id_token_hint=self.hint(),
                                post_logout_redirect_uri=uri)
                self.assertErrorPage(r)
                self.assertNotIn("location", r.headers)
                self.assertEqual(self.sessions(), [sid])
        r = self.logout(client_id="web", post_logout_redirect_uri=BYE + "x")
        self.assertErrorPage(r)
        self.assertIn("not registered", r.text)

    def test_a_uri_needs_a_client(self):
        r = self.logout(post_logout_redirect_uri=BYE)
        self.assertErrorPage(r)
        self.assertIn("names no application", r.text)
        r = self.logout(client_id="nobody", post_logout_redirect_uri=BYE)
        self.assertErrorPage(r)

    def test_loopback_port_is_free_as_for_redirect_uris(self):
        self.sign_in()
        uri = "http://127.0.0.1:5555/loop-bye"
        r = self.logout(id_token_hint=self.hint(), state="p",
                        post_logout_redirect_uri=uri)
        self.assertEqual(r.status_code, 302, r.text)
        self.assertEqual(r.headers["location"], uri + "?state=p")

    def test_bad_input(self):
        for q in ("state=a&state=b", "client_id=web&client_id=web",
                  "client_id=%zz"):
            with self.subTest(q=q):
                r = self.browser.get(self.base + "/logout?" + q,
                                     allow_redirects=False)
                self.assertErrorPage(r)
        r = self.browser.post(self.base + "/logout", data="{}",
                              headers={"Content-Type": "application/json"})
        self.assertErrorPage(r)
        self.assertEqual(self.s.request("HEAD", "/logout").status, 405)
        self.assertEqual(self.s.request("PUT", "/logout").status, 405)


class ConfirmTest(LogoutBase):
    def test_without_a_hint_the_person_is_asked(self):
        self.sign_in()
        [sid] = self.sessions("dave")
        r = self.logout(client_id="web", post_logout_redirect_uri=BYE,
                        state="st")
        self.assertPage(r, 200, "Sign out?")
        self.assertIn("Web App", r.text)
        self.assertEqual(self.sessions(), [sid])  # nothing happened yet
        form = Form(r.text)
        self.assertEqual({k: form.fields[k] for k in
                          ("client_id", "post_logout_redirect_uri", "state")},
                         {"client_id": "web",
                          "post_logout_redirect_uri": BYE, "state": "st"})
        r = self.confirm(r)
        self.assertEqual(r.status_code, 303, r.text)
        self.assertEqual(r.headers["location"], BYE + "?state=st")
        self.assertSignedOutCookie(r)
        self.assertEqual(self.sessions(), [])
        self.assertLoginAsked()

    def test_confirmation_without_client(self):
        self.sign_in()
        r = self.logout()
        self.assertPage(r, 200, "Sign out?")
        r = self.confirm(r)
        self.assertPage(r, 200, "Signed out")
        self.assertEqual(self.sessions(), [])

    def test_forged_confirmations_are_refused(self):
        self.sign_in()
        [sid] = self.sessions("dave")
        page = self.logout(client_id="web")
        for name, override, headers in (
                ("a wrong csrf", {"csrf": "A" * 43}, {}),
                ("no csrf", {"csrf": ""}, {}),
                ("another origin", {}, {"Origin": "https://evil.example"}),
                ("a cross-site fetch", {}, {"Sec-Fetch-Site": "cross-site"}),
                ("another action", {"action": "login"}, {})):
            with self.subTest(name):
                form = Form(page.text)
                data = dict(form.fields, action="logout")
                data.update(override)
                r = self.browser.post(self.base + "/logout", data=data,
                                      headers=headers, allow_redirects=False)
                self.assertErrorPage(r)
                self.assertEqual(self.sessions(), [sid])
        # Another browser (no lk_csrf cookie of its own) with the
        # victim's token.
        other = requests.Session()
        other.cookies.set("lk_session", self.browser.cookies["lk_session"])
        r = other.post(self.base + "/logout", data=dict(
            Form(page.text).fields, action="logout"), allow_redirects=False)
        self.assertErrorPage(r)
        self.assertEqual(self.sessions(), [sid])

    def test_confirmation_with_no_session_still_says_signed_out(self):
        r = self.logout(client_id="web")
        self.assertPage(r, 200, "Sign out?")
        r = self.confirm(r)
        self.assertPage(r, 200, "Signed out")


class RevokeTokensTest(LogoutBase):
    def refresh(self, tokens, client):
        form = {"grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"]}
        if client == "web":
            form["client_id"] = "web"
            return self.s.token(form)
        return self.s.token(form, auth=self.conf)

    def test_off_by_default_tokens_live_on(self):
        t = self.sign_in(client="web")
        r = self.logout(id_token_hint=self.hint(aud="web"))
        self.assertPage(r, 200, "Signed out")
        self.assertTrue(self.active(t["access_token"]))
        self.assertEqual(self.refresh(t, "web").status, 200)

    def test_client_setting_revokes_the_sessions_refresh_tokens(self):
        web = self.sign_in(client="web")
        conf = self.sign_in(client="conf")  # the same session
        r = self.logout(id_token_hint=self.hint(aud="conf"))
        self.assertPage(r, 200, "Signed out")
        for t, c in ((conf, "conf"), (web, "web")):
            self.assertFalse(self.active(t["access_token"]), c)
            r = self.refresh(t, c)
            self.assertOAuthError(r, 400, "invalid_grant")
        self.assertIn("token(s) revoked", self.s.log_text())

    def test_other_sessions_tokens_are_left_alone(self):
        other = requests.Session()
        self.browser, mine = other, self.browser
        kept = self.sign_in("erin", client="conf")
        self.browser = mine
        self.sign_in("dave", client="conf")
        r = self.logout(id_token_hint=self.hint("dave", aud="conf"))
        self.assertPage(r, 200, "Signed out")
        self.assertTrue(self.active(kept["access_token"]))
        self.assertEqual(self.refresh(kept, "conf").status, 200)


class PathAndDiscoveryTest(LogoutBase):
    SERVER_ARGS = ("--end-session-path", "/oidc/end",
                   "--cors-allowed-origins", "https://app.example")

    def test_custom_path(self):
        self.sign_in()
        md = self.s.get_json("/.well-known/openid-configuration")
        self.assertEqual(md["end_session_endpoint"], self.s.issuer + "/oidc/end")
        self.assertEqual(self.browser.get(self.base + "/logout").status_code,
                         404)
        r = self.browser.get(self.base + "/oidc/end",
                             headers={"Origin": "https://app.example"})
        self.assertPage(r, 200, "Sign out?")
        self.assertNotIn("access-control-allow-origin", r.headers)
        form = Form(r.text)
        self.assertEqual(form.action, "/oidc/end")
        r = self.browser.post(self.base + form.action,
                              data=dict(form.fields, action="logout"),
                              allow_redirects=False)
        self.assertPage(r, 200, "Signed out")
        self.assertEqual(self.sessions(), [])


class SessionCliTest(LogoutBase):
    def test_list_and_revoke(self):
        self.sign_in("dave")
        self.browser = requests.Session()
        self.sign_in("erin")
        rows = json.loads(cli(self.db, "session", "list", "--json").stdout)
        self.assertEqual(sorted(r["username"] for r in rows), ["dave", "erin"])
        for r in rows:
            self.assertEqual(sorted(r), ["amr", "auth_time", "expires_at",
                                         "sid", "user_id", "username"])
            self.assertEqual(r["amr"], ["pwd"])
            self.assertGreater(r["expires_at"], r["auth_time"])
        self.assertEqual(sorted(r["sid"] for r in rows),
                         sorted(self.sessions()))
        text = cli(self.db, "session", "list").stdout
        self.assertTrue(text.startswith("SID"), text)
        for r in rows:
            self.assertIn(r["sid"], text)
        dave = json.loads(cli(self.db, "session", "list", "--user", "dave",
                              "--json").stdout)
        self.assertEqual([r["username"] for r in dave], ["dave"])

        out = json.loads(cli(self.db, "session", "revoke", "--id",
                             dave[0]["sid"], "--json").stdout)
        self.assertEqual(out["ended"], 1)
        self.assertEqual(self.sessions("dave"), [])
        p = cli(self.db, "session", "revoke", "--id", dave[0]["sid"],
                check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("not found", p.stderr)
        p = cli(self.db, "session", "revoke", "--user", "erin")
        self.assertIn("ended 1 session(s) of user 'erin'", p.stdout)
        self.assertEqual(self.sessions(), [])
        # The browser must sign in again.
        self.assertLoginAsked()

    def test_usage_errors(self):
        for args, code, text in (
                ((), 2, "exactly one of --user NAME and --id SID"),
                (("--user", "dave", "--id", "x"), 2, "exactly one"),
                (("--user", "nobody"), 1, "user 'nobody' not found"),
                (("--client", "web"), 2, "")):
            with self.subTest(args=args):
                p = cli(self.db, "session", "revoke", *args, check=False)
                self.assertEqual(p.returncode, code, p.stderr)
                self.assertIn(text, p.stderr)
        p = cli(self.db, "session", "list", "--user", "nobody", check=False)
        self.assertEqual(p.returncode, 1)

    def test_client_options(self):
        c = json.loads(cli(self.db, "client", "show", "conf", "--json").stdout)
        self.assertEqual(c["post_logout_redirect_uris"],
                         ["https://app.example/conf-bye"])
        self.assertIs(c["logout_revokes_refresh_tokens"], True)
        # A list option replaces the whole list; '' empties it.
        cli(self.db, "client", "update", "conf", "--post-logout-redirect-uri",
            "https://a.example/1", "--post-logout-redirect-uri",
            "https://a.example/2", "--no-logout-revokes-refresh-tokens")
        c = json.loads(cli(self.db, "client", "show", "conf", "--json").stdout)
        self.assertEqual(c["post_logout_redirect_uris"],
                         ["https://a.example/1", "https://a.example/2"])
        self.assertIs(c["logout_revokes_refresh_tokens"], False)
        cli(self.db, "client", "update", "conf", "--post-logout-redirect-uri",
            "")
        listed = json.loads(cli(self.db, "client", "list", "--json").stdout)
        [c] = [x for x in listed if x["client_id"] == "conf"]
        self.assertEqual(c["post_logout_redirect_uris"], [])
        for args, text in (
                (("--post-logout-redirect-uri", "https://a.example/#f"),
                 "invalid post-logout redirect URI"),
                (("--logout-revokes-refresh-tokens",
                  "--no-logout-revokes-refresh-tokens"), "exclude")):
            p = cli(self.db, "client", "update", "conf", *args, check=False)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(text, p.stderr)
        c = json.loads(cli(self.db, "client", "add", "new", "--json").stdout)
        self.assertEqual((c["post_logout_redirect_uris"],
                          c["logout_revokes_refresh_tokens"]), ([], False))


class FixturesTest(LatchkeyTestCase):
    def test_fixture_keys(self):
        self.write_fixtures({"clients": [
            {"client_id": "spa", "public": True,
             "grants": ["authorization_code"],
             "redirect_uris": [CB],
             "post_logout_redirect_uris": [BYE],
             "logout_revokes_refresh_tokens": True}]})
        s = self.start_double()
        r = s.request("GET", "/logout?" + urllib.parse.urlencode(
            {"client_id": "spa", "post_logout_redirect_uri": BYE}))
        self.assertEqual(r.status, 200, r.body)
        self.assertIn(b"Sign out?", r.body)
        r = s.request("GET", "/logout?" + urllib.parse.urlencode(
            {"client_id": "spa", "post_logout_redirect_uri": CB}))
        self.assertEqual(r.status, 400)
        self.write_fixtures({"clients": [
            {"client_id": "spa", "public": True,
             "post_logout_redirect_uris": ["not a uri"]}]})
        p = __import__("subprocess").run(
            [__import__("lk_harness").LATCHKEYD, "--listen", "127.0.0.1:0",
             "--ephemeral", "--fixtures", self.fixtures],
            capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("post_logout_redirect_uris", p.stderr)
