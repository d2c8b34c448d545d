"""Issue 17 section 2: a client can be disabled and enabled again, and
its secret rotated with a grace period, on the real latchkeyd and CLI
(both backends: run as e2e_pg_test_client_lifecycle too).

- `latchkey client disable ID`: invalid_client at the token, introspection
  and revocation endpoints at once, even for a client the server has just
  cached; /authorize shows an error page and never redirects; /userinfo
  refuses the client's tokens. The registration and the token records
  stay; `client enable ID` lets it in again.
- `latchkey client rotate-secret ID --grace DURATION`: both secrets work
  until the grace ends, then only the new one; a service switching
  secrets under load sees no failed request. Without --grace, the old
  secret stops at once (as before)."""
import json
import threading
import time
import urllib.parse

from lk_harness import LatchkeyTestCase, add_client, basic, cli
from lk_load import Client

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CC = {"grant_type": "client_credentials"}


class ClientLifecycleTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        c = add_client(self.db, "svc", "--id", "svc", "--grant",
                       "client_credentials", "--grant", "password",
                       "--grant", "refresh_token", "--scope", "openid read")
        self.svc = (c["client_id"], c["client_secret"])
        cli(self.db, "user", "add", "ada", "--password-stdin",
            stdin="ada-password-1\n")

    def show(self, client_id="svc"):
        return json.loads(cli(self.db, "client", "show", client_id,
                              "--json").stdout)

    def test_disable_refuses_everywhere_and_enable_restores(self):
        s = self.start()
        # Cached by the token endpoint (a second use within the second).
        for _ in range(3):
            self.assertEqual(s.token(CC, auth=self.svc).status, 200)
        login = s.token({"grant_type": "password", "username": "ada",
                         "password": "ada-password-1",
                         "scope": "openid read"}, auth=self.svc)
        self.assertEqual(login.status, 200, login.body)
        tokens = login.json()

        out = json.loads(cli(self.db, "client", "disable", "svc",
                             "--json").stdout)
        self.assertEqual((out["client_id"], out["disabled"],
                          out["changed"]), ("svc", True, True))
        self.assertIsInstance(out["disabled_at"], int)
        # At once, although the server cached the client a moment ago.
        r = s.token(CC, auth=self.svc)
        self.assertOAuthError(r, 401, "invalid_client")
        self.assertEqual(r.json()["error_description"],
                         "the client is disabled")
        r = s.token({"grant_type": "refresh_token",
                     "refresh_token": tokens["refresh_token"]},
                    auth=self.svc)
        self.assertOAuthError(r, 401, "invalid_client")
        for path in ("/introspect", "/revoke"):
            r = s.request("POST", path, body=urllib.parse.urlencode(
                {"token": tokens["access_token"]}),
                headers={**FORM, "Authorization": basic(*self.svc)})
            self.assertOAuthError(r, 401, "invalid_client")
        # A wrong secret gets the same answer; nothing says more.
        r = s.token(CC, auth=("svc", "wrong"))
        self.assertOAuthError(r, 401, "invalid_client")
        # /authorize: an error page, never a redirect to the client.
        r = s.request("GET", "/authorize?" + urllib.parse.urlencode(
            {"response_type": "code", "client_id": "svc",
             "redirect_uri": "https://app.example/cb"}))
        self.assertEqual(r.status, 400, r.body)
        self.assertNotIn("location", r.headers)
        self.assertIn(b"disabled", r.body)
        # /logout naming it: an error page, never a redirect to it.
        r = s.request("GET", "/logout?" + urllib.parse.urlencode(
            {"client_id": "svc",
             "post_logout_redirect_uri": "https://app.example/out"}))
        self.assertEqual(r.status, 400, r.body)
        self.assertNotIn("location", r.headers)
        self.assertIn(b"disabled", r.body)
        # /userinfo: the client's tokens are refused.
        r = s.request("GET", "/userinfo", headers={
            "Authorization": "Bearer " + tokens["access_token"]})
        self.assertEqual(r.status, 401, r.body)
        self.assertIn('error="invalid_token"', r.headers["www-authenticate"])
        # The registration and the records are kept.
        shown = self.show()
        self.assertTrue(shown["disabled"])
        self.assertEqual(shown["disabled_at"], out["disabled_at"])
        self.assertEqual(shown["scopes"], ["openid", "read"])
        listed = json.loads(cli(self.db, "token", "list", "--client", "svc",
                                "--json").stdout)
        self.assertGreaterEqual(len(listed), 4)
        text = cli(self.db, "client", "show", "svc").stdout
        self.assertRegex(text, r"\nstatus +disabled since \d{4}-")
        # Disabling again changes nothing, and says so.
        again = json.loads(cli(self.db, "client", "disable", "svc",
                               "--json").stdout)
        self.assertEqual((again["changed"], again["disabled_at"]),
                         (False, out["disabled_at"]))
        # The log names the client and the address it was refused to.
        self.assertRegex(s.log_text(), r"warn security: client "
                         r"authentication refused: client svc is disabled "
                         r"addr=127\.0\.0\.1 request_id=[0-9a-f]{12}\S+\n")

        out = json.loads(cli(self.db, "client", "enable", "svc",
                             "--json").stdout)
        self.assertEqual((out["disabled"], out["disabled_at"]), (False, None))
        self.assertEqual(s.token(CC, auth=self.svc).status, 200)
        r = s.token({"grant_type": "refresh_token",
                     "refresh_token": tokens["refresh_token"]},
                    auth=self.svc)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(cli(self.db, "client", "show", "svc").stdout
                         .count("status                         enabled"), 1)

    def test_disabled_clients_tokens_are_inactive(self):
        """Introspection by another client (a resource server) says
        inactive while the client is disabled, active again once it is
        enabled; `token revoke --client` ends them for good."""
        rs = add_client(self.db, "rs", "--introspect")
        rs = (rs["client_id"], rs["client_secret"])
        s = self.start()
        tok = s.token(CC, auth=self.svc).json()["access_token"]
        self.assertTrue(s.introspect(tok, rs)["active"])
        cli(self.db, "client", "disable", "svc")
        time.sleep(1.1)  # the client cache's bound (docs/design.md)
        self.assertEqual(s.introspect(tok, rs), {"active": False})
        r = s.request("GET", "/resource",
                      headers={"Authorization": "Bearer " + tok})
        self.assertEqual(r.status, 401, r.body)
        cli(self.db, "client", "enable", "svc")
        time.sleep(1.1)
        self.assertTrue(s.introspect(tok, rs)["active"])
        cli(self.db, "token", "revoke", "--client", "svc")
        cli(self.db, "client", "enable", "svc")
        self.assertFalse(s.introspect(tok, rs)["active"])

    def test_unknown_client(self):
        for cmd in ("disable", "enable"):
            p = cli(self.db, "client", cmd, "nobody", check=False)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("nobody", p.stderr)

    def test_rotation_without_grace_stops_the_old_secret(self):
        s = self.start()
        self.assertEqual(s.token(CC, auth=self.svc).status, 200)
        out = json.loads(cli(self.db, "client", "rotate-secret", "svc",
                             "--json").stdout)
        self.assertIsNone(out["previous_secret_expires_at"])
        self.assertOAuthError(s.token(CC, auth=self.svc), 401,
                              "invalid_client")
        self.assertEqual(s.token(CC, auth=("svc", out["client_secret"]))
                         .status, 200)
        self.assertIsNone(self.show()["previous_secret_expires_at"])

    def test_bad_grace(self):
        for bad in ("", "-5", "1w", "91d", "2.5h", "h", "10ss", "5ds"):
            p = cli(self.db, "client", "rotate-secret", "svc", "--grace",
                    bad, check=False)
            self.assertEqual(p.returncode, 2, (bad, p.stderr))
            self.assertIn("invalid --grace", p.stderr)
        # Nothing changed: the secret still works.
        s = self.start()
        self.assertEqual(s.token(CC, auth=self.svc).status, 200)

    def test_rotation_with_grace_under_load_fails_no_request(self):
        """A service redeploys with the new secret while requests keep
        coming: four threads use the old secret, the secret is rotated
        with a grace period, then the threads switch to the new one one
        by one. Not one request fails. After the grace, only the new
        secret works."""
        s = self.start()
        state = {"secret": self.svc[1], "stop": False}
        results, lock = [], threading.Lock()

        def hammer():
            c = Client(s.port)
            try:
                while not state["stop"]:
                    secret = state["secret"]
                    st, body = c.token(CC, ("svc", secret))
                    with lock:
                        results.append((st, secret))
            finally:
                c.close()

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        out = json.loads(cli(self.db, "client", "rotate-secret", "svc",
                             "--grace", "6s", "--json").stdout)
        new = out["client_secret"]
        self.assertIsInstance(out["previous_secret_expires_at"], int)
        time.sleep(0.5)  # both secrets in use
        state["secret"] = new
        time.sleep(0.5)
        state["stop"] = True
        for t in threads:
            t.join()
        statuses = [st for st, _ in results]
        self.assertGreater(len(statuses), 20)
        self.assertEqual([x for x in results if x[0] != 200], [],
                         f"{len(results)} requests")
        self.assertIn(self.svc[1], {sec for _, sec in results})
        self.assertIn(new, {sec for _, sec in results})
        shown = self.show()
        self.assertEqual(shown["previous_secret_expires_at"],
                         out["previous_secret_expires_at"])
        self.assertRegex(cli(self.db, "client", "show", "svc").stdout,
                         r"\nprevious_secret +valid until \d{4}-")
        # After the grace: the old secret is refused, the new one works.
        time.sleep(max(0, out["previous_secret_expires_at"] - time.time())
                   + 1.2)
        self.assertOAuthError(s.token(CC, auth=self.svc), 401,
                              "invalid_client")
        self.assertEqual(s.token(CC, auth=("svc", new)).status, 200)
        self.assertRegex(cli(self.db, "client", "show", "svc").stdout,
                         r"\nprevious_secret +expired \d{4}-")
        # A second rotation drops the expired secret for good.
        newer = json.loads(cli(self.db, "client", "rotate-secret", "svc",
                               "--grace", "1h", "--json").stdout)
        self.assertEqual(s.token(CC, auth=("svc", new)).status, 200)
        self.assertEqual(s.token(CC, auth=("svc", newer["client_secret"]))
                         .status, 200)
        self.assertOAuthError(s.token(CC, auth=self.svc), 401,
                              "invalid_client")
