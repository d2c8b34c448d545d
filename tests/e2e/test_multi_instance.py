"""Several latchkeyd on one PostgreSQL database act as one server (issue
13 section 3): three instances on the test's database, requests spread
over them. A token issued by one is honoured by the others; a code is
redeemed once; of 48 concurrent refreshes of one refresh token spread
over the instances exactly one wins, and reuse revokes the family
everywhere; instances started at once on an empty database make one
signing key and serve one JWKS; `latchkey key rotate` reaches every
instance; kill -9 of one instance under load leaves the others serving
and every token a client received valid; a removed client or a rotated
secret is refused by every instance at once; PostgreSQL restarted under
load (on a cluster of the test's own) costs 503s while it is down and
nothing that was answered 200.

PostgreSQL only (several processes on one SQLite file are not a
deployment Latchkey supports), and run once, in the release build's
PostgreSQL run (shared/DECISIONS.md, "CI budget"): skipped on SQLite and
under the sanitizers, where e2e_pg_ runs it again.
"""
import base64
import hashlib
import http.client
import json
import secrets
import threading
import time
import urllib.parse

import jwt

import lk_db
import lk_outage
from lk_harness import (SANITIZED, LatchkeyTestCase, Server, add_client,
                        cli, db_query, private_cluster)

ISSUER = "http://auth.multi.test"
CB = "https://app.example/cb"
# Generous: how long `latchkey key rotate` may take to reach an instance
# (docs/scale-out.md gives the bound, about 2 s); polled, not slept.
ROTATE_DEADLINE = 60


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(
        verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def at_once(fns):
    """Runs the callables together (released by one barrier); their
    results in order."""
    out = [None] * len(fns)
    barrier = threading.Barrier(len(fns))

    def run(i):
        barrier.wait()
        try:
            out[i] = fns[i]()
        except Exception as e:  # noqa: BLE001 (reported by the caller)
            out[i] = e
    threads = [threading.Thread(target=run, args=(i,))
               for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in out:
        if isinstance(r, Exception):
            raise r
    return out


class MultiInstanceTest(LatchkeyTestCase):
    """Clients svc (client_credentials), app (password, refresh_token),
    web (public, authorization_code approved as dave) and api (a resource
    server); the user dave."""

    def setUp(self):
        if not lk_db.POSTGRESQL:
            self.skipTest("PostgreSQL only: several instances share one "
                          "PostgreSQL database")
        if SANITIZED:
            self.skipTest("multi-instance tests run once, in the release "
                          "build")
        super().setUp()
        self.register()

    def register(self):
        """The clients and the user, on self.db."""
        svc = add_client(self.db, "svc", "--grant", "client_credentials",
                         "--scope", "read")
        app = add_client(self.db, "app", "--grant", "password", "--grant",
                         "refresh_token", "--scope", "read")
        api = add_client(self.db, "api")
        add_client(self.db, "Web", "--id", "web", "--public", "--grant",
                   "authorization_code", "--redirect-uri", CB, "--scope",
                   "read", "--auto-approve-as", "dave")
        self.svc = (svc["client_id"], svc["client_secret"])
        self.app = (app["client_id"], app["client_secret"])
        self.api = (api["client_id"], api["client_secret"])
        cli(self.db, "user", "add", "dave", "--password-stdin",
            stdin="dave-password-1\n")

    def instances(self, n=3):
        """n latchkeyd on self.db, started at the same moment."""
        started = at_once([lambda: Server(self.dir, self.db, "--issuer",
                                          ISSUER, "--threads", "8")
                           for _ in range(n)])
        self.servers.extend(started)
        return started

    # -- requests --------------------------------------------------------

    def cc_token(self, s):
        r = s.token({"grant_type": "client_credentials"}, auth=self.svc)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["access_token"]

    def login(self, s):
        r = s.token({"grant_type": "password", "username": "dave",
                     "password": "dave-password-1"}, auth=self.app)
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def refresh(self, s, rt):
        return s.token({"grant_type": "refresh_token", "refresh_token": rt},
                       auth=self.app)

    def active(self, s, token):
        return s.introspect(token, self.api)["active"]

    def resource(self, s, token):
        return s.request("GET", "/resource",
                         headers={"Authorization": "Bearer " + token})

    def code(self, s):
        """A code from /authorize on s (auto-approved as dave)."""
        verifier, challenge = pkce()
        q = urllib.parse.urlencode({
            "response_type": "code", "client_id": "web", "redirect_uri": CB,
            "scope": "read", "state": "st", "code_challenge": challenge,
            "code_challenge_method": "S256"})
        r = s.request("GET", "/authorize?" + q)
        self.assertEqual(r.status, 302, r.body)
        loc = urllib.parse.urlsplit(r.headers["location"])
        got = dict(urllib.parse.parse_qsl(loc.query))
        self.assertIn("code", got, r.headers["location"])
        return got["code"], verifier

    def redeem(self, s, code, verifier):
        return s.token({"grant_type": "authorization_code", "code": code,
                        "redirect_uri": CB, "code_verifier": verifier,
                        "client_id": "web"})

    def jwks(self, s):
        return s.get_json("/jwks.json")

    # -- tests -----------------------------------------------------------

    def test_tokens_and_codes_are_honoured_everywhere(self):
        ss = self.instances()
        for i, s in enumerate(ss):
            tok = self.cc_token(s)
            for other in ss[:i] + ss[i + 1:]:
                self.assertTrue(self.active(other, tok))
                r = self.resource(other, tok)
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.json()["client_id"], self.svc[0])
        # A code from one instance, redeemed at another: the token is
        # known to the third.
        code, verifier = self.code(ss[0])
        r = self.redeem(ss[1], code, verifier)
        self.assertEqual(r.status, 200, r.body)
        got = ss[2].introspect(r.json()["access_token"], self.api)
        self.assertEqual((got["active"], got.get("username")), (True, "dave"))
        # A code redeemed at two instances at once: exactly one 200, a few
        # times over. The loser is a replay (RFC 6749 section 4.1.2): it
        # revokes what the code gave the winner, on every instance.
        for i in range(3):
            code, verifier = self.code(ss[i])
            a, b = ss[(i + 1) % 3], ss[(i + 2) % 3]
            rs = at_once([lambda: self.redeem(a, code, verifier),
                          lambda: self.redeem(b, code, verifier)])
            ok = [r for r in rs if r.status == 200]
            self.assertEqual(len(ok), 1, [(r.status, r.body) for r in rs])
            for r in rs:
                if r.status != 200:
                    self.assertOAuthError(r, 400, "invalid_grant")
            tok = ok[0].json()["access_token"]
            for s in ss:
                self.assertFalse(self.active(s, tok))

    def test_refresh_race_across_instances_and_reuse(self):
        ss = self.instances()
        t0 = self.login(ss[0])
        rs = at_once([lambda s=ss[i % 3]: self.refresh(s, t0["refresh_token"])
                      for i in range(48)])
        ok = [r for r in rs if r.status == 200]
        self.assertEqual(len(ok), 1, sorted({r.body for r in rs}))
        for r in rs:
            if r.status != 200:
                self.assertOAuthError(r, 400, "invalid_grant")
        # The family is consistent: one rotation recorded, and either the
        # winner's token is the one live token or (a loser arrived after
        # the rotation committed: a reuse) the whole family is revoked.
        fam = db_query(self.db, "SELECT count(*), count(retired_at), "
                       "count(revoked_at) FROM refresh_tokens")[0]
        self.assertEqual(fam[0], 2, fam)
        self.assertEqual(fam[1], 1, fam)
        winner = ok[0].json()
        if fam[2] == 0:
            # Reuse of the rotated-out token on one instance revokes the
            # family on the others.
            self.assertTrue(self.active(ss[1], winner["access_token"]))
            r = self.refresh(ss[2], t0["refresh_token"])
            self.assertOAuthError(r, 400, "invalid_grant")
        for s in ss:
            self.assertFalse(self.active(s, winner["access_token"]))
            self.assertEqual(self.resource(s, winner["access_token"]).status,
                             401)
        self.assertOAuthError(self.refresh(ss[0], winner["refresh_token"]),
                              400, "invalid_grant")

    def test_one_first_key_per_alg_one_jwks_and_rotation_everywhere(self):
        self.assertEqual(db_query(self.db,
                                  "SELECT count(*) FROM signing_keys"),
                         [(0,)])
        ss = self.instances()
        # Started at once, the instances made one current key per
        # algorithm between them (migration 0008's index and the
        # compare-and-set), and every one signs with and publishes those.
        keys = db_query(self.db, "SELECT alg, kid, retired_at FROM "
                        "signing_keys ORDER BY alg")
        self.assertEqual([(k[0], k[2]) for k in keys],
                         [("ES256", None), ("RS256", None)], keys)
        first, first_rs = keys[0][1], keys[1][1]
        sets = [self.jwks(s) for s in ss]
        self.assertEqual(sets[0], sets[1])
        self.assertEqual(sets[0], sets[2])
        self.assertEqual([(k["kid"], k["alg"], k["use"])
                          for k in sets[0]["keys"]],
                         [(first, "ES256", "sig"), (first_rs, "RS256", "sig")])
        for s in ss:
            kid = jwt.get_unverified_header(self.cc_token(s))["kid"]
            self.assertEqual(kid, first)

        out = json.loads(cli(self.db, "key", "rotate", "--json").stdout)
        new, new_rs = out["kid"], out["keys"][1]["kid"]
        self.assertEqual([k["previous_kid"] for k in out["keys"]],
                         [first, first_rs])
        deadline = time.monotonic() + ROTATE_DEADLINE
        pending = list(ss)
        while pending:
            self.assertLess(time.monotonic(), deadline,
                            "a rotated key did not reach every instance")
            pending = [s for s in pending
                       if not {new, new_rs} <= {k["kid"] for k in
                                                self.jwks(s)["keys"]}
                       or jwt.get_unverified_header(
                           self.cc_token(s))["kid"] != new]
            if pending:
                time.sleep(0.2)
        sets = [self.jwks(s) for s in ss]
        self.assertEqual(sets[0], sets[1])
        self.assertEqual(sets[0], sets[2])
        # The old keys are still published everywhere: the ES256 one
        # signed live tokens, and both were retired less than
        # id_token_ttl ago.
        self.assertEqual([k["kid"] for k in sets[0]["keys"]][:2],
                         [new, new_rs])
        self.assertEqual({k["kid"] for k in sets[0]["keys"][2:]},
                         {first, first_rs})
        self.assertEqual(db_query(self.db, "SELECT alg, count(*) FROM "
                                  "signing_keys WHERE retired_at IS NULL "
                                  "GROUP BY alg ORDER BY alg"),
                         [("ES256", 1), ("RS256", 1)])

    def test_an_old_database_gets_one_rs256_key_from_instances_at_once(self):
        """A database from before migration 0008, with one current ES256
        key: instances started at once on it add one RS256 key between
        them, and the ES256 key stays current."""
        cli(self.db, "key", "rotate", "--alg", "ES256")
        es = db_query(self.db, "SELECT kid FROM signing_keys")[0][0]
        lk_db.revert_to_schema_7(self.db)
        ss = self.instances()
        keys = db_query(self.db, "SELECT alg, kid FROM signing_keys WHERE "
                        "retired_at IS NULL ORDER BY alg")
        self.assertEqual([k[0] for k in keys], ["ES256", "RS256"])
        self.assertEqual(keys[0][1], es)
        self.assertEqual(db_query(self.db, "SELECT count(*) FROM "
                                  "signing_keys"), [(2,)])
        for s in ss:
            self.assertEqual([k["kid"] for k in self.jwks(s)["keys"]],
                             [es, keys[1][1]])

    def test_kill_9_of_one_instance_under_load(self):
        ss = self.instances()
        victim = ss[1]
        received, lock = [], threading.Lock()
        stop = threading.Event()
        errors = []

        def client(n):
            i = n
            while not stop.is_set():
                s = ss[i % 3]
                i += 1
                try:
                    r = s.token({"grant_type": "client_credentials"},
                                auth=self.svc)
                except (OSError, http.client.HTTPException):
                    # Only the killed instance may drop a connection; a
                    # client then goes to another one.
                    if s is not victim:
                        errors.append(f"instance {ss.index(s)} failed")
                    continue
                if r.status != 200:
                    errors.append(f"{r.status} {r.body!r}")
                    continue
                with lock:
                    received.append(r.json()["access_token"])

        threads = [threading.Thread(target=client, args=(n,))
                   for n in range(6)]
        for t in threads:
            t.start()
        try:
            self.wait_for(lambda: len(received) >= 60)
            victim.kill()
            before = len(received)
            # The others go on: many more tokens after the kill.
            self.wait_for(lambda: len(received) >= before + 60)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.servers.remove(victim)
        victim.stop()
        self.assertEqual(errors, [])
        survivors = [ss[0], ss[2]]
        for n, tok in enumerate(received):
            s = survivors[n % 2]
            self.assertTrue(self.active(s, tok), n)
        r = self.resource(ss[2], received[0])
        self.assertEqual(r.status, 200, r.body)

    def test_purges_on_several_instances_at_once(self):
        """Housekeeping on several instances at once (three purges at the
        same moment, as when instances' purge_interval timers meet): each
        DELETE re-checks its condition, so every expired row goes once,
        the counts add up, and the live token stays (docs/scale-out.md)."""
        ss = self.instances()
        live = self.cc_token(ss[0])
        kid = jwt.get_unverified_header(live)["kid"]
        n = 1200
        db_query(self.db, "INSERT INTO access_tokens (jti, client_id, "
                 "subject, scope, kid, issued_at, expires_at) SELECT "
                 "'old-' || i, ?, ?, '', ?, 1, 2 FROM "
                 "generate_series(1, ?) AS i",
                 (self.svc[0], self.svc[0], kid, n))
        runs = at_once([lambda: json.loads(
            cli(self.db, "purge", "--json").stdout) for _ in range(3)])
        self.assertEqual(sum(r["access_tokens"] for r in runs), n, runs)
        self.assertEqual(db_query(self.db,
                                  "SELECT jti FROM access_tokens"),
                         [(jwt.decode(live, options={
                             "verify_signature": False})["jti"],)])
        for s in ss:
            self.assertTrue(self.active(s, live))

    def test_client_removal_and_secret_rotation_everywhere(self):
        """A client whose verified secret every instance has cached (an
        Argon2id secret, grants/client_auth.c) is refused by all of them
        the moment `latchkey client rotate-secret` or `client remove`
        returns: clients are read from the database on every
        authentication and the cache is keyed by the stored hash
        (docs/scale-out.md, "Caches")."""
        ss = self.instances()
        chosen = "a-chosen-secret-of-some-length-1"
        cl = add_client(self.db, "slow", "--grant", "client_credentials",
                        "--scope", "read", "--secret", chosen)
        old = (cl["client_id"], chosen)
        before = []
        for s in ss:
            for _ in range(2):  # the second one is served from the cache
                r = s.token({"grant_type": "client_credentials"}, auth=old)
                self.assertEqual(r.status, 200, r.body)
                before.append(r.json()["access_token"])

        rot = json.loads(cli(self.db, "client", "rotate-secret",
                             old[0], "--json").stdout)
        new = (old[0], rot["client_secret"])
        self.assertNotEqual(new[1], chosen)
        for n, s in enumerate(ss):
            r = s.token({"grant_type": "client_credentials"}, auth=old)
            self.assertOAuthError(r, 401, "invalid_client")
            self.assertIn("www-authenticate", r.headers)
            r = s.token({"grant_type": "client_credentials"}, auth=new)
            self.assertEqual(r.status, 200, f"instance {n}: {r.body!r}")
            before.append(r.json()["access_token"])
        # Tokens issued before the rotation stay valid (docs/cli.md).
        for n, tok in enumerate(before):
            self.assertTrue(self.active(ss[n % 3], tok), n)

        # Removal while the client asks every instance for tokens: no
        # request sent after `client remove` returned gets a token, and
        # every token it was given, before or during, is gone everywhere.
        got, lock, stop = [], threading.Lock(), threading.Event()
        removed_at = [None]

        def ask(n):
            i = n
            while not stop.is_set():
                t0 = time.monotonic()
                r = ss[i % 3].token({"grant_type": "client_credentials"},
                                    auth=new)
                i += 1
                with lock:
                    got.append((t0, r))
        threads = [threading.Thread(target=ask, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        try:
            self.wait_for(lambda: sum(r.status == 200
                                      for _, r in list(got)) >= 9)
            cli(self.db, "client", "remove", old[0])
            removed_at[0] = time.monotonic()
            self.wait_for(lambda: sum(t0 > removed_at[0]
                                      for t0, _ in list(got)) >= 9)
        finally:
            stop.set()
            for t in threads:
                t.join()
        for t0, r in got:
            if r.status == 200:
                self.assertLess(t0, removed_at[0], "a token after removal")
                before.append(r.json()["access_token"])
            else:
                self.assertOAuthError(r, 401, "invalid_client")
        for n, s in enumerate(ss):
            for auth in (old, new):
                r = s.token({"grant_type": "client_credentials"}, auth=auth)
                self.assertOAuthError(r, 401, "invalid_client")
            for k, tok in enumerate(before):
                self.assertFalse(self.active(s, tok), (n, k))
            self.assertEqual(self.resource(s, before[0]).status, 401)

    def test_postgresql_restart_under_load(self):
        """PostgreSQL restarted under load spread over three instances
        (lk_outage.py): 503 temporarily_unavailable with Retry-After while
        it is down, /healthz and /readyz 503 on each, every instance
        serving again within lk_outage.RECOVERY_BOUND seconds without a
        restart, and every token and refresh token answered 200 still
        valid. On a cluster of the test's own: a restart of the ctest
        fixture's cluster would fail the tests sharing it."""
        c = private_cluster(self)
        self.db = c.uri
        self.register()
        ss = self.instances()
        recovered, answers, tokens, in_doubt = lk_outage.restart_under_load(
            self, ss, c, self.svc, self.app, self.api)
        print(f"\nthree instances: {answers} answers, {tokens} tokens, "
              f"{in_doubt} in-doubt refresh(es); "
              "serving again after PostgreSQL's start: " + ", ".join(
                  f"{recovered[i]:.2f} s" for i in sorted(recovered)))

    def wait_for(self, cond, limit=120):
        deadline = time.monotonic() + limit
        while not cond():
            self.assertLess(time.monotonic(), deadline, "no progress")
            time.sleep(0.05)
