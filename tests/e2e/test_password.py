"""grant_type=password (RFC 6749 section 4.3) against the real latchkeyd:
users from the CLI, Argon2id, same answer for unknown users and wrong
passwords, and throttling of failed attempts."""
import threading

import jwt

from lk_harness import LatchkeyTestCase, add_client, cli


class PasswordGrantTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        c = add_client(self.db, "app", "--grant", "password", "--scope",
                       "profile", "--scope", "email")
        self.auth = (c["client_id"], c["client_secret"])
        cli(self.db, "user", "add", "dave", "--password-stdin",
            stdin="dave-password-1\n")
        self.user_id = [u for u in __import__("json").loads(
            cli(self.db, "user", "list", "--json").stdout)
            if u["username"] == "dave"][0]["user_id"]

    def login(self, s, username, password, auth=None, **extra):
        return s.token({"grant_type": "password", "username": username,
                        "password": password, **extra}, auth=auth or self.auth)

    def test_login_issues_token_for_the_user(self):
        s = self.start()
        r = self.login(s, "dave", "dave-password-1", scope="profile")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers["cache-control"], "no-store")
        body = r.json()
        self.assertEqual(body["token_type"], "Bearer")
        self.assertEqual(body["scope"], "profile")
        claims = jwt.decode(body["access_token"],
                            options={"verify_signature": False})
        self.assertEqual(claims["sub"], self.user_id)
        self.assertTrue(claims["sub"].startswith("u_"))
        self.assertEqual(claims["client_id"], self.auth[0])
        s.stop()
        for secret in ["dave-password-1", body["access_token"]]:
            self.assertNotIn(secret, s.log_text())

    def test_wrong_password_and_unknown_user_look_the_same(self):
        s = self.start()
        a = self.login(s, "dave", "wrong-password")
        b = self.login(s, "nobody", "dave-password-1")
        self.assertOAuthError(a, 400, "invalid_grant")
        self.assertOAuthError(b, 400, "invalid_grant")
        self.assertEqual(a.body, b.body)

    def test_request_errors(self):
        s = self.start()
        cc = add_client(self.db, "cc-only")
        cases = [
            ({"grant_type": "password", "username": "dave"},
             400, "invalid_request"),
            ({"grant_type": "password", "password": "x"}, 400,
             "invalid_request"),
            ({"grant_type": "password", "username": "dave",
              "password": "dave-password-1", "scope": "admin"}, 400,
             "invalid_scope"),
        ]
        for form, status, code in cases:
            with self.subTest(form=form):
                self.assertOAuthError(s.token(form, auth=self.auth), status,
                                      code)
        r = self.login(s, "dave", "dave-password-1",
                       auth=(cc["client_id"], cc["client_secret"]))
        self.assertOAuthError(r, 400, "unauthorized_client")

    def test_failures_are_throttled_per_username(self):
        s = self.start("--login-max-failures", "3",
                       "--login-failure-window", "300")
        for _ in range(3):
            self.assertOAuthError(self.login(s, "dave", "bad"), 400,
                                  "invalid_grant")
        r = self.login(s, "dave", "dave-password-1")
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertIn("too many", r.json()["error_description"])
        # Another user is not affected.
        cli(self.db, "user", "add", "erin", "--password-stdin",
            stdin="erin-password-1\n")
        self.assertEqual(self.login(s, "erin", "erin-password-1").status, 200)
        self.assertIn("login throttled", s.log_text())

    def test_failures_are_throttled_per_address(self):
        s = self.start("--login-max-failures-per-address", "4")
        for i in range(4):
            self.assertOAuthError(self.login(s, f"user{i}", "bad"), 400,
                                  "invalid_grant")
        r = self.login(s, "dave", "dave-password-1")
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertIn("too many", r.json()["error_description"])

    def test_success_resets_the_username_count(self):
        s = self.start("--login-max-failures", "3")
        for _ in range(2):
            self.login(s, "dave", "bad")
        self.assertEqual(self.login(s, "dave", "dave-password-1").status, 200)
        for _ in range(2):
            self.login(s, "dave", "bad")
        self.assertEqual(self.login(s, "dave", "dave-password-1").status, 200)

    def concurrent_logins(self, s, n, password, threads=None):
        """n password grants for dave at once (released together by a
        barrier); returns the responses."""
        barrier = threading.Barrier(n)
        out = [None] * n

        def one(i):
            barrier.wait()
            out[i] = self.login(s, "dave", password)
        ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return out

    def test_concurrent_failures_never_overshoot_the_limit(self):
        """Issue 12, defect 7: 40 wrong passwords at once against a limit
        of 5 checked 8 and could let one through. Each attempt is now
        reserved before Argon2id runs: at most 5 are checked ("wrong"),
        the rest are refused unchecked ("too many"), and the right password
        afterwards is refused in that window."""
        s = self.start("--login-max-failures", "5",
                       "--login-max-failures-per-address", "1000",
                       "--threads", "16")
        rs = self.concurrent_logins(s, 40, "bad")
        # Under valgrind an attempt may wait too long for an Argon2id slot:
        # 503, its reservation given back unchecked.
        busy = [r for r in rs if r.status == 503]
        for r in busy:
            self.assertOAuthError(r, 503, "temporarily_unavailable")
        rs = [r for r in rs if r.status != 503]
        for r in rs:
            self.assertOAuthError(r, 400, "invalid_grant")
        descs = [r.json()["error_description"] for r in rs]
        wrong = descs.count("the username or password is wrong")
        throttled = sum("too many" in d for d in descs)
        self.assertEqual(wrong + throttled + len(busy), 40, descs)
        self.assertLessEqual(wrong, 5, descs)
        self.assertGreaterEqual(wrong, 1, descs)
        for _ in range(5 - wrong):  # only where some were busy
            r = self.login(s, "dave", "bad")
            self.assertEqual(r.json()["error_description"],
                             "the username or password is wrong")
        r = self.login(s, "dave", "dave-password-1")
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertIn("too many", r.json()["error_description"])
