"""grant_type=refresh_token (RFC 6749 section 6) with rotation, reuse
detection (RFC 9700 section 4.14.2) and the on_refresh policy, against
the real latchkeyd."""
import json
import lk_db
import threading
import urllib.parse

import jwt

from lk_harness import LatchkeyTestCase, add_client, basic, cli


def jti(token):
    return jwt.decode(token, options={"verify_signature": False})["jti"]


class RefreshBase(LatchkeyTestCase):
    """Clients app and other (password + refresh_token), api (a resource
    server that introspects), and the user dave."""

    def setUp(self):
        super().setUp()
        app = add_client(self.db, "app", "--grant", "password", "--grant",
                         "refresh_token", "--scope", "read", "--scope",
                         "write")
        other = add_client(self.db, "other", "--grant", "password",
                           "--grant", "refresh_token", "--scope", "read")
        rs = add_client(self.db, "api")
        self.app = (app["client_id"], app["client_secret"])
        self.other = (other["client_id"], other["client_secret"])
        self.rs = (rs["client_id"], rs["client_secret"])
        cli(self.db, "user", "add", "dave", "--password-stdin",
            stdin="dave-password-1\n")

    def login(self, s, auth=None, **extra):
        r = s.token({"grant_type": "password", "username": "dave",
                     "password": "dave-password-1", **extra},
                    auth=auth or self.app)
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def refresh(self, s, rt, auth=None, **extra):
        return s.token({"grant_type": "refresh_token", "refresh_token": rt,
                        **extra}, auth=auth or self.app)

    def active(self, s, token):
        return s.introspect(token, self.rs)["active"]


class RefreshTest(RefreshBase):
    def test_login_returns_a_refresh_token_stored_only_as_hash(self):
        s = self.start()
        t = self.login(s)
        rt = t["refresh_token"]
        self.assertGreaterEqual(len(rt), 43)
        raw = lk_db.db_bytes(self.db)
        db = lk_db.connect(self.db)
        rows = db.execute("SELECT token_hash, subject, username, scope, "
                          "access_jti FROM refresh_tokens").fetchall()
        db.close()
        self.assertEqual(len(rows), 1)
        self.assertNotIn(rt.encode(), raw)
        import hashlib
        self.assertEqual(rows[0][0], hashlib.sha256(rt.encode()).hexdigest())
        self.assertEqual(rows[0][2:], ("dave", "read write",
                                       jti(t["access_token"])))

    def test_two_rotations_then_reuse_revokes_the_family(self):
        s = self.start()
        t0 = self.login(s)
        r1 = self.refresh(s, t0["refresh_token"])
        self.assertEqual(r1.status, 200, r1.body)
        self.assertEqual(r1.headers["cache-control"], "no-store")
        t1 = r1.json()
        self.assertNotEqual(t1["refresh_token"], t0["refresh_token"])
        self.assertEqual(t1["scope"], "read write")
        c0 = jwt.decode(t0["access_token"], options={"verify_signature": False})
        c1 = jwt.decode(t1["access_token"], options={"verify_signature": False})
        self.assertEqual(c1["sub"], c0["sub"])
        t2 = self.refresh(s, t1["refresh_token"]).json()
        self.assertTrue(self.active(s, t2["access_token"]))
        # on_refresh=nothing (default): older access tokens stay valid.
        self.assertTrue(self.active(s, t0["access_token"]))
        # t0's refresh token was rotated out: presenting it is reuse.
        r = self.refresh(s, t0["refresh_token"])
        self.assertOAuthError(r, 400, "invalid_grant")
        for tok in [t0["access_token"], t1["access_token"],
                    t2["access_token"]]:
            self.assertFalse(self.active(s, tok))
        self.assertOAuthError(self.refresh(s, t2["refresh_token"]), 400,
                              "invalid_grant")
        self.assertIn("refresh token reuse", s.log_text())
        # Another login starts a new, unaffected family.
        t3 = self.login(s)
        self.assertEqual(self.refresh(s, t3["refresh_token"]).status, 200)

    def test_scope_can_narrow_but_not_widen(self):
        s = self.start()
        t = self.login(s, scope="read write")
        r = self.refresh(s, t["refresh_token"], scope="read")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["scope"], "read")
        # Section 6: the new refresh token keeps the whole scope, so the
        # next refresh may ask for write again.
        r = self.refresh(s, r.json()["refresh_token"])
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["scope"], "read write")
        t2 = self.login(s, scope="read")
        r = self.refresh(s, t2["refresh_token"], scope="read write")
        self.assertOAuthError(r, 400, "invalid_scope")
        # The refused request did not use the token up.
        self.assertEqual(self.refresh(s, t2["refresh_token"]).status, 200)

    def test_bad_requests_and_other_clients(self):
        s = self.start()
        t = self.login(s)
        self.assertOAuthError(s.token({"grant_type": "refresh_token"},
                                      auth=self.app), 400, "invalid_request")
        self.assertOAuthError(self.refresh(s, "no-such-token"), 400,
                              "invalid_grant")
        r = self.refresh(s, t["refresh_token"], auth=self.other)
        self.assertOAuthError(r, 400, "invalid_grant")
        # Not a reuse: the rightful client can still refresh.
        self.assertEqual(self.refresh(s, t["refresh_token"]).status, 200)
        r = self.refresh(s, t["refresh_token"], auth=(self.app[0], "bad"))
        self.assertOAuthError(r, 401, "invalid_client")

    def test_expired_refresh_token(self):
        s = self.start("--refresh-token-ttl", "60")
        t = self.login(s)
        db = lk_db.connect(self.db)
        db.execute("UPDATE refresh_tokens SET expires_at = 1")
        db.commit()
        db.close()
        self.assertOAuthError(self.refresh(s, t["refresh_token"]), 400,
                              "invalid_grant")

    def test_on_refresh_revoke(self):
        s = self.start("--on-refresh", "revoke")
        t0 = self.login(s)
        t1 = self.refresh(s, t0["refresh_token"]).json()
        self.assertFalse(self.active(s, t0["access_token"]))
        self.assertTrue(self.active(s, t1["access_token"]))
        listed = json.loads(cli(self.db, "token", "list", "--active",
                                "--json").stdout)
        self.assertNotIn(jti(t0["access_token"]), [x["jti"] for x in listed])
        self.assertIn(jti(t1["access_token"]), [x["jti"] for x in listed])

    def test_without_rotation(self):
        s = self.start("--rotate-refresh-tokens", "false", "--on-refresh",
                       "revoke")
        t0 = self.login(s)
        r1 = self.refresh(s, t0["refresh_token"]).json()
        self.assertNotIn("refresh_token", r1)
        r2 = self.refresh(s, t0["refresh_token"]).json()
        # revoke acts on the access token issued with the last use.
        self.assertFalse(self.active(s, r1["access_token"]))
        self.assertTrue(self.active(s, r2["access_token"]))

    def test_client_credentials_gets_no_refresh_token(self):
        s = self.start()
        r = s.token({"grant_type": "client_credentials"}, auth=self.rs)
        self.assertEqual(r.status, 200, r.body)
        self.assertNotIn("refresh_token", r.json())

    def test_no_refresh_token_when_disabled(self):
        s = self.start("--issue-refresh-token", "false")
        self.assertNotIn("refresh_token", self.login(s))

    def test_concurrent_refreshes_exactly_one_wins(self):
        s = self.start("--threads", "8")
        t = self.login(s)
        results, lock = [], threading.Lock()
        barrier = threading.Barrier(20)

        def worker():
            barrier.wait()
            r = self.refresh(s, t["refresh_token"])
            with lock:
                results.append(r)
        threads = [threading.Thread(target=worker) for _ in range(20)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        ok = [r for r in results if r.status == 200]
        self.assertEqual(len(ok), 1, [r.body for r in results])
        for r in results:
            if r.status != 200:
                self.assertOAuthError(r, 400, "invalid_grant")
        # The winner's new refresh token is still good, unless a loser
        # arrived after the rotation committed (then it was a reuse).
        winner = ok[0].json()
        db = lk_db.connect(self.db)
        revoked = db.execute("SELECT count(*) FROM refresh_tokens WHERE "
                             "revoked_at IS NOT NULL").fetchone()[0]
        live = db.execute("SELECT count(*) FROM refresh_tokens WHERE "
                          "retired_at IS NULL AND revoked_at IS NULL"
                          ).fetchone()[0]
        db.close()
        r = self.refresh(s, winner["refresh_token"])
        if revoked == 0:
            self.assertEqual(live, 1)
            self.assertEqual(r.status, 200, r.body)
        else:
            self.assertOAuthError(r, 400, "invalid_grant")


class ClientChangedTest(RefreshBase):
    """Issue 12 defect 3: the scope granted on a refresh is the requested
    scope (if any), within the family's, within the client's current
    scopes (RFC 6749 section 6)."""

    def claims(self, token):
        return jwt.decode(token, options={"verify_signature": False})

    def test_scope_removed_from_the_client_is_not_refreshed(self):
        s = self.start()
        t = self.login(s)
        self.assertEqual(t["scope"], "read write")
        cli(self.db, "client", "update", self.app[0], "--scope", "read")
        r = self.refresh(s, t["refresh_token"])
        self.assertEqual(r.status, 200, r.body)
        t1 = r.json()
        # Narrower than the grant: section 5.1 wants scope in the answer.
        self.assertEqual(t1["scope"], "read")
        self.assertEqual(self.claims(t1["access_token"])["scope"], "read")
        intro = s.introspect(t1["access_token"], self.rs)
        self.assertTrue(intro["active"])
        self.assertEqual(intro["scope"], "read")
        # Asking for both gets what is left, and says so.
        r = self.refresh(s, t1["refresh_token"], scope="read write")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["scope"], "read")
        self.assertEqual(self.claims(r.json()["access_token"])["scope"],
                         "read")
        # A scope the grant never held is still invalid_scope.
        t2 = self.login(s, scope="read")
        self.assertOAuthError(self.refresh(s, t2["refresh_token"],
                                           scope="read write"),
                              400, "invalid_scope")
        # Section 6: the refresh token keeps the grant's scope, so giving
        # the scope back to the client gives it back to the grant.
        cli(self.db, "client", "update", self.app[0], "--scope", "read",
            "--scope", "write")
        r = self.refresh(s, r.json()["refresh_token"])
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["scope"], "read write")

    def test_nothing_left_is_refused_and_the_token_kept(self):
        s = self.start()
        t = self.login(s, scope="write")
        cli(self.db, "client", "update", self.app[0], "--scope", "read")
        r = self.refresh(s, t["refresh_token"])
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertIn("no longer allowed", r.json()["error_description"])
        r = self.refresh(s, t["refresh_token"], scope="write")
        self.assertOAuthError(r, 400, "invalid_scope")
        # Not used up, not revoked: it works again once write is back.
        cli(self.db, "client", "update", self.app[0], "--scope", "read",
            "--scope", "write")
        r = self.refresh(s, t["refresh_token"])
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["scope"], "write")

    def test_a_grant_without_scope_keeps_refreshing(self):
        cli(self.db, "client", "update", self.app[0], "--scope", "")
        s = self.start()
        t = self.login(s)
        self.assertNotIn("scope", t)
        r = self.refresh(s, t["refresh_token"])
        self.assertEqual(r.status, 200, r.body)
        self.assertNotIn("scope", r.json())


class NoRotationTest(RefreshBase):
    """rotate_refresh_tokens=false."""

    def test_concurrent_refreshes_leave_one_access_token(self):
        # Issue 12 defect 6: each refresh revokes exactly the access token
        # it replaces, so after N concurrent refreshes exactly one access
        # token of the refresh token is live. A race may go either way:
        # five rounds make a lucky pass of the old code unlikely.
        s = self.start("--threads", "8", "--rotate-refresh-tokens",
                       "false", "--on-refresh", "revoke")
        t = self.login(s)
        tokens = [t["access_token"]]
        for _ in range(5):
            tokens += self.race(s, t["refresh_token"], 16)
            live = [x for x in tokens if self.active(s, x)]
            self.assertEqual(len(live), 1)
            db = lk_db.connect(self.db)
            linked = db.execute("SELECT access_jti FROM refresh_tokens"
                                ).fetchall()
            unrevoked = db.execute("SELECT jti FROM access_tokens WHERE "
                                   "revoked_at IS NULL").fetchall()
            db.close()
            self.assertEqual(linked, [(jti(live[0]),)])
            self.assertEqual(unrevoked, [(jti(live[0]),)])
        # And the next refresh revokes that one.
        r = self.refresh(s, t["refresh_token"])
        self.assertEqual(r.status, 200, r.body)
        self.assertFalse(self.active(s, live[0]))
        self.assertTrue(self.active(s, r.json()["access_token"]))

    def race(self, s, rt, n):
        """n refreshes with rt at once; their access tokens."""
        results, lock = [], threading.Lock()
        barrier = threading.Barrier(n)

        def worker():
            barrier.wait()
            r = self.refresh(s, rt)
            with lock:
                results.append(r)
        threads = [threading.Thread(target=worker) for _ in range(n)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        # Without rotation the token stays good: every refresh succeeds,
        # as if they had come one after the other.
        for r in results:
            self.assertEqual(r.status, 200, r.body)
            self.assertNotIn("refresh_token", r.json())
        return [r.json()["access_token"] for r in results]

    def test_public_clients_always_rotate(self):
        # RFC 9700 section 4.14.2: a public client's refresh tokens are
        # sender-constrained by nothing, so they rotate whatever the
        # setting says.
        pub = add_client(self.db, "pub", "--public", "--grant", "password",
                         "--grant", "refresh_token", "--scope", "read")
        s = self.start("--rotate-refresh-tokens", "false")
        form = {"client_id": pub["client_id"]}
        r = s.token({"grant_type": "password", "username": "dave",
                     "password": "dave-password-1", **form})
        self.assertEqual(r.status, 200, r.body)
        t0 = r.json()
        r = s.token({"grant_type": "refresh_token",
                     "refresh_token": t0["refresh_token"], **form})
        self.assertEqual(r.status, 200, r.body)
        t1 = r.json()
        self.assertIn("refresh_token", t1)
        self.assertNotEqual(t1["refresh_token"], t0["refresh_token"])
        # The old one is refused, as reuse: the family is revoked.
        r = s.token({"grant_type": "refresh_token",
                     "refresh_token": t0["refresh_token"], **form})
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertIn("refresh token reuse", s.log_text())
        self.assertFalse(self.active(s, t1["access_token"]))
        r = s.token({"grant_type": "refresh_token",
                     "refresh_token": t1["refresh_token"], **form})
        self.assertOAuthError(r, 400, "invalid_grant")
        # A confidential client still keeps its refresh token.
        t = self.login(s)
        r1 = self.refresh(s, t["refresh_token"])
        self.assertEqual(r1.status, 200, r1.body)
        self.assertNotIn("refresh_token", r1.json())
        self.assertEqual(self.refresh(s, t["refresh_token"]).status, 200)
        # The operator is told at start.
        self.assertIn("rotate_refresh_tokens=false: refresh tokens of "
                      "confidential clients do not rotate; public clients' "
                      "always do", s.log_text())

    def test_no_start_line_with_rotation_on(self):
        s = self.start()
        self.assertNotIn("rotate_refresh_tokens=false", s.log_text())


class RefreshIntrospectRevokeTest(RefreshBase):
    """/introspect and /revoke with refresh tokens (RFC 7662, RFC 7009)."""

    def post(self, s, path, form, auth):
        return s.request("POST", path, body=urllib.parse.urlencode(form),
                         headers={"Content-Type":
                                  "application/x-www-form-urlencoded",
                                  "Authorization": basic(*auth)})

    def test_introspect_refresh_and_user_access_tokens(self):
        s = self.start()
        t = self.login(s)
        user_id = jwt.decode(t["access_token"],
                             options={"verify_signature": False})["sub"]
        r = self.post(s, "/introspect", {"token": t["refresh_token"],
                                         "token_type_hint": "refresh_token"},
                      self.rs).json()
        self.assertTrue(r["active"])
        self.assertEqual((r["token_type"], r["client_id"], r["sub"],
                          r["username"], r["scope"], r["iss"]),
                         ("refresh_token", self.app[0], user_id, "dave",
                          "read write", s.issuer))
        self.assertGreater(r["exp"], r["iat"])
        a = self.post(s, "/introspect", {"token": t["access_token"]},
                      self.rs).json()
        self.assertEqual((a["token_type"], a["username"], a["sub"]),
                         ("Bearer", "dave", user_id))
        # Rotated out: inactive.
        self.refresh(s, t["refresh_token"])
        r = self.post(s, "/introspect", {"token": t["refresh_token"]},
                      self.rs)
        self.assertEqual(r.json(), {"active": False})

    def test_revoking_a_refresh_token_revokes_its_family(self):
        s = self.start()
        t0 = self.login(s)
        t1 = self.refresh(s, t0["refresh_token"]).json()
        r = self.post(s, "/revoke", {"token": t1["refresh_token"],
                                     "token_type_hint": "refresh_token"},
                      self.app)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body, b"")
        for tok in [t0["access_token"], t1["access_token"]]:
            self.assertFalse(self.active(s, tok))
        self.assertOAuthError(self.refresh(s, t1["refresh_token"]), 400,
                              "invalid_grant")

    def test_revoking_another_clients_refresh_token_is_refused(self):
        s = self.start()
        t = self.login(s)
        r = self.post(s, "/revoke", {"token": t["refresh_token"]}, self.other)
        self.assertOAuthError(r, 400, "unauthorized_client")
        self.assertEqual(self.refresh(s, t["refresh_token"]).status, 200)
        # Unknown refresh-looking tokens are fine (section 2.2).
        r = self.post(s, "/revoke", {"token": "x" * 43}, self.app)
        self.assertEqual(r.status, 200)
