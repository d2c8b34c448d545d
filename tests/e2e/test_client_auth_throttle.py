"""Issue 12, defect 10 (throttling half): failed client authentications
are counted per client id and per address, like failed logins. Past the
limit the answer is invalid_client without the secret being checked, the
right secret too, until the window ends; a success forgets the client id's
failures. The test double's clock moves time, so no assertion depends on
how fast the machine is: each attempt is one second after the last, which
the slowdown (one check per key per second past half the limit) lets
through."""
import urllib.parse

from lk_harness import LatchkeyTestCase

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
THROTTLED = "too many failed client authentications; try again later"


class ClientAuthThrottleTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        self.write_fixtures({"clients": [
            {"client_id": "svc", "client_secret": "svc-secret-0123456789",
             "grants": ["client_credentials"]},
            {"client_id": "other", "client_secret": "other-secret-0123456",
             "grants": ["client_credentials"]}]})

    def tick(self, s, secs=1):
        r = s.request("POST", "/_control/clock", headers=FORM,
                      body=urllib.parse.urlencode({"advance": secs}))
        self.assertEqual(r.status, 200, r.body)

    def cc(self, s, client_id, secret):
        self.tick(s)
        return s.token({"grant_type": "client_credentials"},
                       auth=(client_id, secret))

    def assertChecked(self, r):
        """Refused after the secret was compared."""
        self.assertOAuthError(r, 401, "invalid_client")
        self.assertNotEqual(r.json()["error_description"], THROTTLED)
        self.assertIn("www-authenticate", r.headers)

    def assertThrottled(self, r):
        self.assertOAuthError(r, 401, "invalid_client")
        self.assertEqual(r.json()["error_description"], THROTTLED)
        self.assertIn("www-authenticate", r.headers)

    def test_right_secret_refused_past_the_limit_until_the_window_ends(self):
        s = self.start_double("--client-auth-max-failures", "4",
                              "--client-auth-failure-window", "300")
        for _ in range(4):
            self.assertChecked(self.cc(s, "svc", "wrong-secret"))
        self.assertThrottled(self.cc(s, "svc", "svc-secret-0123456789"))
        # Another client is not held up.
        self.assertEqual(self.cc(s, "other", "other-secret-0123456").status,
                         200)
        self.tick(s, 300)
        self.assertEqual(self.cc(s, "svc", "svc-secret-0123456789").status,
                         200)
        self.assertIn("client authentication throttled for a client id",
                      s.log_text())

    def test_success_forgets_the_client_ids_failures(self):
        s = self.start_double("--client-auth-max-failures", "4")
        for _ in range(3):
            self.assertChecked(self.cc(s, "svc", "wrong-secret"))
        self.assertEqual(self.cc(s, "svc", "svc-secret-0123456789").status,
                         200)
        for _ in range(3):
            self.assertChecked(self.cc(s, "svc", "wrong-secret"))
        self.assertEqual(self.cc(s, "svc", "svc-secret-0123456789").status,
                         200)

    def test_failures_are_counted_per_address(self):
        """Unknown client ids count too: guessing across ids is stopped by
        the address's count."""
        s = self.start_double("--client-auth-max-failures-per-address", "4")
        for i in range(4):
            self.assertChecked(self.cc(s, f"nobody-{i}", "x"))
        self.assertThrottled(self.cc(s, "svc", "svc-secret-0123456789"))
        self.assertIn("client authentication throttled for a client address",
                      s.log_text())

    def test_introspection_and_revocation_are_throttled_too(self):
        s = self.start_double("--client-auth-max-failures", "2")
        for path in ("/introspect", "/revoke"):
            self.tick(s)
            r = s.request("POST", path, headers=FORM, body=urllib.parse.
                          urlencode({"token": "x", "client_id": "svc",
                                     "client_secret": "wrong"}))
            self.assertChecked(r)
        self.assertThrottled(self.cc(s, "svc", "svc-secret-0123456789"))

    def test_reset_forgets_the_counts(self):
        s = self.start_double("--client-auth-max-failures", "2")
        for _ in range(2):
            self.assertChecked(self.cc(s, "svc", "wrong-secret"))
        self.assertThrottled(self.cc(s, "svc", "svc-secret-0123456789"))
        r = s.request("POST", "/_control/reset", headers=FORM, body="")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.cc(s, "svc", "svc-secret-0123456789").status,
                         200)
