"""Purging expired records (docs/operations.md, "Purging"): `latchkey
purge` beside the real latchkeyd, and the server's own purge every
purge_interval seconds. Tokens are issued with 1-second lifetimes through
the real server; what is left is read straight from the SQLite file."""
import re
import subprocess
import time
import unittest
import urllib.parse

import jwt

from lk_cli_helpers import Cli, rows
from lk_harness import LATCHKEYD, LatchkeyTestCase, add_client, cli

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PASSWORD = "dave-password-1"


def jti(token):
    return jwt.decode(token, options={"verify_signature": False})["jti"]


def wait_until_expired(seconds=1):
    """Token times are whole seconds: a token issued during second T with a
    lifetime of s expires at T + s, so past T + s + 1 it has expired
    whenever in T it was issued."""
    time.sleep(seconds + 1.1)


class PurgeBase(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        self.cli = Cli(self.db, self.dir)
        short = add_client(self.db, "short", "--grant", "client_credentials",
                           "--grant", "password", "--grant", "refresh_token",
                           "--access-token-ttl", "1",
                           "--refresh-token-ttl", "1")
        live = add_client(self.db, "live", "--access-token-ttl", "3600")
        rs = add_client(self.db, "api")
        self.short = (short["client_id"], short["client_secret"])
        self.live = (live["client_id"], live["client_secret"])
        self.rs = (rs["client_id"], rs["client_secret"])
        cli(self.db, "user", "add", "dave", "--password-stdin",
            stdin=PASSWORD + "\n")

    def cc(self, s, auth):
        r = s.token({"grant_type": "client_credentials"}, auth=auth)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["access_token"]

    def login(self, s, auth):
        r = s.token({"grant_type": "password", "username": "dave",
                     "password": PASSWORD}, auth=auth)
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def refresh(self, s, rt, auth):
        return s.token({"grant_type": "refresh_token", "refresh_token": rt},
                       auth=auth)

    def count(self, table):
        return rows(self.db, f"SELECT count(*) FROM {table}")[0][0]

    def purge(self):
        return self.cli.json("purge")


class CliPurgeTest(PurgeBase):
    def test_expired_go_live_stay_and_reuse_is_still_caught(self):
        s = self.start("--purge-interval", "0")
        for _ in range(5):
            self.cc(s, self.short)
        self.login(s, self.short)  # a family that expires whole
        live = self.cc(s, self.live)

        # A family that lives on while its first two refresh tokens
        # expire: "app" starts with 4-second refresh tokens (room for a
        # slow CLI run between the refreshes, under ASan on a busy
        # machine; 1 second was sometimes too short), rotates once, then
        # gets an hour, so the third token outlives the first two.
        app = add_client(self.db, "app", "--grant", "password", "--grant",
                         "refresh_token", "--access-token-ttl", "1",
                         "--refresh-token-ttl", "4")
        app = (app["client_id"], app["client_secret"])
        t0 = self.login(s, app)
        r1 = self.refresh(s, t0["refresh_token"], app)
        self.assertEqual(r1.status, 200, r1.body)
        cli(self.db, "client", "update", app[0], "--refresh-token-ttl",
            "3600")
        r2 = self.refresh(s, r1.json()["refresh_token"], app)
        self.assertEqual(r2.status, 200, r2.body)
        t2 = r2.json()

        self.assertEqual(self.count("access_tokens"), 10)
        self.assertEqual(self.count("refresh_tokens"), 4)
        wait_until_expired(4)

        self.assertEqual(self.purge(), {
            "access_tokens": 9, "refresh_tokens": 1,
            "authorization_codes": 0, "sessions": 0,
            "throttle_keys": 0, "previous_secrets": 0, "used_jtis": 0,
            "device_codes": 0, "audit_events": 0})
        self.assertEqual(rows(self.db, "SELECT jti FROM access_tokens"),
                         [(jti(live),)])
        # app's family stays whole: two expired, rotated-out tokens and
        # the live one.
        fam = sorted(rows(self.db, "SELECT client_id, CASE WHEN "
                          "retired_at IS NULL THEN 0 ELSE 1 END, CASE WHEN "
                          "expires_at <= ? THEN 1 ELSE 0 END FROM "
                          "refresh_tokens", (int(time.time()),)),
                     reverse=True)
        self.assertEqual(fam, [(app[0], 1, 1), (app[0], 1, 1),
                               (app[0], 0, 0)])

        # The live token is untouched.
        self.assertTrue(s.introspect(live, self.rs)["active"])
        listed = self.cli.json("token", "list", "--active")
        self.assertEqual([t["jti"] for t in listed], [jti(live)])

        # Replaying the first, expired, rotated-out refresh token is still
        # reuse: the family is revoked, the live refresh token with it.
        r = self.refresh(s, t0["refresh_token"], app)
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertIn("already used", r.json()["error_description"])
        r = self.refresh(s, t2["refresh_token"], app)
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertIn("revoked", r.json()["error_description"])
        self.assertIn("refresh token reuse", s.log_text())

        p = self.cli.run("purge")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "purged 0 access token(s), 0 refresh "
                         "token(s), 0 authorization code(s), 0 session(s)\n")

    def test_the_database_does_not_grow_round_after_round(self):
        """Issue, expire, purge, three times: the rows come back to the
        live ones, and the file stops growing (freed pages are reused)."""
        s = self.start("--purge-interval", "0")
        live = self.cc(s, self.live)
        used, size = [], []
        start = rows(self.db, "PRAGMA page_count")[0][0]
        for _ in range(3):
            for _ in range(150):
                self.cc(s, self.short)
            self.assertEqual(self.count("access_tokens"), 151)
            wait_until_expired()
            self.assertEqual(self.purge()["access_tokens"], 150)
            self.assertEqual(self.count("access_tokens"), 1)
            pages, free = rows(self.db, "SELECT (SELECT page_count FROM "
                               "pragma_page_count), (SELECT freelist_count "
                               "FROM pragma_freelist_count)")[0]
            used.append(pages - free)
            size.append(pages)
        self.assertLessEqual(used[2], used[0], used)
        # Random keys split B-tree pages a little differently each round,
        # so allow a page or two; without the purge, each round would add
        # what the first did.
        self.assertLess(size[2] - size[0], (size[0] - start) / 2,
                        (start, size))
        self.assertTrue(s.introspect(live, self.rs)["active"])

    def test_purge_json_and_help(self):
        out = self.cli.ok("purge", "--help")
        self.assertIn("usage: latchkey purge", out)
        self.assertIn("rotated-out tokens stay", out)
        p = self.cli.run("purge", "extra")
        self.assertEqual(p.returncode, 2)


class ScheduledPurgeTest(PurgeBase):
    LINE = (r"purged (\d+) access token\(s\), (\d+) refresh token\(s\), "
            r"(\d+) authorization code\(s\), (\d+) session\(s\) in \d+ ms")

    def purged(self, s):
        """The access tokens each logged purge deleted."""
        return [int(m.group(1)) for m in re.finditer(self.LINE,
                                                     s.log_text())]

    def wait_for_purged(self, s, total, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(self.purged(s)) >= total:
                return
            time.sleep(0.1)
        self.fail(f"{total} not purged; the log:\n{s.log_text()}")

    def test_the_server_purges_every_interval(self):
        s = self.start("--purge-interval", "1")
        self.assertIn(", purge every 1 s\n", s.log_text())
        for _ in range(4):
            self.cc(s, self.short)
        live = self.cc(s, self.live)
        self.wait_for_purged(s, 4)
        self.assertEqual(sum(self.purged(s)), 4)
        self.assertEqual(rows(self.db, "SELECT jti FROM access_tokens"),
                         [(jti(live),)])
        # A line only for a purge that deleted something (the 4 may have
        # expired in different seconds on a slow machine: up to 4 lines).
        lines = len(self.purged(s))
        self.assertIn(lines, (1, 2, 3, 4))
        time.sleep(2.5)
        self.assertEqual(len(self.purged(s)), lines)

    def test_the_purge_follows_the_servers_clock(self):
        """With the test double's clock moved an hour on, the hour-long
        token is purged too, with no sleeping for it to expire."""
        s = self.start("--purge-interval", "1", "--test-double")
        live = self.cc(s, self.live)
        r = s.request("POST", "/_control/clock",
                      body=urllib.parse.urlencode({"advance": 3601}),
                      headers=FORM)
        self.assertEqual(r.status, 200, r.body)
        self.wait_for_purged(s, 1)
        self.assertEqual(self.count("access_tokens"), 0)
        self.assertFalse(s.introspect(live, self.rs)["active"])

    def test_zero_turns_it_off(self):
        s = self.start("--purge-interval", "0")
        self.assertIn(", purge off\n", s.log_text())
        self.cc(s, self.short)
        wait_until_expired()
        time.sleep(1)
        self.assertEqual(self.count("access_tokens"), 1)
        self.assertNotIn("purged", s.log_text())

    def test_a_bad_interval_stops_start_up(self):
        for bad in ("-1", "soon", "31536001"):
            with self.subTest(bad=bad):
                p = self.cli_server("--purge-interval", bad)
                self.assertEqual(p.returncode, 2)
                self.assertIn("setting 'purge_interval' (from "
                              "--purge-interval)", p.stderr)

    def cli_server(self, *args):
        return subprocess.run([LATCHKEYD, "--listen", "127.0.0.1:0", "--db",
                               self.db, *args], capture_output=True,
                              text=True, timeout=30)


if __name__ == "__main__":
    unittest.main()
