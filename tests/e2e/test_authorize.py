"""The authorization code grant (RFC 6749 section 4.1, RFC 7636 PKCE)
against the real latchkeyd: a browser with a cookie jar walks the HTML
login and consent forms, the client exchanges the code over HTTP."""
import base64
import hashlib
import html.parser
import json
import os
import secrets
import time
import urllib.parse

import jwt
import requests

import lk_db
from lk_harness import LatchkeyTestCase, add_client, cli

CB = "https://app.example/cb"
PAGE_HEADERS = {
    "x-frame-options": "DENY",
    "cache-control": "no-store",
    "referrer-policy": "same-origin",
}


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(
        verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class Form(html.parser.HTMLParser):
    """The inputs and buttons of the first form of a page."""

    def __init__(self, text):
        super().__init__()
        self.fields, self.buttons, self.action = {}, [], None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = a.get("action")
        elif tag == "input" and "name" in a:
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "button" and "name" in a:
            self.buttons.append((a["name"], a["value"]))


class AuthorizeBase(LatchkeyTestCase):
    """web (public, PKCE) and conf (confidential) clients with the
    authorization_code and refresh_token grants, api (introspects), users
    dave and erin."""

    SERVER_ARGS = ()
    AUTHORIZE_PATH = "/authorize"

    def setUp(self):
        super().setUp()
        grants = ["--grant", "authorization_code", "--grant",
                  "refresh_token"]
        add_client(self.db, "Web App", "--id", "web", "--public", *grants,
                   "--redirect-uri", CB, "--scope", "read write")
        conf = add_client(self.db, "Server App", "--id", "conf", *grants,
                          "--redirect-uri", CB, "--redirect-uri",
                          "https://app.example/other", "--scope", "read")
        api = add_client(self.db, "api", "--id", "api")
        self.conf = ("conf", conf["client_secret"])
        self.api = ("api", api["client_secret"])
        for u in ("dave", "erin"):
            cli(self.db, "user", "add", u, "--password-stdin",
                stdin=u + "-password-1\n")
        self.serve(*self.SERVER_ARGS)
        self.browser = requests.Session()

    def serve(self, *args):
        if getattr(self, "s", None) is not None:
            self.s.stop()
        self.s = self.start(*args)
        # Where the browser reaches it; the issuer may be another URL.
        self.base = "http://127.0.0.1:%d" % self.s.port

    def url(self, **params):
        return (self.base + self.AUTHORIZE_PATH + "?" +
                urllib.parse.urlencode(params))

    def params(self, **extra):
        self.verifier, challenge = pkce()
        p = {"response_type": "code", "client_id": "web",
             "redirect_uri": CB, "scope": "read", "state": "st-1",
             "code_challenge": challenge, "code_challenge_method": "S256"}
        p.update(extra)
        return {k: v for k, v in p.items() if v is not None}

    def get(self, **params):
        params = {k: v for k, v in params.items() if v is not None}
        return self.browser.get(self.url(**params), allow_redirects=False)

    def submit(self, page, button=None, **fields):
        """Posts the page's form as a browser would, with the fields
        overridden and the named button pressed."""
        form = Form(page.text)
        self.assertEqual(form.action, self.AUTHORIZE_PATH)
        data = dict(form.fields)
        data.update(fields)
        if button is not None:
            self.assertIn(("action", button), form.buttons)
            data["action"] = button
        return self.browser.post(self.base + form.action, data=data,
                                 allow_redirects=False)

    def assertPage(self, r, status, title):
        self.assertEqual(r.status_code, status, r.text)
        self.assertEqual(r.headers["content-type"], "text/html; charset=utf-8")
        for k, v in PAGE_HEADERS.items():
            self.assertEqual(r.headers[k], v)
        self.assertIn("frame-ancestors 'none'",
                      r.headers["content-security-policy"])
        self.assertIn("default-src 'none'",
                      r.headers["content-security-policy"])
        self.assertNotIn("location", r.headers)
        self.assertIn("<title>%s</title>" % title, r.text)

    def redirected(self, r, status=303):
        """The query of a redirect to CB."""
        self.assertEqual(r.status_code, status, r.text)
        loc = r.headers["location"]
        self.assertTrue(loc.startswith(CB + "?"), loc)
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query,
                                  strict_parsing=True)
        self.assertTrue(all(len(v) == 1 for v in q.values()), q)
        q = {k: v[0] for k, v in q.items()}
        self.assertEqual(q.pop("iss"), self.s.issuer)  # RFC 9207
        return q

    def login_and_consent(self, user="dave", **params):
        """The whole browser part; returns the code."""
        p = self.params(**params)
        r = self.get(**p)
        self.assertPage(r, 200, "Sign in")
        r = self.submit(r, "login", username=user,
                        password=user + "-password-1")
        self.assertPage(r, 200, "Allow access?")
        q = self.redirected(self.submit(r, "allow"))
        self.assertEqual(q["state"], p["state"])
        return q["code"]

    def exchange(self, code, client="web", verifier=None, **extra):
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": CB,
                "code_verifier": verifier or self.verifier}
        form.update(extra)
        form = {k: v for k, v in form.items() if v is not None}
        if client == "web":
            form["client_id"] = "web"
            return self.s.token(form)
        return self.s.token(form, auth=self.conf)

    def active(self, token):
        return self.s.introspect(token, self.api)["active"]


class FlowTest(AuthorizeBase):
    def test_full_flow_through_the_forms(self):
        code = self.login_and_consent(scope="read write")
        self.assertGreaterEqual(len(code), 43)
        self.assertNotIn(code.encode(), lk_db.db_bytes(self.db))
        r = self.exchange(code)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers["cache-control"], "no-store")
        t = r.json()
        self.assertEqual((t["token_type"], t["scope"]), ("Bearer", "read write"))
        claims = jwt.decode(t["access_token"],
                            options={"verify_signature": False})
        user_id = json.loads(cli(self.db, "user", "list", "--json").stdout)
        dave = [u for u in user_id if u["username"] == "dave"][0]
        self.assertEqual((claims["sub"], claims["client_id"]),
                         (dave["user_id"], "web"))
        intro = self.s.introspect(t["access_token"], self.api)
        self.assertEqual((intro["active"], intro["username"]), (True, "dave"))
        # The refresh token behaves as any: it rotates.
        r = self.s.token({"grant_type": "refresh_token", "client_id": "web",
                          "refresh_token": t["refresh_token"]})
        self.assertEqual(r.status, 200, r.body)
        self.assertNotEqual(r.json()["refresh_token"], t["refresh_token"])

    def test_session_and_consent_are_remembered(self):
        self.exchange(self.login_and_consent())
        # Same browser, same scope: straight back with a code (GET: 302).
        q = self.redirected(self.get(**self.params()), 302)
        self.assertEqual(self.exchange(q["code"]).status, 200)
        # More scope: consent again, no login.
        r = self.get(**self.params(scope="read write"))
        self.assertPage(r, 200, "Allow access?")
        self.assertIn("<code>write</code>", r.text)
        self.redirected(self.submit(r, "allow"))
        # prompt=consent asks again; prompt=login asks for the password.
        self.assertPage(self.get(**self.params(prompt="consent")), 200,
                        "Allow access?")
        r = self.get(**self.params(prompt="login"))
        self.assertPage(r, 200, "Sign in")
        r = self.submit(r, "login", username="dave",
                        password="dave-password-1")
        self.redirected(r)  # consent is remembered
        # A new browser has no session.
        self.browser = requests.Session()
        self.assertPage(self.get(**self.params()), 200, "Sign in")

    def test_new_password_and_revoke_user_end_sessions(self):
        self.exchange(self.login_and_consent())
        self.redirected(self.get(**self.params()), 302)  # signed in
        out = json.loads(cli(self.db, "user", "passwd", "dave",
                             "--password-stdin", "--json",
                             stdin="dave-password-2\n").stdout)
        self.assertEqual(out["sessions_ended"], 1)
        self.assertPage(self.get(**self.params()), 200, "Sign in")
        r = self.submit(self.get(**self.params()), "login", username="dave",
                        password="dave-password-2")
        self.redirected(r)  # consent survives a new password
        out = json.loads(cli(self.db, "token", "revoke", "--user", "dave",
                             "--json").stdout)
        self.assertEqual(out["sessions_ended"], 1)
        self.assertPage(self.get(**self.params()), 200, "Sign in")
        # Consent revoked: asked again after the next login.
        cli(self.db, "consent", "revoke", "--user", "dave")
        r = self.submit(self.get(**self.params()), "login", username="dave",
                        password="dave-password-2")
        self.assertPage(r, 200, "Allow access?")

    def test_public_client_with_a_custom_scheme_is_always_asked(self):
        cli(self.db, "client", "add", "Native", "--id", "native", "--public",
            "--redirect-uri", "com.example.app:/cb", "--scope", "read")
        p = self.params(client_id="native", redirect_uri="com.example.app:/cb")
        r = self.submit(self.get(**p), "login", username="dave",
                        password="dave-password-1")
        self.assertPage(r, 200, "Allow access?")
        r = self.submit(r, "allow")
        self.assertEqual(r.status_code, 303)
        self.assertTrue(r.headers["location"].startswith(
            "com.example.app:/cb?code="))
        # Another app may have claimed the scheme: ask again, every time.
        self.assertPage(self.get(**p), 200, "Allow access?")
        r = self.get(**dict(p, prompt="none"))
        self.assertIn("error=consent_required", r.headers["location"])

    def test_prompt_none(self):
        q = self.redirected(self.get(**self.params(prompt="none")), 302)
        self.assertEqual((q["error"], q["state"]), ("login_required", "st-1"))
        self.login_and_consent()
        q = self.redirected(self.get(**self.params(prompt="none")), 302)
        self.assertIn("code", q)
        q = self.redirected(self.get(**self.params(
            prompt="none", scope="read write")), 302)
        self.assertEqual(q["error"], "consent_required")
        q = self.redirected(self.get(**self.params(prompt="none login")), 302)
        self.assertEqual(q["error"], "invalid_request")

    def test_deny(self):
        r = self.submit(self.get(**self.params()), "login", username="dave",
                        password="dave-password-1")
        q = self.redirected(self.submit(r, "deny"))
        self.assertEqual((q["error"], q["state"]), ("access_denied", "st-1"))
        self.assertNotIn("code", q)
        self.assertEqual(json.loads(cli(self.db, "consent", "list", "--json")
                                    .stdout), [])

    def test_wrong_password_and_throttling(self):
        page = self.get(**self.params(login_hint="dave"))
        self.assertIn('value="dave"', page.text)
        for _ in range(5):
            r = self.submit(page, "login", username="dave", password="nope")
            self.assertPage(r, 200, "Sign in")
            self.assertIn("The username or password is wrong.", r.text)
        r = self.submit(page, "login", username="dave",
                        password="dave-password-1")
        self.assertIn("Too many failed attempts", r.text)
        self.assertNotIn("set-cookie", {k.lower() for k in r.headers
                                        if "lk_session" in r.headers[k]})

    def test_session_cookie_attributes(self):
        p = self.params()
        r = self.get(**p)
        csrf = r.headers["set-cookie"]
        self.assertRegex(csrf, r"^lk_csrf=[A-Za-z0-9_-]{43}; Path=/; "
                               r"HttpOnly; SameSite=Lax$")
        r = self.submit(r, "login", username="dave",
                        password="dave-password-1")
        self.assertRegex(r.headers["set-cookie"],
                         r"^lk_session=[A-Za-z0-9_-]{43}; Path=/; "
                         r"Max-Age=28800; HttpOnly; SameSite=Lax$")
        # A session cookie that is not ours is dropped, and login asked.
        self.browser.cookies.set("lk_session", "forged", domain="127.0.0.1",
                                 path="/")
        r = self.get(**self.params())
        self.assertPage(r, 200, "Sign in")
        self.assertIn("lk_session=; Path=/; Max-Age=0", r.headers["set-cookie"])

    def test_metadata(self):
        md = self.s.get_json("/.well-known/oauth-authorization-server")
        self.assertEqual(md["authorization_endpoint"],
                         self.s.issuer + "/authorize")
        self.assertEqual(md["response_types_supported"], ["code"])
        self.assertEqual(md["response_modes_supported"], ["query"])
        self.assertEqual(md["code_challenge_methods_supported"], ["S256"])
        self.assertIn("authorization_code", md["grant_types_supported"])
        self.assertIn("none", md["token_endpoint_auth_methods_supported"])
        self.assertNotIn("none",
                         md["introspection_endpoint_auth_methods_supported"])
        self.assertTrue(md["authorization_response_iss_parameter_supported"])


class TokenRequestTest(AuthorizeBase):
    def test_replay_revokes_everything_issued_from_the_code(self):
        code = self.login_and_consent()
        t = self.exchange(code).json()
        r = self.exchange(code)
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertFalse(self.active(t["access_token"]))
        r = self.s.token({"grant_type": "refresh_token", "client_id": "web",
                          "refresh_token": t["refresh_token"]})
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertIn("redeemed again", self.s.log_text())

    def test_pkce_downgrade_and_wrong_verifier(self):
        code = self.login_and_consent()
        r = self.s.token({"grant_type": "authorization_code", "code": code,
                          "redirect_uri": CB, "client_id": "web"})
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertIn("code_verifier is required", r.json()["error_description"])
        r = self.exchange(code, verifier=pkce()[0])
        self.assertOAuthError(r, 400, "invalid_grant")
        # Failed attempts did not use the code up.
        self.assertEqual(self.exchange(code).status, 200)

    def test_binding_checks(self):
        code = self.login_and_consent()
        cases = [
            ({"redirect_uri": "https://app.example/other"}, "web"),
            ({"redirect_uri": None}, "web"),
            ({}, "conf"),  # another client
        ]
        for extra, client in cases:
            with self.subTest(extra=extra, client=client):
                self.assertOAuthError(self.exchange(code, client=client,
                                                    **extra), 400,
                                      "invalid_grant")
        self.assertOAuthError(self.exchange(code + "x"), 400, "invalid_grant")
        self.assertEqual(self.exchange(code).status, 200)

    def test_expired_code(self):
        self.serve("--authorization-code-ttl", "1")
        code = self.login_and_consent()
        time.sleep(2.1)
        r = self.exchange(code)
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertEqual(r.json()["error_description"], "the code expired")

    def test_confidential_client_without_pkce(self):
        # The default, as the SDK clients of shared/seeds (001) need.
        code = self.login_and_consent(client_id="conf", code_challenge=None,
                                      code_challenge_method=None)
        # A verifier without a challenge is refused, then the right call.
        r = self.exchange(code, client="conf", verifier=pkce()[0])
        self.assertOAuthError(r, 400, "invalid_grant")
        r = self.exchange(code, client="conf", code_verifier=None)
        self.assertEqual(r.status, 200, r.body)
        # Without its secret, a confidential client is not let in.
        r = self.s.token({"grant_type": "authorization_code", "code": code,
                          "client_id": "conf", "redirect_uri": CB})
        self.assertOAuthError(r, 401, "invalid_client")

    def test_require_pkce_for_every_client(self):
        self.serve("--require-pkce", "true")
        q = self.redirected(self.get(**self.params(
            client_id="conf", code_challenge=None,
            code_challenge_method=None)), 302)
        self.assertEqual(q["error"], "invalid_request")
        self.assertIn("PKCE", q["error_description"])
        code = self.login_and_consent(client_id="conf")
        self.assertEqual(self.exchange(code, client="conf").status, 200)


class ClientChangedTest(AuthorizeBase):
    """Issue 12 defect 3: a client changed between /authorize and the code
    exchange gets only the scopes it is still allowed."""

    def test_scope_removed_before_the_exchange(self):
        code = self.login_and_consent(scope="read write")
        cli(self.db, "client", "update", "web", "--scope", "read")
        r = self.exchange(code)
        self.assertEqual(r.status, 200, r.body)
        t = r.json()
        # Narrower than the code: section 5.1 wants scope in the answer.
        self.assertEqual(t["scope"], "read")
        self.assertEqual(jwt.decode(t["access_token"], options={
            "verify_signature": False})["scope"], "read")
        self.assertEqual(self.s.introspect(t["access_token"],
                                           self.api)["scope"], "read")
        # The grant (its refresh token) holds what was issued.
        cli(self.db, "client", "update", "web", "--scope", "read write")
        r = self.s.token({"grant_type": "refresh_token", "client_id": "web",
                          "refresh_token": t["refresh_token"]})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["scope"], "read")

    def test_nothing_left_is_refused(self):
        code = self.login_and_consent(scope="write")
        cli(self.db, "client", "update", "web", "--scope", "read")
        r = self.exchange(code)
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertIn("no longer allowed", r.json()["error_description"])


class LoopbackRedirectTest(AuthorizeBase):
    """RFC 8252 section 7.3: a native app listens on a loopback port the
    system picks, so a registered loopback IP literal matches any port.
    localhost is a name, not a literal: exact matching stays."""

    def setUp(self):
        super().setUp()
        cli(self.db, "client", "add", "Native", "--id", "native", "--public",
            "--grant", "authorization_code", "--scope", "read",
            "--redirect-uri", "http://127.0.0.1:5000/cb",
            "--redirect-uri", "http://[::1]/cb?app=1",
            "--redirect-uri", "http://localhost:5000/cb",
            "--auto-approve-as", "dave")

    def authorize(self, uri):
        return self.get(**self.params(client_id="native", redirect_uri=uri))

    def test_any_port_for_loopback_literals(self):
        for uri in ["http://127.0.0.1:5000/cb", "http://127.0.0.1:61234/cb",
                    "http://127.0.0.1/cb", "http://[::1]:8/cb?app=1",
                    "http://[::1]:65535/cb?app=1", "http://[::1]/cb?app=1",
                    "http://localhost:5000/cb"]:
            with self.subTest(uri=uri):
                r = self.authorize(uri)
                self.assertEqual(r.status_code, 302, r.text)
                loc = r.headers["location"]
                self.assertTrue(loc.startswith(uri + ("&" if "?" in uri
                                                      else "?")), loc)
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
                code = q["code"][0]
                # The exchange names the URI the request used, port and all.
                other = "http://127.0.0.1:5001/cb" if "127" in uri \
                    else "http://[::1]:9/cb?app=1"
                r = self.s.token({"grant_type": "authorization_code",
                                  "code": code, "client_id": "native",
                                  "redirect_uri": other,
                                  "code_verifier": self.verifier})
                self.assertOAuthError(r, 400, "invalid_grant")
                r = self.s.token({"grant_type": "authorization_code",
                                  "code": code, "client_id": "native",
                                  "redirect_uri": uri,
                                  "code_verifier": self.verifier})
                self.assertEqual(r.status, 200, r.body)

    def test_everything_but_the_port_must_match(self):
        for uri in ["http://localhost:5001/cb", "http://localhost/cb",
                    "http://127.0.0.1:5000/other", "http://127.0.0.1:5000/cb/",
                    "http://127.0.0.1:5000/cb?x=1", "http://127.0.0.1:5000/CB",
                    "https://127.0.0.1:5000/cb", "http://127.0.0.2:5000/cb",
                    "http://127.0.0.1.evil.example:5000/cb",
                    "http://127.0.0.1:5000@evil.example/cb",
                    "http://127.0.0.1:/cb", "http://127.0.0.1:x/cb",
                    "http://127.0.0.1:123456/cb", "http://127.0.0.1:-1/cb",
                    "http://127.0.0.1:5000#/cb", "http://[::1]:7/cb",
                    "http://[::1]:7/cb?app=2", "http://[0:0:0:0:0:0:0:1]/cb?app=1",
                    "http://[::1]cb?app=1", "http://127.0.0.1:5000/cb ",
                    "HTTP://127.0.0.1:5000/cb"]:
            with self.subTest(uri=uri):
                r = self.authorize(uri)
                self.assertPage(r, 400, "Cannot continue")
                self.assertIn("redirect_uri", r.text)


class ResourceTest(AuthorizeBase):
    """RFC 8707 at /authorize (issue 12): a resource that is one of the
    client's audiences travels through the login and consent forms into
    the code, and the code's tokens carry it as their aud."""

    A = "https://a.example/api"
    B = "urn:example:b"

    def setUp(self):
        super().setUp()
        cli(self.db, "client", "update", "web", "--audience", self.A,
            "--audience", self.B)

    def login_and_consent(self, user="dave", **params):
        """In a new browser each time, and with prompt=consent, so every
        run goes through both forms."""
        self.browser = requests.Session()
        return super().login_and_consent(user, prompt="consent", **params)

    def aud(self, r):
        self.assertEqual(r.status, 200, r.body)
        return jwt.decode(r.json()["access_token"],
                          options={"verify_signature": False})["aud"]

    def test_resource_is_carried_to_the_code(self):
        code = self.login_and_consent(resource=self.B)
        self.assertEqual(self.aud(self.exchange(code)), self.B)
        # Named again at the token endpoint: the same one.
        code = self.login_and_consent(resource=self.B)
        self.assertEqual(self.aud(self.exchange(code, resource=self.B)),
                         self.B)
        # Without a resource: every audience of the client; one named at
        # the token endpoint alone narrows it there.
        code = self.login_and_consent()
        self.assertEqual(self.aud(self.exchange(code)), [self.A, self.B])
        code = self.login_and_consent()
        self.assertEqual(self.aud(self.exchange(code, resource=self.A)),
                         self.A)

    def test_another_resource_at_the_exchange_is_invalid_target(self):
        code = self.login_and_consent(resource=self.B)
        r = self.exchange(code, resource=self.A)
        self.assertOAuthError(r, 400, "invalid_target")
        # The client lost the audience between authorize and exchange.
        code = self.login_and_consent(resource=self.B)
        cli(self.db, "client", "update", "web", "--audience", self.A)
        self.assertOAuthError(self.exchange(code), 400, "invalid_target")

    def test_unknown_resource_is_redirected_as_invalid_target(self):
        for res in ("https://elsewhere.example", self.A + "/", ""):
            with self.subTest(resource=res):
                r = self.get(**self.params(resource=res))
                if res == "":  # empty: omitted (RFC 6749 section 3.1)
                    self.assertPage(r, 200, "Sign in")
                    continue
                q = self.redirected(r, 302)
                self.assertEqual(q["error"], "invalid_target")
                self.assertEqual(q["state"], "st-1")
                self.assertNotIn("code", q)


class AuthorizeErrorTest(AuthorizeBase):
    def assertErrorPage(self, r, text):
        self.assertPage(r, 400, "Cannot continue")
        self.assertIn(text, r.text)

    def test_errors_shown_to_the_user_never_redirected(self):
        p = self.params()
        cases = [
            ({"client_id": None}, "no client_id"),
            ({"client_id": "nope"}, "not registered"),
            ({"redirect_uri": "https://evil.example/cb"}, "redirect_uri"),
            ({"client_id": "conf", "redirect_uri": None},
             "has several"),
        ]
        for extra, text in cases:
            with self.subTest(extra=extra):
                self.assertErrorPage(self.get(**{**p, **extra}), text)
        # Open-redirect attempts: near misses of the registered URI.
        near = [CB + "/x", CB + "?a=1", CB + "#f", "http://app.example/cb",
                "https://app.example:443/cb", "https://App.example/cb",
                "https://user@app.example/cb", "https://app.example/cb/",
                "https://app.example/%63b", "https://app.example/cb%2F..",
                "https://app.example.evil/cb", CB + " " + CB, "//app.example/cb",
                "https://app.example\\@evil/cb"]
        for uri in near:
            with self.subTest(uri=uri):
                r = self.get(**{**p, "redirect_uri": uri})
                self.assertErrorPage(r, "redirect_uri")
        # Repeated client_id or redirect_uri: a page too.
        q = urllib.parse.urlencode(p) + "&redirect_uri=" + \
            urllib.parse.quote(CB, safe="")
        r = self.browser.get(self.base + "/authorize?" + q,
                             allow_redirects=False)
        self.assertErrorPage(r, "repeats")
        # Sent raw: requests would re-quote the bad escape.
        r = self.s.request("GET", "/authorize?client_id=web&a=%ZZ")
        self.assertEqual(r.status, 400)
        self.assertNotIn("location", r.headers)
        self.assertIn(b"malformed", r.body)

    def test_errors_redirected_with_state(self):
        state = "a b&c=d/é\"<"
        cases = [
            ({"response_type": None}, "invalid_request"),
            ({"response_type": "token"}, "unsupported_response_type"),
            ({"scope": "admin"}, "invalid_scope"),
            ({"code_challenge": None, "code_challenge_method": None},
             "invalid_request"),
            ({"code_challenge_method": "plain"}, "invalid_request"),
            ({"code_challenge_method": "S512"}, "invalid_request"),
            ({"code_challenge": "short"}, "invalid_request"),
            ({"prompt": "sideways"}, "invalid_request"),
        ]
        for extra, err in cases:
            with self.subTest(extra=extra):
                q = self.redirected(self.get(**self.params(state=state,
                                                           **extra)), 302)
                self.assertEqual((q["error"], q["state"]), (err, state))
                self.assertIn("error_description", q)
        # Repeated state: invalid_request, once the client is known.
        q = urllib.parse.urlencode(self.params()) + "&state=again"
        r = self.browser.get(self.base + "/authorize?" + q,
                             allow_redirects=False)
        self.assertEqual(self.redirected(r, 302)["error"], "invalid_request")
        # A client without the grant.
        add_client(self.db, "cc", "--id", "cc", "--redirect-uri", CB)
        q = self.redirected(self.get(**self.params(client_id="cc")), 302)
        self.assertEqual(q["error"], "unauthorized_client")

    def test_head_is_refused_and_issues_nothing(self):
        self.exchange(self.login_and_consent())
        r = self.browser.head(self.url(**self.params()), allow_redirects=False)
        self.assertEqual(r.status_code, 405)
        self.assertNotIn("location", r.headers)
        # RFC 9110 section 15.5.6: Allow lists what is accepted, and HEAD
        # is not (it once said "GET, HEAD, POST").
        self.assertEqual(r.headers["allow"], "GET, POST")
        self.assertEqual(json.loads(cli(self.db, "token", "list", "--json")
                                    .stdout).__len__(), 1)

    def test_values_that_cannot_travel_unchanged(self):
        for extra in ({"state": "a\u0001b"}, {"state": "x" * 2049},
                      {"login_hint": "\n"}, {"code_challenge": "A" * 44},
                      {"code_challenge": "A" * 42 + "~"}):
            with self.subTest(extra=list(extra)):
                q = self.redirected(self.get(**self.params(**extra)), 302)
                self.assertEqual(q["error"], "invalid_request")
        # Not UTF-8: sent raw (requests would encode it).
        p = urllib.parse.urlencode(self.params())
        r = self.s.request("GET", "/authorize?" + p.replace("state=st-1",
                                                            "state=%FF"))
        self.assertEqual(r.status, 302)
        self.assertIn("error=invalid_request", r.headers["location"])
        # A 2048-byte state is fine and comes back whole.
        state = "s" * 2048
        q = self.redirected(self.get(**self.params(state=state,
                                                   prompt="none")), 302)
        self.assertEqual((q["error"], q["state"]), ("login_required", state))

    def test_repeated_client_id_after_another_repeat_is_a_page(self):
        q = ("state=a&state=b&client_id=web&client_id=conf&redirect_uri="
             + urllib.parse.quote(CB, safe=""))
        r = self.s.request("GET", "/authorize?" + q)
        self.assertEqual(r.status, 400)
        self.assertNotIn("location", r.headers)

    def test_csrf(self):
        page = self.get(**self.params())
        good = Form(page.text).fields["csrf"]
        for csrf in (None, "", "x" * 43, good[:-1] + ("A" if good[-1] != "A"
                                                       else "B")):
            with self.subTest(csrf=csrf):
                fields = dict(Form(page.text).fields, action="login",
                              username="dave", password="dave-password-1")
                if csrf is None:
                    del fields["csrf"]
                else:
                    fields["csrf"] = csrf
                r = self.browser.post(self.base + "/authorize", data=fields,
                                      allow_redirects=False)
                self.assertErrorPage(r, "expired or did not come from")
                self.assertNotIn("lk_session", r.headers.get("set-cookie", ""))
        # The right token from another browser (another cookie) fails too.
        other = requests.Session()
        fields = dict(Form(page.text).fields, action="login",
                      username="dave", password="dave-password-1")
        r = other.post(self.base + "/authorize", data=fields,
                       allow_redirects=False)
        self.assertErrorPage(r, "expired or did not come from")

    def test_hostile_values_are_escaped(self):
        evil = "<script>alert(1)</script>\"'&"
        cli(self.db, "client", "update", "web", "--name", "Evil " + evil)
        r = self.get(**self.params(state=evil, login_hint=evil))
        self.assertPage(r, 200, "Sign in")
        self.assertNotIn("<script>", r.text)
        self.assertIn("Evil &lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;",
                      r.text)
        self.assertEqual(Form(r.text).fields["state"], evil)
        self.assertEqual(Form(r.text).fields["username"], evil)
        r = self.submit(r, "login", username="dave",
                        password="dave-password-1")
        self.assertPage(r, 200, "Allow access?")
        self.assertNotIn("<script>", r.text)
        q = self.redirected(self.submit(r, "allow"))
        self.assertEqual(q["state"], evil)
        # Error pages never echo request values at all.
        r = self.get(**self.params(client_id=evil))
        self.assertNotIn("<script>", r.text)


class AutoApproveTest(AuthorizeBase):
    SERVER_ARGS = ("--auto-approve-as", "erin")

    def test_server_wide_auto_approve(self):
        self.assertIn("auto_approve_as=erin", self.s.log_text())
        q = self.redirected(self.get(**self.params()), 302)
        t = self.exchange(q["code"]).json()
        self.assertEqual(jwt.decode(t["access_token"], options={
            "verify_signature": False})["client_id"], "web")
        intro = self.s.introspect(t["access_token"], self.api)
        self.assertEqual(intro["username"], "erin")
        # Bad requests are still refused.
        q = self.redirected(self.get(**self.params(scope="admin")), 302)
        self.assertEqual(q["error"], "invalid_scope")

    def test_per_client_override(self):
        cli(self.db, "client", "update", "web", "--auto-approve-as", "")
        self.assertPage(self.get(**self.params()), 200, "Sign in")
        cli(self.db, "client", "update", "web", "--auto-approve-as", "dave")
        q = self.redirected(self.get(**self.params()), 302)
        t = self.exchange(q["code"]).json()
        self.assertEqual(self.s.introspect(t["access_token"],
                                           self.api)["username"], "dave")
        cli(self.db, "client", "update", "web", "--auto-approve-as", "ghost")
        q = self.redirected(self.get(**self.params()), 302)
        self.assertEqual(q["error"], "access_denied")


class HttpsCookieTest(AuthorizeBase):
    SERVER_ARGS = ("--issuer", "https://auth.example.test")

    def test_cookies_are_secure_host_cookies_with_an_https_issuer(self):
        r = self.get(**self.params())
        self.assertRegex(r.headers["set-cookie"],
                         r"^__Host-lk_csrf=[A-Za-z0-9_-]{43}; Path=/; "
                         r"HttpOnly; SameSite=Lax; Secure$")
        # The browser would only send it back over https: do it by hand.
        csrf = r.headers["set-cookie"].split(";")[0]
        data = dict(Form(r.text).fields, action="login", username="dave",
                    password="dave-password-1")
        # A plain lk_csrf cookie (say, planted by a sibling subdomain) is
        # not the __Host- one.
        plain = csrf.replace("__Host-", "")
        r = requests.post(self.base + "/authorize", data=data,
                          headers={"Cookie": plain}, allow_redirects=False)
        self.assertPage(r, 400, "Cannot continue")
        r = requests.post(self.base + "/authorize", data=data,
                          headers={"Cookie": csrf}, allow_redirects=False)
        self.assertPage(r, 200, "Allow access?")
        self.assertRegex(r.headers["set-cookie"],
                         r"^__Host-lk_session=[A-Za-z0-9_-]{43}; Path=/; "
                         r"Max-Age=28800; HttpOnly; SameSite=Lax; Secure$")
        # A form posted from another origin is refused, token or not.
        for h in ({"Origin": "https://evil.example"},
                  {"Origin": "null"}, {"Sec-Fetch-Site": "same-site"},
                  {"Sec-Fetch-Site": "cross-site"}):
            with self.subTest(h=h):
                r = requests.post(self.base + "/authorize", data=data,
                                  headers={"Cookie": csrf, **h},
                                  allow_redirects=False)
                self.assertPage(r, 400, "Cannot continue")
        r = requests.post(self.base + "/authorize", data=data,
                          headers={"Cookie": csrf, "Sec-Fetch-Site":
                                   "same-origin", "Origin":
                                   "https://auth.example.test"},
                          allow_redirects=False)
        self.assertPage(r, 200, "Allow access?")


class CustomAuthorizePathTest(AuthorizeBase):
    """Keycloak's path as authorize_path: the forms post back to it and
    the cookies reach it (both were hard-coded to /authorize)."""

    AUTHORIZE_PATH = "/realms/test/protocol/openid-connect/auth"
    SERVER_ARGS = ("--authorize-path", AUTHORIZE_PATH)

    def test_login_consent_and_a_second_authorization(self):
        r = self.get(**self.params())
        self.assertPage(r, 200, "Sign in")
        self.assertRegex(r.headers["set-cookie"], r"^lk_csrf=[^;]+; Path=/; ")
        code = self.login_and_consent()
        self.assertEqual(self.exchange(code).status, 200)
        # The session cookie comes back to the custom path: no login.
        q = self.redirected(self.get(**self.params()), 302)
        self.assertIn("code", q)
        self.assertEqual(self.browser.get(self.base + "/authorize",
                                          allow_redirects=False).status_code,
                         404)

    def test_the_form_follows_an_issuer_with_a_path(self):
        # Behind a proxy that serves us under /auth, the forms post to the
        # path the browser sees, as the metadata does.
        issuer = "https://auth.example.test/auth"
        self.serve("--authorize-path", self.AUTHORIZE_PATH, "--issuer",
                   issuer)
        r = self.get(**self.params())
        self.assertEqual(Form(r.text).action, "/auth" + self.AUTHORIZE_PATH)
        self.assertEqual(
            self.s.get_json("/.well-known/oauth-authorization-server")
            ["authorization_endpoint"], issuer + self.AUTHORIZE_PATH)


class DocumentedCurlFlowTest(AuthorizeBase):
    """docs/authorization-code.md's curl-only flow, run as written (with
    this server's port), so the documentation stays true."""

    SERVER_ARGS = ("--auto-approve-as", "dave")

    def test_the_documented_commands_work(self):
        import re
        import subprocess
        doc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                           "..", "docs", "authorization-code.md")
        with open(doc) as f:
            text = f.read()
        section = text.split("## With curl only", 1)[1]
        script = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
        # The server is already running with --auto-approve-as dave.
        script = "\n".join(line for line in script.splitlines()
                           if not line.startswith(("latchkeyd", "# (or")))
        script = script.replace("127.0.0.1:8080", "127.0.0.1:%d" % self.s.port)
        p = subprocess.run(["bash", "-euo", "pipefail", "-c", script],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        location, token = p.stdout.strip().splitlines()
        self.assertRegex(location, r"^https://app\.example/cb\?code=[A-Za-z0-9_-]"
                                   r"{43}&state=xyz&iss=http%3A%2F%2F127\.0\.0"
                                   r"\.1%3A\d+$")
        t = json.loads(token)
        self.assertEqual((t["token_type"], t["scope"]), ("Bearer", "read"))
        self.assertIn("refresh_token", t)
