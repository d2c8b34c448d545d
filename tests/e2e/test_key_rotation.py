"""Issue 17 section 2: signing keys rotate without a failed verification.

A strict verifier caches /jwks.json for the max-age its Cache-Control
gives and never refetches on an unknown kid (the worst a resource server
may do). Against it:

- a staged rotation (`key add --next`, wait longer than the max-age,
  `key rotate`) fails no verification, while an immediate `key rotate`
  (no next key) does, until the cache expires: what staging is for;
- key_rotation_interval does the same on a schedule, with the audit
  trail and the log saying what it did.

Both backends (run as e2e_pg_test_key_rotation too)."""
import json
import re
import subprocess
import threading
import time

import jwt

from lk_harness import LATCHKEYD, LatchkeyTestCase, add_client, cli
from lk_load import Client

CC = {"grant_type": "client_credentials"}


class CachingVerifier:
    """A resource server's JWKS cache, honouring max-age only."""

    def __init__(self, server):
        self.s = server
        self.keys, self.until = {}, 0.0
        self.fetches = 0

    def jwks(self):
        if time.monotonic() >= self.until:
            r = self.s.request("GET", "/jwks.json")
            assert r.status == 200, r.body
            age = int(re.search(r"max-age=(\d+)",
                                r.headers["cache-control"])[1])
            self.keys = {k["kid"]: k for k in r.json()["keys"]}
            self.until = time.monotonic() + age
            self.fetches += 1
        return self.keys

    def verify(self, token):
        kid = jwt.get_unverified_header(token)["kid"]
        jwk = self.jwks().get(kid)
        if jwk is None:
            return kid, False
        jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["ES256"],
                   issuer=self.s.issuer, options={"verify_aud": False})
        return kid, True


class Traffic:
    """Tokens issued and verified in a loop on a thread, until stop."""

    def __init__(self, server, auth):
        self.v = CachingVerifier(server)
        self.auth = auth
        self.port = server.port
        self.results = []  # (kid, verified)
        self.stop_flag = False
        self.t = threading.Thread(target=self.run)

    def run(self):
        c = Client(self.port)
        try:
            while not self.stop_flag:
                st, body = c.token(CC, self.auth)
                assert st == 200, body
                self.results.append(self.v.verify(body["access_token"]))
                time.sleep(0.05)
        finally:
            c.close()

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag = True
        self.t.join()

    def failures(self):
        return [r for r in self.results if not r[1]]

    def kids(self):
        return {kid for kid, _ in self.results}


class KeyRotationTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        c = add_client(self.db, "svc")
        self.auth = (c["client_id"], c["client_secret"])

    def current(self, alg="ES256"):
        keys = json.loads(cli(self.db, "key", "list", "--json").stdout)
        [k] = [k for k in keys if k["alg"] == alg and
               k["status"] == "current"]
        return k["kid"]

    def test_staged_rotation_fails_no_verification(self):
        s = self.start("--jwks-max-age", "2")
        before = self.current()
        with Traffic(s, self.auth) as t:
            time.sleep(1)
            out = json.loads(cli(self.db, "key", "add", "--next", "--alg",
                                 "ES256", "--json").stdout)
            [nxt] = out["keys"]
            self.assertEqual((nxt["alg"], nxt["replaced_next_kid"]),
                             ("ES256", None))
            keys = json.loads(cli(self.db, "key", "list", "--json").stdout)
            [row] = [k for k in keys if k["kid"] == nxt["kid"]]
            self.assertEqual((row["status"], row["published"],
                              row["retired_at"]), ("next", True, None))
            # Published at once, signing nothing yet.
            time.sleep(2.5)
            self.assertIn(nxt["kid"], {k["kid"] for k in s.get_json(
                "/jwks.json")["keys"]})
            self.assertNotIn(nxt["kid"], t.kids())
            # Longer than max-age + the servers' recheck: every cache
            # that matters has it.
            time.sleep(2)
            r = json.loads(cli(self.db, "key", "rotate", "--alg", "ES256",
                               "--json").stdout)
            self.assertEqual((r["kid"], r["previous_kid"], r["promoted"]),
                             (nxt["kid"], before, True))
            time.sleep(4)
        self.assertEqual(t.failures(), [])
        self.assertIn(nxt["kid"], t.kids())
        self.assertIn(before, t.kids())
        self.assertEqual(self.current(), nxt["kid"])

        # The contrast: an immediate rotation (no next key) leaves this
        # verifier unable to verify until its cache expires (10 s here,
        # longer than the servers take to sign with the new key).
        s.stop()
        s = self.start("--jwks-max-age", "10")
        with Traffic(s, self.auth) as t:
            time.sleep(1)
            r = json.loads(cli(self.db, "key", "rotate", "--alg", "ES256",
                               "--json").stdout)
            self.assertFalse(r["promoted"])
            time.sleep(4)
        self.assertNotEqual(t.failures(), [],
                            "a verifier caching the JWKS for 10 s must "
                            "miss a key used at once")
        events = json.loads(cli(self.db, "audit", "list", "--json",
                                "--object", "key:ES256").stdout)
        self.assertEqual([e["action"] for e in events],
                         ["key.add_next", "key.rotate", "key.rotate"])

    def test_key_add_needs_next_and_replaces_a_next_key(self):
        p = cli(self.db, "key", "add", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("'key add' needs --next", p.stderr)
        a = json.loads(cli(self.db, "key", "add", "--next",
                           "--json").stdout)["keys"]
        self.assertEqual(sorted(k["alg"] for k in a), ["ES256", "RS256"])
        b = json.loads(cli(self.db, "key", "add", "--next", "--alg", "RS256",
                           "--json").stdout)["keys"]
        [rs] = [k for k in a if k["alg"] == "RS256"]
        self.assertEqual(b[0]["replaced_next_kid"], rs["kid"])
        keys = json.loads(cli(self.db, "key", "list", "--json").stdout)
        status = {k["kid"]: k["status"] for k in keys}
        self.assertEqual(status[rs["kid"]], "retired")
        self.assertEqual(status[b[0]["kid"]], "next")

    def test_key_rotation_interval(self):
        """Publish at the interval minus the lead (jwks_max_age 1 + 9 s),
        promote at the interval: one rotation in 12 s, none failed."""
        p = subprocess.run([LATCHKEYD, "--db", self.db, "--listen",
                            "127.0.0.1:0", "--jwks-max-age", "1",
                            "--key-rotation-interval", "10"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("setting 'key_rotation_interval': 10 s is too short: "
                      "a next key is published 10 s (jwks_max_age + 9) "
                      "before it signs", p.stderr)
        s = self.start("--jwks-max-age", "1", "--key-rotation-interval",
                       "12")
        first = self.current()
        with Traffic(s, self.auth) as t:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self.current() == first:
                time.sleep(0.5)
            time.sleep(2)
        self.assertNotEqual(self.current(), first, s.log_text())
        self.assertEqual(t.failures(), [])
        self.assertGreaterEqual(len(t.kids()), 2)
        log = s.log_text()
        self.assertRegex(log, r"key rotation: published the next ES256 key "
                         r"\S+; it signs from 10 s on")
        self.assertRegex(log, r"key rotation: the ES256 key \S+ is current; "
                         r"%s is retired" % re.escape(first))
        events = json.loads(cli(self.db, "audit", "list", "--json",
                                "--actor",
                                "latchkeyd:key_rotation_interval").stdout)
        actions = [(e["action"], e["object"]) for e in events]
        self.assertIn(("key.add_next", "key:ES256"), actions)
        self.assertIn(("key.rotate", "key:ES256"), actions)
