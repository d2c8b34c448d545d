"""Issue 13, section 3: the test double's controls stay per process. Two
latchkeyd with --test-double on one PostgreSQL database: a clock move or
an armed fault on one instance changes nothing at the other, while
/_control/reset, which deletes what the database holds (tokens, codes,
sessions, consents, counted failures), empties it for both. Run with
LK_BACKEND=postgresql, as e2e_pg_test_test_double_instances
(docs/test-double.md, "Several instances")."""
import unittest
import urllib.parse

import lk_db
from lk_harness import LatchkeyTestCase

FIXTURES = {
    "clients": [
        {"client_id": "svc", "client_secret": "svc-secret-0123456789",
         "grants": ["client_credentials"], "scopes": ["read"],
         "access_token_ttl": 300},
        {"client_id": "app", "client_secret": "app-secret-0123456789",
         "grants": ["password", "refresh_token"], "scopes": ["read"]},
    ],
    "users": [{"username": "dave", "password": "dave-password-1"}],
}
SVC = ("svc", "svc-secret-0123456789")
APP = ("app", "app-secret-0123456789")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class ControlsPerProcessTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        if not lk_db.is_pg(self.db):
            raise unittest.SkipTest("needs LK_BACKEND=postgresql: one "
                                    "SQLite database has one process")
        self.write_fixtures(FIXTURES)
        # Not --ephemeral: both serve the test's database.
        self.a = self.start("--fixtures", self.fixtures, "--test-double")
        self.b = self.start("--fixtures", self.fixtures, "--test-double")

    def control(self, s, path, **form):
        if form:
            return s.request("POST", "/_control/" + path,
                             body=urllib.parse.urlencode(form), headers=FORM)
        return s.request("GET", "/_control/" + path)

    def cc(self, s):
        r = s.token({"grant_type": "client_credentials"}, auth=SVC)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["access_token"]

    def test_a_clock_move_is_one_instance_s(self):
        token = self.cc(self.b)
        r = self.control(self.a, "clock", advance="3600")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["offset"], 3600)
        self.assertEqual(self.control(self.b, "clock").json()["offset"], 0)
        # An hour on, at a, the 300-second token has expired; b's clock
        # did not move, so there it is still good.
        self.assertFalse(self.a.introspect(token, SVC)["active"])
        self.assertTrue(self.b.introspect(token, SVC)["active"])
        # A token a issues now is stamped with a's time: an hour ahead.
        ia = self.a.introspect(self.cc(self.a), SVC)
        self.assertTrue(ia["active"])
        ib = self.b.introspect(token, SVC)
        self.assertGreaterEqual(ia["iat"] - ib["iat"], 3600 - 5)

    def test_a_fault_is_one_instance_s(self):
        r = self.control(self.a, "faults", endpoint="token", status="503",
                         count="5")
        self.assertEqual(r.status, 200, r.body)
        r = self.a.token({"grant_type": "client_credentials"}, auth=SVC)
        self.assertEqual(r.status, 503, r.body)
        self.assertEqual(r.headers.get("x-latchkey-fault"), "injected")
        self.cc(self.b)  # b serves it
        self.assertEqual(self.control(self.b, "faults").json()["faults"], [])
        [f] = self.control(self.a, "faults").json()["faults"]
        self.assertEqual(f["remaining"], 4)

    def test_reset_empties_the_shared_database_for_both(self):
        token = self.cc(self.b)
        r = self.b.token({"grant_type": "password", "username": "dave",
                          "password": "dave-password-1"}, auth=APP)
        self.assertEqual(r.status, 200, r.body)
        refresh = r.json()["refresh_token"]
        # A failed login is counted in the database (every instance's).
        r = self.b.token({"grant_type": "password", "username": "dave",
                          "password": "wrong"}, auth=APP)
        self.assertEqual(r.status, 400, r.body)
        self.assertGreater(lk_db.db_query(
            self.db, "SELECT count(*) FROM throttle")[0][0], 0)
        self.control(self.b, "clock", advance="60")
        self.control(self.b, "faults", endpoint="jwks", status="500")

        r = self.a.request("POST", "/_control/reset", body="", headers=FORM)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), {"reset": True})
        # What the database held is gone for both instances...
        self.assertFalse(self.b.introspect(token, SVC)["active"])
        r = self.b.token({"grant_type": "refresh_token",
                          "refresh_token": refresh}, auth=APP)
        self.assertEqual(r.status, 400, r.body)
        self.assertEqual(r.json()["error"], "invalid_grant")
        self.assertEqual(lk_db.db_query(
            self.db, "SELECT count(*) FROM throttle"), [(0,)])
        toks = self.control(self.b, "tokens").json()
        self.assertEqual(toks["access_tokens"], [])
        # ... while b's own clock and faults are b's: a's reset left them.
        self.assertEqual(self.control(self.b, "clock").json()["offset"], 60)
        self.assertEqual(len(self.control(self.b, "faults").json()
                             ["faults"]), 1)
        # The fixtures were applied again: the clients still work.
        self.cc(self.a)
        self.cc(self.b)


if __name__ == "__main__":
    unittest.main()
