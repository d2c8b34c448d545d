"""Stress: many concurrent clients on loopback, bounded by count, issuing,
refreshing (some reusing a retired refresh token on purpose), introspecting
and revoking at once. Afterwards the invariants must hold:

- no refresh token was accepted twice, as the clients saw it and as the
  database records it (a family holds one refresh token per login plus one
  per accepted rotation);
- every access token a client got a 200 for is recorded, and nothing else
  (`latchkey token list --json`);
- no family survives a detected reuse, nor a revoked refresh token: every
  access token of it introspects inactive and its refresh token is refused;
- every other access token is still active;
- latchkeyd's resident memory is back near what it was at idle after a
  warm-up (release builds only: ASan's own allocator holds on to memory).

Prints one summary line (requests, duration, rate, memory) on stderr.
"""
import json
import sys
import threading
import time

from lk_harness import SANITIZED, LatchkeyTestCase, cli
from lk_load import (Client, introspect_all, jwt_claims, register_load_parties,
                     rss_kb, run_threads)

PER_THREAD = 60 if SANITIZED else 300  # requests per load thread
ISSUERS, REFRESHERS, REUSERS = 4, 8, 4  # 16 threads
REUSE_CHAIN = 25    # rotations per login before a reuser replays one
RSS_SLACK_KB = 8 * 1024


class Tally:
    """What the clients saw, merged from every thread (list.append and
    dict updates are atomic under the GIL; counters take the lock)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.acked = []          # every access token a 200 carried
        self.revoked = set()     # access tokens revoked one by one
        self.accepted = {}       # refresh token -> 200s it got
        self.families = {}       # login jti -> [access tokens]
        self.rotations = {}      # login jti -> accepted rotations
        self.dead = {}           # login jti -> its last refresh token, for
                                 # families that must be dead (reuse, revoke)

    def count(self, n=1):
        with self.lock:
            self.requests += n


class StressTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        register_load_parties(self)

    # ---- one client's requests, each checked on the spot -----------------

    def call(self, c, tally, path, form, auth, want=200):
        st, body = c.post(path, form, auth)
        tally.count()
        self.assertEqual(st, want, body)
        return body

    def active(self, c, tally, token):
        return self.call(c, tally, "/introspect", {"token": token},
                         self.rs)["active"]

    def login(self, c, tally):
        body = self.call(c, tally, "/token",
                         {"grant_type": "password", "username": "dave",
                          "password": "dave-password-1"}, self.app)
        fam = jwt_claims(body["access_token"])["jti"]
        tally.acked.append(body["access_token"])
        tally.families[fam] = [body["access_token"]]
        tally.rotations[fam] = 0
        return fam, body["refresh_token"]

    def rotate(self, c, tally, fam, rt):
        body = self.call(c, tally, "/token", {"grant_type": "refresh_token",
                                              "refresh_token": rt}, self.app)
        with tally.lock:
            tally.accepted[rt] = tally.accepted.get(rt, 0) + 1
            tally.rotations[fam] += 1
        tally.acked.append(body["access_token"])
        tally.families[fam].append(body["access_token"])
        return body

    def refused(self, c, tally, rt):
        body = self.call(c, tally, "/token", {"grant_type": "refresh_token",
                                              "refresh_token": rt}, self.app,
                         want=400)
        self.assertEqual(body["error"], "invalid_grant")

    # ---- the three kinds of client -------------------------------------

    def issuer(self, port, tally):
        """client_credentials; checks some tokens, revokes every tenth."""
        c = Client(port)
        n = 0
        while n < PER_THREAD:
            at = self.call(c, tally, "/token",
                           {"grant_type": "client_credentials"},
                           self.svc)["access_token"]
            tally.acked.append(at)
            n += 1
            if n % 10 == 0:
                self.call(c, tally, "/revoke", {"token": at}, self.svc)
                self.assertFalse(self.active(c, tally, at))
                tally.revoked.add(at)
                n += 2
            elif n % 3 == 0:
                self.assertTrue(self.active(c, tally, at))
                n += 1
        c.close()

    def refresher(self, port, tally):
        """One login, then a long rotation chain; revokes its refresh token
        at the end (RFC 7009: the whole family goes)."""
        c = Client(port)
        fam, rt = self.login(c, tally)
        n = 1
        while n < PER_THREAD - 2:
            body = self.rotate(c, tally, fam, rt)
            rt = body["refresh_token"]
            n += 1
            if n % 4 == 0:
                self.assertTrue(self.active(c, tally, body["access_token"]))
                n += 1
        self.call(c, tally, "/revoke", {"token": rt}, self.app)
        self.refused(c, tally, rt)
        tally.dead[fam] = rt
        c.close()

    def reuser(self, port, tally):
        """Login, rotate, then present a retired refresh token again: the
        family must die at once."""
        c = Client(port)
        n = 0
        while n < PER_THREAD:
            fam, rt = self.login(c, tally)
            retired = []
            for _ in range(REUSE_CHAIN):
                retired.append(rt)
                rt = self.rotate(c, tally, fam, rt)["refresh_token"]
            n += 1 + REUSE_CHAIN
            self.refused(c, tally, retired[len(retired) // 2])  # the reuse
            self.refused(c, tally, rt)  # the newest goes with its family
            for at in tally.families[fam]:
                self.assertFalse(self.active(c, tally, at))
            n += 2 + len(tally.families[fam])
            tally.dead[fam] = rt
        c.close()

    # ---- the test ------------------------------------------------------

    def warm_up(self, port, tally):
        """Every kind of request, from several connections at once, so that
        each worker thread has its database connection, its Argon2id
        memory and its caches before the idle size is read."""
        def one():
            c = Client(port)
            fam, rt = self.login(c, tally)
            body = self.rotate(c, tally, fam, rt)
            self.active(c, tally, body["access_token"])
            at = self.call(c, tally, "/token",
                           {"grant_type": "client_credentials"},
                           self.svc)["access_token"]
            tally.acked.append(at)
            self.call(c, tally, "/revoke", {"token": at}, self.svc)
            tally.revoked.add(at)
            c.close()
        for _ in range(2):
            run_threads([one] * 8)

    def test_concurrent_clients_keep_every_invariant(self):
        s = self.start()
        tally = Tally()
        self.warm_up(s.port, tally)
        time.sleep(0.5)
        rss_before = rss_kb(s.proc.pid)
        warm_requests = tally.requests

        t0 = time.monotonic()
        run_threads([lambda: self.issuer(s.port, tally)] * ISSUERS +
                    [lambda: self.refresher(s.port, tally)] * REFRESHERS +
                    [lambda: self.reuser(s.port, tally)] * REUSERS)
        secs = time.monotonic() - t0
        load_requests = tally.requests - warm_requests
        time.sleep(1.0)  # let the load settle: log buffer, freed memory
        # "Comes back": an Argon2id block (19 MiB) of a login that ended
        # just now stays resident until housekeeping trims the heap, every
        # 5 s; wait for that trim rather than catch the moment before it.
        rss_after = rss_kb(s.proc.pid)
        settle = time.monotonic() + 12
        while (not SANITIZED and rss_after - rss_before >= RSS_SLACK_KB and
               time.monotonic() < settle):
            time.sleep(0.5)
            rss_after = rss_kb(s.proc.pid)

        # No refresh token accepted twice, as the clients saw it...
        twice = [rt for rt, k in tally.accepted.items() if k > 1]
        self.assertEqual(twice, [])
        # ...and as the database has it: one row per login and rotation.
        rts = json.loads(cli(self.db, "token", "list", "--refresh",
                             "--json").stdout)
        ats = json.loads(cli(self.db, "token", "list", "--json").stdout)
        family_of = {a["jti"]: a["family_id"] for a in ats}
        rows = {}
        for r in rts:
            rows[r["family_id"]] = rows.get(r["family_id"], 0) + 1
        for fam, n in tally.rotations.items():
            self.assertEqual(rows[family_of[fam]], 1 + n)
        # Every access token a client was given is recorded, and only those.
        given = {jwt_claims(t)["jti"] for t in tally.acked}
        self.assertEqual(len(given), len(tally.acked))
        self.assertEqual({a["jti"] for a in ats}, given)

        # Dead families stay dead, and their refresh tokens are refused.
        dead_tokens = {t for fam in tally.dead for t in tally.families[fam]}
        c = Client(s.port)
        for rt in tally.dead.values():
            self.refused(c, tally, rt)
        c.close()
        dead_families = {family_of[f] for f in tally.dead}
        for rec in rts + ats:
            if rec["family_id"] in dead_families:
                self.assertNotEqual(rec["status"], "active", rec)
        # Every token's state is what its history says.
        states = introspect_all(s.port, tally.acked, self.rs)
        for t, is_active in states.items():
            want = t not in tally.revoked and t not in dead_tokens
            self.assertEqual(is_active, want, jwt_claims(t))

        growth = rss_after - rss_before
        print(f"stress: {load_requests} requests from "
              f"{ISSUERS + REFRESHERS + REUSERS} threads in {secs:.2f} s "
              f"({load_requests / secs:.0f} rps); {len(tally.acked)} access "
              f"tokens, {len(tally.accepted)} rotations, {REUSERS} threads "
              f"replaying retired tokens ({len(tally.dead) - REFRESHERS} "
              f"families revoked on reuse); RSS {rss_before} kB idle before, "
              f"{rss_after} kB after ({growth:+d} kB)"
              + (" [not checked under ASan]" if SANITIZED else ""),
              file=sys.stderr)
        if not SANITIZED:
            self.assertLess(growth, RSS_SLACK_KB,
                            "latchkeyd's memory did not come back near its "
                            "idle size")
