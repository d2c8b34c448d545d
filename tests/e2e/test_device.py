"""The device authorization grant (RFC 8628) on the real latchkeyd, on both
backends (e2e_test_device and e2e_pg_test_device).

A device (a client registered for `device-code`) asks
/device_authorization for a device code and a user code, then polls
/token with the device code while a person approves the user code: here
through the test double's POST /_control/device, through the /device
page (plain HTTP with requests: a cookie jar and the forms' CSRF token,
no browser; tests/browser/test_device.js drives Chromium) and once
entirely with curl. Polls are timed on Latchkey's clock, which
/_control/clock moves, so no test sleeps: authorization_pending,
slow_down (a poll sooner than the interval, which then grows by 5 s),
expired_token past device_code_ttl, access_denied, and invalid_grant for
an unknown code, another client's and one already redeemed.
unauthorized_client, invalid_client, invalid_scope, a public client,
the CLI's short grant name and the URN it shows, the discovery document
and the settings (paths, ttl, interval). On the page: the user code
compared without case, dashes or spaces; wrong codes throttled per
address (login_max_failures_per_address), the right one refused too; a
POST without the CSRF token or from another origin refused."""
import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse

import jwt
import requests

from lk_harness import LatchkeyTestCase, add_client, basic, cli, skip_or_fail
from test_authorize import CB, PAGE_HEADERS, Form, pkce

DC = "urn:ietf:params:oauth:grant-type:device_code"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE = re.compile(r"^[%s]{4}-[%s]{4}$" % (ALPHABET, ALPHABET))
DEVICE_CODE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def other_code(user_code):
    """A well-formed user code that is not user_code."""
    for c in ("BCDF-GHJK", "ZXWV-TSRQ"):
        if c != user_code:
            return c
    raise AssertionError("unreachable")


class DeviceBase(LatchkeyTestCase):
    """tv (confidential, device-code and refresh_token, scopes openid read
    write), radio (confidential, device-code only, scope read), api (to
    introspect), users dave and erin; latchkeyd with --test-double (the
    clock and /_control/device) and SERVER_ARGS."""

    SERVER_ARGS = ()
    DEVICE_AUTHORIZATION_PATH = "/device_authorization"
    DEVICE_PATH = "/device"

    def setUp(self):
        super().setUp()
        tv = add_client(self.db, "Living Room TV", "--id", "tv", "--grant",
                        "device-code", "--grant", "refresh_token",
                        "--scope", "openid read write")
        self.assertEqual(tv["grant_types"], [DC, "refresh_token"])
        self.tv = ("tv", tv["client_secret"])
        radio = add_client(self.db, "Kitchen Radio", "--id", "radio",
                           "--grant", "device-code", "--scope", "read")
        self.radio = ("radio", radio["client_secret"])
        api = add_client(self.db, "api", "--id", "api")
        self.api = ("api", api["client_secret"])
        for u in ("dave", "erin"):
            cli(self.db, "user", "add", u, "--password-stdin",
                stdin=u + "-password-1\n")
        self.s = self.start("--test-double", *self.SERVER_ARGS)
        # Where a browser reaches it (the issuer is the same here).
        self.base = "http://127.0.0.1:%d" % self.s.port

    # --- the device's side -------------------------------------------

    def device_authorization(self, auth=None, body=None, headers=None,
                             **form):
        """POST {device_authorization_path}: auth (client_id, secret) as
        Basic; a str auth is a public client's client_id in the form."""
        auth = self.tv if auth is None else auth
        h = dict(FORM)
        if isinstance(auth, tuple):
            h["Authorization"] = basic(*auth)
        elif auth:
            form = dict(form, client_id=auth)
        h.update(headers or {})
        if body is None:
            body = urllib.parse.urlencode(form)
        return self.s.request("POST", self.DEVICE_AUTHORIZATION_PATH,
                              body=body, headers=h)

    def begin(self, auth=None, **form):
        """A device authorization that succeeds; its JSON, checked."""
        r = self.device_authorization(auth, **form)
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.headers["content-type"].startswith(
            "application/json"), r.headers)
        self.assertEqual(r.headers["cache-control"], "no-store")
        d = r.json()
        self.assertRegex(d["device_code"], DEVICE_CODE)
        self.assertRegex(d["user_code"], USER_CODE)
        return d

    def poll(self, device_code, auth=None, advance=5):
        """One poll at /token, advance seconds (Latchkey's clock) after
        the previous one; a str auth is a public client's client_id."""
        if advance:
            self.tick(advance)
        auth = self.tv if auth is None else auth
        form = {"grant_type": DC, "device_code": device_code}
        if isinstance(auth, tuple):
            return self.s.token(form, auth=auth)
        return self.s.token(dict(form, client_id=auth))

    def assertPending(self, r):
        self.assertOAuthError(r, 400, "authorization_pending")

    def assertTokens(self, r, user, client_id="tv"):
        """A token response for user; the body."""
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers["cache-control"], "no-store")
        t = r.json()
        self.assertEqual(t["token_type"], "Bearer")
        self.assertIsInstance(t["expires_in"], int)
        self.assertGreater(t["expires_in"], 0)
        c = claims(t["access_token"])
        self.assertEqual((c["sub"], c["client_id"]),
                         (self.user_id(user), client_id))
        # The resource and introspection name the user who approved.
        res = self.s.request("GET", "/resource", headers={
            "Authorization": "Bearer " + t["access_token"]})
        self.assertEqual(res.status, 200, res.body)
        self.assertEqual((res.json()["username"], res.json()["sub"]),
                         (user, self.user_id(user)))
        i = self.s.introspect(t["access_token"], self.api)
        self.assertEqual((i["active"], i["username"], i["client_id"]),
                         (True, user, client_id))
        return t

    # --- the person's side, through the test double ------------------

    def tick(self, secs):
        r = self.s.request("POST", "/_control/clock", headers=FORM,
                           body=urllib.parse.urlencode({"advance": secs}))
        self.assertEqual(r.status, 200, r.body)

    def control(self, user_code, username="dave", action=None):
        form = {"user_code": user_code, "username": username}
        if action is not None:
            form["action"] = action
        return self.s.request("POST", "/_control/device", headers=FORM,
                              body=urllib.parse.urlencode(form))

    def approve(self, user_code, username="dave", action=None):
        r = self.control(user_code, username, action)
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.headers["content-type"].startswith(
            "application/json"), r.headers)
        return r.json()

    def assertControlRefused(self, r):
        self.assertEqual(r.status, 400, r.body)
        self.assertTrue(r.headers["content-type"].startswith(
            "application/json"), r.headers)
        self.assertIsInstance(r.json()["error"], str)

    def user_id(self, username):
        users = json.loads(cli(self.db, "user", "list", "--json").stdout)
        return [u for u in users if u["username"] == username][0]["user_id"]


class DeviceFlowTest(DeviceBase):
    def test_the_whole_flow_approved_through_the_test_double(self):
        d = self.begin(scope="openid read")
        iss = self.s.issuer
        self.assertEqual(d["verification_uri"], iss + "/device")
        self.assertEqual(d["verification_uri_complete"],
                         iss + "/device?user_code=" + d["user_code"])
        self.assertEqual((d["expires_in"], d["interval"]), (600, 5))
        self.assertEqual(len(d), 6, sorted(d))
        # The first poll is never slow_down: nobody has approved yet.
        self.assertPending(self.poll(d["device_code"], advance=0))
        a = self.approve(d["user_code"], "dave")
        self.assertEqual(a, {"user_code": d["user_code"], "client_id": "tv",
                             "approved": True, "username": "dave"})
        t = self.assertTokens(self.poll(d["device_code"]), "dave")
        self.assertEqual(t["scope"], "openid read")
        # tv has the refresh_token grant: it gets one, and it works.
        self.assertIsInstance(t["refresh_token"], str)
        # openid asked: an ID token for dave, for tv.
        idt = claims(t["id_token"])
        self.assertEqual((idt["sub"], idt["aud"], idt["iss"]),
                         (self.user_id("dave"), "tv", iss))
        r = self.s.token({"grant_type": "refresh_token",
                          "refresh_token": t["refresh_token"]}, auth=self.tv)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(claims(r.json()["access_token"])["sub"],
                         self.user_id("dave"))
        # A device code gives tokens once.
        self.assertOAuthError(self.poll(d["device_code"]), 400,
                              "invalid_grant")
        self.assertOAuthError(self.poll(d["device_code"], advance=30), 400,
                              "invalid_grant")

    def test_a_dpop_proof_on_the_poll_binds_the_tokens(self):
        from test_dpop import Key
        key = Key()
        d = self.begin(scope="read")
        self.approve(d["user_code"], "dave")
        self.tick(5)
        htu = self.s.issuer + "/token"
        r = self.s.token({"grant_type": DC, "device_code": d["device_code"]},
                         auth=self.tv,
                         headers={"DPoP": key.proof("POST", htu)})
        self.assertEqual(r.status, 200, r.body)
        t = r.json()
        self.assertEqual(t["token_type"], "DPoP")
        self.assertEqual(claims(t["access_token"])["cnf"],
                         {"jkt": key.thumbprint()})
        # A bad proof is refused before the device code is looked at.
        d = self.begin(scope="read")
        self.approve(d["user_code"], "dave")
        r = self.s.token({"grant_type": DC, "device_code": d["device_code"]},
                         auth=self.tv,
                         headers={"DPoP": key.proof("GET", htu)})
        self.assertOAuthError(r, 400, "invalid_dpop_proof")
        self.assertTokens(self.poll(d["device_code"]), "dave")

    def test_default_scope_and_no_refresh_token_without_the_grant(self):
        # No scope: the client's scopes, as at /token.
        d = self.begin()
        self.approve(d["user_code"], "erin")
        t = self.assertTokens(self.poll(d["device_code"]), "erin")
        self.assertEqual(sorted(t["scope"].split()),
                         ["openid", "read", "write"])
        # radio lacks the refresh_token grant: no refresh token; no
        # openid scope: no ID token.
        d = self.begin(self.radio)
        self.approve(d["user_code"], "dave")
        t = self.assertTokens(self.poll(d["device_code"], self.radio),
                              "dave", "radio")
        self.assertEqual(t["scope"], "read")
        self.assertNotIn("refresh_token", t)
        self.assertNotIn("id_token", t)

    def test_slow_down(self):
        dc = self.begin()["device_code"]
        self.assertPending(self.poll(dc, advance=0))
        # Polling every interval (5 s) is fine ...
        self.assertPending(self.poll(dc, advance=5))
        # ... sooner is slow_down, and the interval grows by 5 s for all
        # later polls: 5 s after is still too soon.
        self.assertOAuthError(self.poll(dc, advance=0), 400, "slow_down")
        self.assertOAuthError(self.poll(dc, advance=5), 400, "slow_down")
        # Long enough after (whether the second slow_down grew it again
        # or not): pending again.
        self.assertPending(self.poll(dc, advance=20))

        # Another device code: after one slow_down, every 10 s is fine,
        # every 5 s is not.
        dc = self.begin()["device_code"]
        self.assertPending(self.poll(dc, advance=0))
        self.assertOAuthError(self.poll(dc, advance=0), 400, "slow_down")
        self.assertPending(self.poll(dc, advance=10))
        self.assertPending(self.poll(dc, advance=10))
        self.assertOAuthError(self.poll(dc, advance=5), 400, "slow_down")
        # The interval is the device code's own: a fresh code's first
        # poll is not slow_down, however recent the other's polls.
        d = self.begin()
        self.assertPending(self.poll(d["device_code"], advance=0))
        # Slowed down or not, an approved code still gives its tokens.
        self.approve(d["user_code"])
        self.assertTokens(self.poll(d["device_code"], advance=15), "dave")

    def test_expired_token(self):
        d = self.begin()
        self.assertPending(self.poll(d["device_code"], advance=0))
        # Just before expires_in (600 s): still pending.
        self.assertPending(self.poll(d["device_code"], advance=590))
        # Past it: expired_token, and nobody can approve it any more.
        self.assertOAuthError(self.poll(d["device_code"], advance=11), 400,
                              "expired_token")
        self.assertControlRefused(self.control(d["user_code"], "dave"))
        # An approved code that was not redeemed in time expires too.
        d = self.begin()
        self.approve(d["user_code"], "dave")
        self.assertOAuthError(self.poll(d["device_code"], advance=601), 400,
                              "expired_token")

    def test_access_denied(self):
        d = self.begin()
        self.assertPending(self.poll(d["device_code"], advance=0))
        a = self.approve(d["user_code"], "dave", action="deny")
        self.assertEqual((a["user_code"], a["client_id"], a["approved"]),
                         (d["user_code"], "tv", False))
        self.assertOAuthError(self.poll(d["device_code"]), 400,
                              "access_denied")
        # Decided: it cannot be allowed afterwards.
        self.assertControlRefused(self.control(d["user_code"], "dave"))
        r = self.poll(d["device_code"])
        self.assertEqual(r.status, 400, r.body)
        self.assertNotIn("access_token", r.json())

    def test_control_refusals(self):
        d = self.begin()
        wrong = other_code(d["user_code"])
        self.assertControlRefused(self.control(wrong, "dave"))
        self.assertControlRefused(self.control(d["user_code"], "ghost"))
        # Neither decided anything.
        self.assertPending(self.poll(d["device_code"], advance=0))
        self.approve(d["user_code"], "erin")
        # Already decided.
        self.assertControlRefused(self.control(d["user_code"], "dave"))
        self.assertControlRefused(self.control(d["user_code"], "dave",
                                               action="deny"))
        self.assertTokens(self.poll(d["device_code"]), "erin")
        # Without --test-double there is no /_control/device.
        plain = self.start()
        r = plain.request("POST", "/_control/device", headers=FORM,
                          body=urllib.parse.urlencode(
                              {"user_code": self.begin()["user_code"],
                               "username": "dave"}))
        self.assertEqual(r.status, 404, r.body)

    def test_control_refuses_a_disabled_client(self):
        d = self.begin()
        cli(self.db, "client", "disable", "tv")
        self.assertControlRefused(self.control(d["user_code"]))
        self.assertIn("disabled", self.control(d["user_code"]).json()[
            "error_description"])

    def test_invalid_grant_for_unknown_and_foreign_codes(self):
        d = self.begin()
        self.approve(d["user_code"], "dave")
        # Another client's device code.
        self.assertOAuthError(self.poll(d["device_code"], self.radio), 400,
                              "invalid_grant")
        # Unknown ones, and the user code in its place.
        for code in ("A" * 43, d["device_code"][:-1] +
                     ("A" if d["device_code"][-1] != "A" else "B"),
                     d["user_code"]):
            with self.subTest(code=code):
                self.assertOAuthError(self.poll(code), 400, "invalid_grant")
        # The owner still gets its tokens.
        self.assertTokens(self.poll(d["device_code"]), "dave")

    def test_unauthorized_client(self):
        plain = add_client(self.db, "plain", "--id", "plain", "--grant",
                           "client_credentials", "--scope", "read")
        plain = ("plain", plain["client_secret"])
        self.assertOAuthError(self.device_authorization(plain), 400,
                              "unauthorized_client")
        # Nor may it poll with a device code it got hold of.
        dc = self.begin()["device_code"]
        self.assertOAuthError(self.poll(dc, plain), 400,
                              "unauthorized_client")

    def test_invalid_client(self):
        cases = [
            ("wrong secret", ("tv", "not-the-secret-at-all")),
            ("unknown client", ("ghost", "ghost-secret-123456")),
            ("confidential without its secret", "tv"),
            ("unknown public client", "ghost"),
        ]
        for name, auth in cases:
            with self.subTest(name):
                self.assertOAuthError(self.device_authorization(auth), 401,
                                      "invalid_client")
        r = self.device_authorization(auth=False)
        self.assertOAuthError(r, 401, "invalid_client")
        # Polling needs the client too.
        dc = self.begin()["device_code"]
        for name, auth in cases[:3]:
            with self.subTest("poll: " + name):
                self.assertOAuthError(self.poll(dc, auth), 401,
                                      "invalid_client")

    def test_client_secret_post(self):
        d = self.begin(auth=False, client_id="tv", client_secret=self.tv[1],
                       scope="read")
        r = self.s.token({"grant_type": DC, "device_code": d["device_code"],
                          "client_id": "tv", "client_secret": self.tv[1]})
        self.assertPending(r)
        self.approve(d["user_code"])
        self.tick(5)
        r = self.s.token({"grant_type": DC, "device_code": d["device_code"],
                          "client_id": "tv", "client_secret": self.tv[1]})
        self.assertEqual(self.assertTokens(r, "dave")["scope"], "read")

    def test_bad_requests(self):
        self.assertOAuthError(self.device_authorization(scope="admin"), 400,
                              "invalid_scope")
        self.assertOAuthError(self.device_authorization(self.radio,
                                                        scope="read write"),
                              400, "invalid_scope")
        self.assertOAuthError(self.device_authorization(
            body="scope=read&scope=write"), 400, "invalid_request")

    def test_a_public_client(self):
        c = add_client(self.db, "Set-top Box", "--id", "box", "--public",
                       "--grant", "device-code", "--grant", "refresh_token",
                       "--scope", "read")
        self.assertEqual(c["grant_types"], [DC, "refresh_token"])
        d = self.begin("box")
        self.assertEqual(d["verification_uri"], self.s.issuer + "/device")
        self.assertPending(self.poll(d["device_code"], "box", advance=0))
        # Its device code is its own: tv cannot redeem it, nor it tv's.
        self.approve(d["user_code"], "erin")
        self.assertOAuthError(self.poll(d["device_code"]), 400,
                              "invalid_grant")
        other = self.begin()
        self.approve(other["user_code"], "dave")
        self.assertOAuthError(self.poll(other["device_code"], "box"), 400,
                              "invalid_grant")
        t = self.assertTokens(self.poll(d["device_code"], "box"), "erin",
                              "box")
        self.assertEqual(t["scope"], "read")
        self.assertIn("refresh_token", t)

    def test_cli_grant_names(self):
        # The short name and the URN are both input; the URN is output.
        for grant in ("device-code", DC):
            with self.subTest(grant):
                c = add_client(self.db, "c-" + grant[-4:], "--grant", grant)
                self.assertEqual(c["grant_types"], [DC])
        show = json.loads(cli(self.db, "client", "show", "tv",
                              "--json").stdout)
        self.assertEqual(show["grant_types"], [DC, "refresh_token"])
        self.assertIn(DC, cli(self.db, "client", "show", "tv").stdout)
        listed = json.loads(cli(self.db, "client", "list", "--json").stdout)
        radio = [c for c in listed if c["client_id"] == "radio"][0]
        self.assertEqual(radio["grant_types"], [DC])

    def test_discovery(self):
        for path in ("/.well-known/oauth-authorization-server",
                     "/.well-known/openid-configuration"):
            with self.subTest(path):
                md = self.s.get_json(path)
                self.assertEqual(md["device_authorization_endpoint"],
                                 self.s.issuer + "/device_authorization")
                self.assertIn(DC, md["grant_types_supported"])


class DeviceSettingsTest(DeviceBase):
    """device_authorization_path, device_path, device_code_ttl and
    device_poll_interval."""

    DEVICE_AUTHORIZATION_PATH = "/realms/t/device/auth"
    DEVICE_PATH = "/realms/t/device"
    SERVER_ARGS = ("--device-authorization-path", DEVICE_AUTHORIZATION_PATH,
                   "--device-path", DEVICE_PATH,
                   "--device-code-ttl", "120",
                   "--device-poll-interval", "7")

    def test_paths_ttl_and_interval_follow_the_settings(self):
        iss = self.s.issuer
        md = self.s.get_json("/.well-known/oauth-authorization-server")
        self.assertEqual(md["device_authorization_endpoint"],
                         iss + self.DEVICE_AUTHORIZATION_PATH)
        self.assertEqual(self.s.request("POST", "/device_authorization",
                                        body="", headers={
                                            **FORM, "Authorization":
                                            basic(*self.tv)}).status, 404)
        d = self.begin()
        self.assertEqual(d["verification_uri"], iss + self.DEVICE_PATH)
        self.assertEqual(d["verification_uri_complete"],
                         iss + self.DEVICE_PATH + "?user_code=" +
                         d["user_code"])
        self.assertEqual((d["expires_in"], d["interval"]), (120, 7))
        page = requests.get(d["verification_uri_complete"].replace(
            iss, self.base), allow_redirects=False)
        self.assertEqual(page.status_code, 200, page.text)
        self.assertEqual(Form(page.text).fields["user_code"], d["user_code"])
        # 5 s is sooner than 7: slow_down; then 7 + 5 = 12 s.
        self.assertPending(self.poll(d["device_code"], advance=0))
        self.assertOAuthError(self.poll(d["device_code"], advance=5), 400,
                              "slow_down")
        self.assertPending(self.poll(d["device_code"], advance=13))
        self.assertOAuthError(self.poll(d["device_code"], advance=121), 400,
                              "expired_token")


class DeviceCurlTest(DeviceBase):
    """The device's side with curl alone, as a shell script on a device
    would do it."""

    def curl(self, *args):
        if shutil.which("curl") is None:
            skip_or_fail(self, "curl not installed")
        hdr = os.path.join(self.dir, "curl-headers-%d" % time.time_ns())
        p = subprocess.run(["curl", "-sS", "-D", hdr, "-w", "\n%{http_code}",
                            *args], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        body, status = p.stdout.rsplit("\n", 1)
        headers = {}
        with open(hdr) as f:
            for line in f:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
        return int(status), headers, body

    def test_the_flow_with_curl(self):
        iss = self.s.issuer
        user = "tv:" + self.tv[1]
        status, h, body = self.curl("-u", user, "-d", "scope=read",
                                    iss + "/device_authorization")
        self.assertEqual(status, 200, body)
        self.assertEqual(h["cache-control"], "no-store")
        d = json.loads(body)
        self.assertRegex(d["user_code"], USER_CODE)
        self.assertRegex(d["device_code"], DEVICE_CODE)
        self.assertEqual(d["verification_uri"], iss + "/device")
        poll = ["-u", user, "-d", "grant_type=" + DC, "-d",
                "device_code=" + d["device_code"], iss + "/token"]
        status, _, body = self.curl(*poll)
        self.assertEqual((status, json.loads(body)["error"]),
                         (400, "authorization_pending"), body)
        status, _, body = self.curl("-d", "user_code=" + d["user_code"],
                                    "-d", "username=dave",
                                    iss + "/_control/device")
        self.assertEqual(status, 200, body)
        self.assertIs(json.loads(body)["approved"], True)
        status, _, body = self.curl("-d", "advance=5", iss + "/_control/clock")
        self.assertEqual(status, 200, body)
        status, h, body = self.curl(*poll)
        self.assertEqual(status, 200, body)
        self.assertEqual(h["cache-control"], "no-store")
        t = json.loads(body)
        self.assertEqual((t["token_type"], t["scope"]), ("Bearer", "read"))
        status, _, body = self.curl("-H", "Authorization: Bearer " +
                                    t["access_token"], iss + "/resource")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["username"], "dave")
        # Once only.
        self.curl("-d", "advance=5", iss + "/_control/clock")
        status, _, body = self.curl(*poll)
        self.assertEqual((status, json.loads(body)["error"]),
                         (400, "invalid_grant"), body)

    def test_a_public_client_with_curl(self):
        add_client(self.db, "Set-top Box", "--id", "box", "--public",
                   "--grant", "device-code", "--scope", "read")
        iss = self.s.issuer
        status, _, body = self.curl("-d", "client_id=box",
                                    iss + "/device_authorization")
        self.assertEqual(status, 200, body)
        d = json.loads(body)
        poll = ["-d", "client_id=box", "-d", "grant_type=" + DC, "-d",
                "device_code=" + d["device_code"], iss + "/token"]
        status, _, body = self.curl(*poll)
        self.assertEqual((status, json.loads(body)["error"]),
                         (400, "authorization_pending"), body)
        status, _, body = self.curl("-d", "user_code=" + d["user_code"],
                                    "-d", "username=erin", "-d",
                                    "action=deny", iss + "/_control/device")
        self.assertEqual(status, 200, body)
        self.curl("-d", "advance=5", iss + "/_control/clock")
        status, _, body = self.curl(*poll)
        self.assertEqual((status, json.loads(body)["error"]),
                         (400, "access_denied"), body)


RECIPE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients",
                      "device_login.sh")
SERVICE_AUTH_DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "docs", "service-auth.md")


class DeviceRecipeTest(DeviceBase):
    """The device login recipe of docs/service-auth.md
    (tests/e2e/clients/device_login.sh, quoted there byte for byte), run
    as it is with sh, curl and jq: the person's decision comes through
    /_control/device while the script polls on its own (every second:
    device_poll_interval 1, so the test waits a few real seconds)."""

    SERVER_ARGS = ("--device-poll-interval", "1")

    def run_recipe(self, username, action=None):
        for tool in ("sh", "curl", "jq"):
            if shutil.which(tool) is None:
                skip_or_fail(self, tool + " not installed")
        add_client(self.db, "Command-line tool", "--id", "cli-tool",
                   "--public", "--grant", "device-code", "--scope",
                   "read write")
        env = dict(os.environ, ISS=self.s.issuer, CLIENT_ID="cli-tool",
                   SCOPE="read")
        p = subprocess.Popen(["sh", RECIPE], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            line = p.stderr.readline().rstrip("\n")
            m = re.fullmatch(r"Open (\S+) and enter the code (\S+)", line)
            self.assertIsNotNone(m, line)
            self.assertEqual(m.group(1), self.s.issuer + "/device")
            self.assertRegex(m.group(2), USER_CODE)
            self.approve(m.group(2), username, action)
            out, err = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
        return p.returncode, out, line + "\n" + err

    def test_the_recipe_signs_a_person_in(self):
        rc, out, err = self.run_recipe("erin")
        self.assertEqual(rc, 0, err)
        t = json.loads(out)
        self.assertEqual((t["token_type"], t["scope"]), ("Bearer", "read"))
        self.assertEqual(claims(t["access_token"])["sub"],
                         self.user_id("erin"))
        self.assertEqual(claims(t["access_token"])["client_id"], "cli-tool")

    def test_the_recipe_stops_on_a_denial(self):
        rc, out, err = self.run_recipe("erin", "deny")
        self.assertEqual(rc, 1, err)
        self.assertEqual(out, "")
        self.assertIn('sign-in failed: {"error":"access_denied"', err)

    def test_the_doc_quotes_the_recipe(self):
        with open(RECIPE) as f:
            recipe = f.read()
        with open(SERVICE_AUTH_DOC) as f:
            doc = f.read()
        self.assertIn("```sh\n" + recipe + "```\n", doc)


class DevicePageBase(DeviceBase):
    """The /device page without a browser: a requests session keeps the
    cookies (lk_csrf, lk_session) and posts the forms with their hidden
    fields, as a browser would, minus Origin and Sec-Fetch-Site."""

    def browser(self):
        return requests.Session()

    def open(self, session, user_code=None):
        """GET {device_path}, maybe with ?user_code=; the code page."""
        url = self.base + self.DEVICE_PATH
        if user_code is not None:
            url += "?" + urllib.parse.urlencode({"user_code": user_code})
        r = session.get(url, allow_redirects=False)
        self.assertPage(r, 200)
        self.assertCodePage(r)
        return r

    def submit(self, session, page, button, headers=None, drop=(),
               **fields):
        """Posts the page's form as a browser would, with fields
        overridden and the button action=button pressed."""
        form = Form(page.text)
        self.assertIn(("action", button), form.buttons)
        data = dict(form.fields)
        data.update(fields)
        data["action"] = button
        for k in drop:
            data.pop(k, None)
        target = form.action or self.DEVICE_PATH
        if not target.startswith("/"):
            target = urllib.parse.urlsplit(target).path
        return session.post(self.base + target, data=data,
                            headers=headers or {}, allow_redirects=False)

    def assertPage(self, r, status):
        """An HTML page of ours, as /authorize's are."""
        self.assertEqual(r.status_code, status, r.text)
        self.assertEqual(r.headers["content-type"], "text/html; charset=utf-8")
        for k, v in PAGE_HEADERS.items():
            self.assertEqual(r.headers[k], v)
        self.assertIn("frame-ancestors 'none'",
                      r.headers["content-security-policy"])
        self.assertNotIn("location", r.headers)

    def assertCodePage(self, r):
        form = Form(r.text)
        self.assertIn("user_code", form.fields)
        self.assertIn("csrf", form.fields)
        self.assertIn(("action", "code"), form.buttons)
        self.assertNotIn("password", form.fields)

    def assertLoginPage(self, r):
        self.assertPage(r, 200)
        form = Form(r.text)
        for name in ("username", "password", "user_code", "csrf"):
            self.assertIn(name, form.fields)
        self.assertIn(("action", "login"), form.buttons)

    def assertConsentPage(self, r, user_code, client_name="Living Room TV",
                          scopes=("read",)):
        self.assertPage(r, 200)
        form = Form(r.text)
        self.assertIn(("action", "allow"), form.buttons)
        self.assertIn(("action", "deny"), form.buttons)
        self.assertIn("user_code", form.fields)
        self.assertIn("csrf", form.fields)
        self.assertNotIn("password", form.fields)
        self.assertIn(client_name, r.text)
        self.assertIn(user_code, r.text)
        for s in scopes:
            self.assertIn(s, r.text)

    def assertWrongCode(self, r):
        """The code page again, with an error line."""
        self.assertPage(r, 400)
        self.assertCodePage(r)
        self.assertIn('role="alert"', r.text)

    def login(self, session, page, user="dave"):
        return self.submit(session, page, "login", username=user,
                           password=user + "-password-1")

    def assertRefusedPost(self, r):
        """The CSRF/origin guard's error page (as /authorize's)."""
        self.assertPage(r, 400)
        self.assertIn("did not come from", r.text)
        self.assertNotIn("password", Form(r.text).fields)
        self.assertNotIn("lk_session", r.headers.get("set-cookie", ""))


class DevicePageTest(DevicePageBase):
    def test_the_code_matches_without_case_dashes_or_spaces(self):
        add_client(self.db, "Web App", "--id", "web", "--public", "--grant",
                   "authorization_code", "--redirect-uri", CB, "--scope",
                   "read")
        d = self.begin(scope="read")
        uc = d["user_code"]
        raw = uc.replace("-", "")
        for typed in (raw.lower(), uc.lower(), raw[:4] + " " + raw[4:],
                      " " + uc.lower() + " ", raw, uc):
            with self.subTest(typed=typed):
                b = self.browser()
                page = self.open(b)
                self.assertRegex(page.headers["set-cookie"],
                                 r"^lk_csrf=[A-Za-z0-9_-]{43}; Path=/; ")
                r = self.submit(b, page, "code", user_code=typed)
                # Known code, no session: the login page.
                self.assertLoginPage(r)
        # The last browser signs in and allows.
        r = self.login(b, r)
        self.assertRegex(r.headers["set-cookie"],
                         r"^lk_session=[A-Za-z0-9_-]{43}; Path=/; ")
        self.assertConsentPage(r, uc)
        self.assertPending(self.poll(d["device_code"], advance=0))
        r = self.submit(b, r, "allow")
        self.assertPage(r, 200)
        self.assertIn("Device connected", r.text)
        t = self.assertTokens(self.poll(d["device_code"]), "dave")
        self.assertEqual(t["scope"], "read")
        # The session is /authorize's too: no login asked there.
        _, challenge = pkce()
        r = b.get(self.base + "/authorize?" + urllib.parse.urlencode({
            "response_type": "code", "client_id": "web", "redirect_uri": CB,
            "scope": "read", "state": "s", "code_challenge": challenge,
            "code_challenge_method": "S256"}), allow_redirects=False)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertIn("<title>Allow access?</title>", r.text)
        self.assertNotIn("password", Form(r.text).fields)
        # The user code is spent: entered again, it is a wrong code.
        r = self.submit(b, self.open(b), "code", user_code=uc)
        self.assertWrongCode(r)

    def test_prefilled_deny_then_a_session_goes_straight_to_consent(self):
        d = self.begin(scope="read write")
        b = self.browser()
        page = self.open(b, d["user_code"])
        self.assertEqual(Form(page.text).fields["user_code"], d["user_code"])
        r = self.login(b, self.submit(b, page, "code"), "erin")
        self.assertConsentPage(r, d["user_code"], scopes=("read", "write"))
        r = self.submit(b, r, "deny")
        self.assertPage(r, 200)
        self.assertIn("denied", r.text.lower())
        self.assertNotIn("Device connected", r.text)
        self.assertOAuthError(self.poll(d["device_code"]), 400,
                              "access_denied")
        # Signed in already: the code goes straight to consent.
        d = self.begin(self.radio)
        r = self.submit(b, self.open(b, d["user_code"]), "code")
        self.assertConsentPage(r, d["user_code"], "Kitchen Radio")
        r = self.submit(b, r, "allow")
        self.assertIn("Device connected", r.text)
        self.assertTokens(self.poll(d["device_code"], self.radio), "erin",
                          "radio")

    def test_wrong_and_expired_codes(self):
        d = self.begin()
        b = self.browser()
        for typed in (other_code(d["user_code"]), "nonsense", "",
                      d["user_code"][:-1]):
            with self.subTest(typed=typed):
                self.assertWrongCode(self.submit(b, self.open(b), "code",
                                                 user_code=typed))
        # An unknown user code in the query is no harm either: the form,
        # then the error.
        page = self.open(b, other_code(d["user_code"]))
        self.assertWrongCode(self.submit(b, page, "code"))
        # Past device_code_ttl the right code is refused as wrong.
        self.tick(601)
        self.assertWrongCode(self.submit(b, self.open(b), "code",
                                         user_code=d["user_code"]))

    def test_a_wrong_password_on_the_device_login(self):
        d = self.begin()
        b = self.browser()
        r = self.submit(b, self.open(b, d["user_code"]), "code")
        self.assertLoginPage(r)
        r = self.submit(b, r, "login", username="dave", password="nope")
        self.assertLoginPage(r)
        self.assertIn('role="alert"', r.text)
        # The user code is carried on, so the retry needs no new code.
        self.assertNotEqual(Form(r.text).fields["user_code"], "")
        r = self.login(b, r)
        self.assertConsentPage(r, d["user_code"])

    def test_posts_without_the_csrf_token_or_from_elsewhere(self):
        d = self.begin()
        b = self.browser()
        page = self.open(b, d["user_code"])
        good = Form(page.text).fields["csrf"]
        bad = good[:-1] + ("A" if good[-1] != "A" else "B")
        for name, kw in (("no csrf", dict(drop=("csrf",))),
                         ("empty csrf", dict(csrf="")),
                         ("wrong csrf", dict(csrf=bad))):
            with self.subTest(name):
                self.assertRefusedPost(self.submit(b, page, "code", **kw))
        # The right token from another browser (another cookie).
        self.assertRefusedPost(self.submit(self.browser(), page, "code"))
        # Another origin, token or not.
        for h in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                  {"Sec-Fetch-Site": "cross-site"},
                  {"Sec-Fetch-Site": "same-site"}):
            with self.subTest(h=h):
                self.assertRefusedPost(self.submit(b, page, "code",
                                                   headers=h))
        # Signed in, on the consent page: a forged allow decides nothing.
        consent = self.login(b, self.submit(b, page, "code"))
        self.assertConsentPage(consent, d["user_code"])
        self.assertPending(self.poll(d["device_code"], advance=0))
        self.assertRefusedPost(self.submit(b, consent, "allow",
                                           drop=("csrf",)))
        self.assertRefusedPost(self.submit(
            b, consent, "allow", headers={"Origin": "https://evil.example",
                                          "Sec-Fetch-Site": "cross-site"}))
        self.assertPending(self.poll(d["device_code"]))
        # Same origin, as the browser says it: allowed.
        r = self.submit(b, consent, "allow", headers={
            "Origin": self.base, "Sec-Fetch-Site": "same-origin"})
        self.assertPage(r, 200)
        self.assertIn("Device connected", r.text)
        self.assertTokens(self.poll(d["device_code"]), "dave")


class DevicePageThrottleTest(DevicePageBase):
    SERVER_ARGS = ("--login-max-failures-per-address", "3",
                   "--login-failure-window", "300")

    def test_wrong_codes_are_throttled_per_address(self):
        d = self.begin()
        wrong = other_code(d["user_code"])
        b = self.browser()
        for _ in range(3):
            r = self.submit(b, self.open(b), "code", user_code=wrong)
            self.assertWrongCode(r)
            self.assertNotIn("Too many", r.text)
        # At the limit even the right code is refused, from any browser
        # at this address.
        for browser in (b, self.browser()):
            r = self.submit(browser, self.open(browser), "code",
                            user_code=d["user_code"])
            self.assertWrongCode(r)
            self.assertIn("Too many", r.text)
        # The control endpoint is no page: the device code is intact.
        self.assertPending(self.poll(d["device_code"], advance=0))
        # Once the window has passed, the right code works again.
        self.tick(301)
        r = self.submit(b, self.open(b), "code", user_code=d["user_code"])
        self.assertLoginPage(r)
        r = self.submit(b, self.login(b, r), "allow")
        self.assertIn("Device connected", r.text)
        self.assertTokens(self.poll(d["device_code"]), "dave")
