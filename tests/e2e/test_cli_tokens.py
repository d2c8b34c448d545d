"""`latchkey token list|revoke` over refresh tokens that the real latchkeyd
issued: password logins and refreshes over HTTP, then the CLI on the same
database while the server runs, and the server's view afterwards
(introspection, the refresh_token grant)."""

import re
import time

import jwt

import lk_db
from lk_cli_helpers import Cli, assert_refused, rows, snapshot
from lk_harness import LatchkeyTestCase, add_client, cli
from test_cli import CliTest

PASSWORDS = {"dave": "dave-password-1", "erin": "erin-password-1"}


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


class CliTokensTest(LatchkeyTestCase):
    """Clients app and other (password + refresh_token), api (a resource
    server that introspects, and has a client_credentials token), users
    dave and erin; the server is running."""

    def setUp(self):
        super().setUp()
        grants = ["--grant", "password", "--grant", "refresh_token"]
        app = add_client(self.db, "app", "--id", "app", *grants, "--scope",
                         "read write")
        other = add_client(self.db, "other", "--id", "other", *grants,
                           "--scope", "read")
        api = add_client(self.db, "api", "--id", "api")
        self.app = ("app", app["client_secret"])
        self.other = ("other", other["client_secret"])
        self.api = ("api", api["client_secret"])
        for name, pw in PASSWORDS.items():
            cli(self.db, "user", "add", name, "--password-stdin",
                stdin=pw + "\n")
        self.cli = Cli(self.db, self.dir)
        self.s = self.start()

    # -- helpers ------------------------------------------------------------

    def login(self, user="dave", auth=None):
        r = self.s.token({"grant_type": "password", "username": user,
                          "password": PASSWORDS[user]},
                         auth=auth or self.app)
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def refresh(self, rt, auth=None):
        return self.s.token({"grant_type": "refresh_token",
                             "refresh_token": rt}, auth=auth or self.app)

    def refreshed(self, rt, auth=None):
        r = self.refresh(rt, auth)
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def client_token(self):
        r = self.s.token({"grant_type": "client_credentials"}, auth=self.api)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["access_token"]

    def active(self, token):
        return self.s.introspect(token, self.api)["active"]

    def family(self, token_response):
        """The family of a login, as the CLI lists it for its access
        token."""
        jti = claims(token_response["access_token"])["jti"]
        (fam,) = rows(self.db, "SELECT family_id FROM access_tokens WHERE "
                      "jti=?", (jti,))[0]
        self.assertIsNotNone(fam)
        return fam

    def unrevoked(self, subject):
        """Unrevoked refresh and access tokens of subject, counted in the
        database directly."""
        return sum(rows(self.db, "SELECT count(*) FROM %s WHERE subject=? "
                        "AND revoked_at IS NULL" % t, (subject,))[0][0]
                   for t in ("refresh_tokens", "access_tokens"))

    def refused(self, args, status, message):
        return assert_refused(self, self.cli, args, status, message)

    # -- token list ---------------------------------------------------------

    def test_list_shows_a_family_with_its_rotations(self):
        t0 = self.login()
        t1 = self.refreshed(t0["refresh_token"])
        t2 = self.refreshed(t1["refresh_token"])
        sub = claims(t0["access_token"])["sub"]
        fam = self.family(t0)

        listed = self.cli.json("token", "list", "--refresh")
        self.assertEqual([(r["family_id"], r["status"]) for r in listed],
                         [(fam, "rotated"), (fam, "rotated"),
                          (fam, "active")])
        for r, t in zip(listed, (t0, t1, t2)):
            self.assertEqual((r["client_id"], r["sub"], r["username"],
                              r["scope"], r["revoked_at"]),
                             ("app", sub, "dave", "read write", None))
            self.assertEqual(r["access_jti"], claims(t["access_token"])["jti"])
            self.assertGreater(r["exp"], r["iat"])
        self.assertIsInstance(listed[0]["retired_at"], int)
        self.assertIsInstance(listed[1]["retired_at"], int)
        self.assertIsNone(listed[2]["retired_at"])
        # Neither the tokens nor their hashes are printed.
        out = self.cli.ok("token", "list", "--refresh", "--json")
        out += self.cli.ok("token", "list", "--refresh")
        for (h,) in rows(self.db, "SELECT token_hash FROM refresh_tokens"):
            self.assertNotIn(h, out)
        for t in (t0, t1, t2):
            self.assertNotIn(t["refresh_token"], out)

        active = self.cli.json("token", "list", "--refresh", "--active")
        self.assertEqual([(r["family_id"], r["access_jti"]) for r in active],
                         [(fam, claims(t2["access_token"])["jti"])])
        # The access tokens of the family carry its id.
        # (Access tokens of one second are listed in jti order.)
        access = self.cli.json("token", "list", "--family", fam)
        self.assertEqual(sorted(a["jti"] for a in access),
                         sorted(claims(t["access_token"])["jti"]
                                for t in (t0, t1, t2)))
        self.assertEqual({a["family_id"] for a in access}, {fam})
        self.assertEqual({a["status"] for a in access}, {"active"})

    def test_list_by_user_and_family(self):
        a = self.login("dave")
        a1 = self.refreshed(a["refresh_token"])
        b = self.login("erin")
        c = self.login("dave", auth=self.other)
        cc = self.client_token()
        fa, fb, fc = self.family(a), self.family(b), self.family(c)

        def fams(*args):
            return [r["family_id"] for r in
                    self.cli.json("token", "list", "--refresh", *args)]

        def jtis(*args):
            # Access tokens of one second are listed in jti order.
            return sorted(t["jti"] for t in
                          self.cli.json("token", "list", *args))

        def jti(t):
            return claims(t["access_token"])["jti"]

        self.assertEqual(fams(), [fa, fa, fb, fc])
        self.assertEqual(fams("--user", "dave"), [fa, fa, fc])
        self.assertEqual(fams("--user", "erin"), [fb])
        self.assertEqual(fams("--user", "dave", "--client", "other"), [fc])
        self.assertEqual(fams("--family", fa), [fa, fa])
        self.assertEqual(fams("--family", fa, "--user", "erin"), [])
        self.assertEqual(fams("--family", "no-such-family"), [])
        self.assertEqual(fams("--user", "dave", "--active"), [fa, fc])

        self.assertEqual(jtis("--user", "dave"),
                         sorted([jti(a), jti(a1), jti(c)]))
        self.assertEqual(jtis("--user", "erin", "--active"), [jti(b)])
        self.assertEqual(jtis("--family", fc), [jti(c)])
        listed = {t["jti"]: t for t in self.cli.json("token", "list")}
        self.assertIsNone(listed[claims(cc)["jti"]]["family_id"])
        self.assertEqual(listed[jti(b)]["family_id"], fb)

        # The text listing of access tokens ends with the family.
        text = self.cli.ok("token", "list", "--user", "erin").splitlines()
        self.assertEqual(text[0].split()[-1], "FAMILY")
        self.assertEqual(text[1].split()[-1], fb)

    # -- token revoke --family -----------------------------------------------

    def test_revoke_family(self):
        t0 = self.login()
        t1 = self.refreshed(t0["refresh_token"])
        keep = self.login()
        fam = self.family(t0)

        # Two refresh tokens (one rotated out) and two access tokens.
        self.assertEqual(self.cli.ok("token", "revoke", "--family", fam),
                         "revoked 4 token(s) of family '%s'\n" % fam)
        for t in (t0, t1):
            self.assertFalse(self.active(t["access_token"]))
        self.assertOAuthError(self.refresh(t1["refresh_token"]), 400,
                              "invalid_grant")
        self.assertEqual({r["status"] for r in self.cli.json(
            "token", "list", "--refresh", "--family", fam)}, {"revoked"})
        # Another login of the same user is another family: untouched.
        self.assertTrue(self.active(keep["access_token"]))
        self.refreshed(keep["refresh_token"])
        # Again: nothing left to revoke, which is not an error.
        self.assertEqual(self.cli.json("token", "revoke", "--family", fam),
                         {"family_id": fam, "revoked": 0})

    # -- token revoke --user -------------------------------------------------

    def test_revoke_user(self):
        d0 = self.login("dave")
        d1 = self.refreshed(d0["refresh_token"])
        d2 = self.login("dave", auth=self.other)
        e = self.login("erin")
        cc = self.client_token()
        dave = claims(d0["access_token"])["sub"]
        erin = claims(e["access_token"])["sub"]
        n = self.unrevoked(dave)
        self.assertEqual(n, 6)  # 3 refresh (one rotated) + 3 access
        erin_before = rows(self.db, "SELECT * FROM refresh_tokens WHERE "
                           "subject=? ORDER BY token_hash", (erin,))

        self.assertEqual(self.cli.json("token", "revoke", "--user", "dave"),
                         {"username": "dave", "revoked": n,
                          "sessions_ended": 0})
        self.assertEqual(self.unrevoked(dave), 0)
        for t in (d0, d1, d2):
            self.assertFalse(self.active(t["access_token"]))
        self.assertOAuthError(self.refresh(d1["refresh_token"]), 400,
                              "invalid_grant")
        self.assertOAuthError(self.refresh(d2["refresh_token"],
                                           auth=self.other), 400,
                              "invalid_grant")
        # Other users and clients are untouched.
        self.assertEqual(rows(self.db, "SELECT * FROM refresh_tokens WHERE "
                              "subject=? ORDER BY token_hash", (erin,)),
                         erin_before)
        self.assertTrue(self.active(e["access_token"]))
        self.assertTrue(self.active(cc))
        self.refreshed(e["refresh_token"])
        # The user is not locked out: a new login starts a new family.
        again = self.login("dave")
        self.assertTrue(self.active(again["access_token"]))
        self.assertEqual(self.cli.ok("token", "revoke", "--user", "dave"),
                         "revoked 2 token(s) of user 'dave'; ended 0 browser "
                         "session(s)\n")
        self.assertEqual(self.cli.ok("token", "revoke", "--user", "dave"),
                         "revoked 0 token(s) of user 'dave'; ended 0 browser "
                         "session(s)\n")

    def test_user_remove_revokes_the_users_tokens(self):
        d0 = self.login("dave")
        d1 = self.refreshed(d0["refresh_token"])
        e = self.login("erin")
        dave = claims(d0["access_token"])["sub"]
        n = self.unrevoked(dave)
        self.assertEqual(self.cli.json("user", "remove", "dave"),
                         {"username": "dave", "removed": True,
                          "revoked_tokens": n})
        self.assertEqual(self.unrevoked(dave), 0)
        self.assertFalse(self.active(d1["access_token"]))
        self.assertOAuthError(self.refresh(d1["refresh_token"]), 400,
                              "invalid_grant")
        self.assertTrue(self.active(e["access_token"]))
        self.refreshed(e["refresh_token"])

    def test_refresh_of_a_user_removed_behind_the_clis_back(self):
        d0 = self.login("dave")
        # Deleted without the CLI: the grant itself refuses the refresh.
        import lk_db
        db = lk_db.connect(self.db)
        db.execute("DELETE FROM users WHERE username='dave'")
        db.commit()
        db.close()
        r = self.refresh(d0["refresh_token"])
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertEqual(r.json()["error_description"],
                         "the user no longer exists")

    def test_revoke_client_takes_its_refresh_tokens(self):
        d0 = self.login("dave")
        o = self.login("dave", auth=self.other)
        out = self.cli.json("token", "revoke", "--client", "app")
        self.assertEqual(out, {"client_id": "app", "revoked": 2})
        self.assertOAuthError(self.refresh(d0["refresh_token"]), 400,
                              "invalid_grant")
        self.assertFalse(self.active(d0["access_token"]))
        # Another client's session of the same user is untouched.
        self.assertTrue(self.active(o["access_token"]))
        self.refreshed(o["refresh_token"], auth=self.other)

    # -- refusals ------------------------------------------------------------

    def test_refusals_change_nothing(self):
        t = self.login()
        t = self.refreshed(t["refresh_token"])
        fam = self.family(t)
        jti = claims(t["access_token"])["jti"]
        cases = [
            (["token", "revoke", "--family", "nope"], 1,
             "family 'nope' not found"),
            (["token", "revoke", "--user", "nobody"], 1,
             "user 'nobody' not found"),
            (["token", "list", "--user", "nobody"], 1,
             "user 'nobody' not found"),
            (["token", "list", "--refresh", "--user", "nobody"], 1,
             "user 'nobody' not found"),
            (["token", "list", "--refresh", "--client", "nope"], 1,
             "client 'nope' not found"),
            (["token", "revoke", jti, "--family", fam], 2,
             "give either a JTI or --family, not both"),
            (["token", "revoke", "--client", "app", "--user", "dave"], 2,
             "give either --client or --user, not both"),
            (["token", "revoke", "--family", fam, "--user", "dave"], 2,
             "give either --family or --user, not both"),
            (["token", "revoke", jti, "--client", "app", "--family", fam,
              "--user", "dave"], 2,
             "give either a JTI or --client, not both"),
            (["token", "revoke"], 2, "'token revoke' needs a JTI, --client "
             "ID, --family ID or --user NAME"),
            (["token", "revoke", "--refresh", "--family", fam], 2,
             "option --refresh does not apply to 'token revoke'"),
            (["token", "revoke", "--user", "dave", "--active"], 2,
             "option --active does not apply to 'token revoke'"),
            (["token", "list", "--user", "dave", "--user", "erin"], 2,
             "option --user given more than once"),
            (["user", "list", "--family", fam], 2,
             "option --family does not apply to 'user list'"),
        ]
        before = snapshot(self.db)
        for args, status, msg in cases:
            with self.subTest(args=args):
                self.refused(args, status, msg)
        self.assertEqual(snapshot(self.db), before)
        self.assertTrue(self.active(t["access_token"]))
        self.refreshed(t["refresh_token"])


class ListingAtScaleTest(CliTest):
    """Every list command's --limit and --since (DECISIONS.md, "Listing at
    scale"): 150 access-token records, written straight into the database
    (either backend) in one statement, one a second from T0."""

    N = 150
    T0 = 1_700_000_000
    MORE = "... and %d more (use --limit N or --json)"

    def setUp(self):
        super().setUp()
        self.cli.ok("client", "add", "svc", "--id", "svc")
        self.cli.ok("client", "add", "web", "--id", "web", "--public")
        self.cli.ok("key", "rotate")
        kid = self.cli.json("key", "list")[0]["kid"]
        values, params = [], []
        for i in range(self.N):
            values.append("(?, ?, ?, ?, ?, ?, ?)")
            params += ["jti-%03d" % i, "svc", "svc", "read", kid,
                       self.T0 + i, self.T0 + i + 10 * 365 * 86400]
        lk_db.db_query(self.db, "INSERT INTO access_tokens (jti, client_id, "
                       "subject, scope, kid, issued_at, expires_at) VALUES "
                       + ", ".join(values), tuple(params))

    def text_rows(self, *args):
        """The first column of each row of a text listing, and the line
        after the table that says how many more there are (or None)."""
        lines = self.cli.ok(*args).splitlines()
        more = lines.pop() if lines and lines[-1].startswith("...") else None
        return [re.split(r"\s{2,}", line)[0] for line in lines[1:]], more

    def jtis(self, first, last):
        return ["jti-%03d" % i for i in range(first, last)]

    def test_text_shows_the_newest_100_and_says_how_many_more(self):
        shown, more = self.text_rows("token", "list")
        self.assertEqual(shown, self.jtis(50, 150))  # oldest first
        self.assertEqual(more, self.MORE % 50)

    def test_json_stays_complete(self):
        got = [t["jti"] for t in self.cli.json("token", "list")]
        self.assertEqual(got, self.jtis(0, 150))

    def test_limit(self):
        shown, more = self.text_rows("token", "list", "--limit", "10")
        self.assertEqual(shown, self.jtis(140, 150))
        self.assertEqual(more, self.MORE % 140)
        got = self.cli.json("token", "list", "--limit", "10")
        self.assertEqual([t["jti"] for t in got], self.jtis(140, 150))
        shown, more = self.text_rows("token", "list", "--limit", "1000")
        self.assertEqual((shown, more), (self.jtis(0, 150), None))

    def test_since(self):
        # Epoch seconds, and RFC 3339 in UTC or with an offset: at or after.
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.T0 + 145))
        for since, first in ((str(self.T0 + 140), 140), (iso, 145),
                             (iso[:-1] + ".999Z", 145),
                             (time.strftime("%Y-%m-%dT%H:%M:%S+01:00",
                                            time.gmtime(self.T0 + 3600 + 7)),
                              7)):
            with self.subTest(since=since):
                shown, more = self.text_rows("token", "list", "--since",
                                             since)
                self.assertEqual((shown[0], more),
                                 ("jti-%03d" % max(first, 50),
                                  self.MORE % (max(first, 50) - first)
                                  if first < 50 else None))
                got = self.cli.json("token", "list", "--since", since)
                self.assertEqual([t["jti"] for t in got],
                                 self.jtis(first, 150))
        shown, more = self.text_rows("token", "list", "--since",
                                     str(self.T0 + 140), "--limit", "3")
        self.assertEqual((shown, more), (self.jtis(147, 150), self.MORE % 7))

    def test_filters_and_refresh_tokens_combine(self):
        shown, more = self.text_rows("token", "list", "--client", "web")
        self.assertEqual((shown, more), ([], None))
        got = self.cli.json("token", "list", "--refresh", "--limit", "5")
        self.assertEqual(got, [])

    def test_every_list_command_takes_them(self):
        shown, more = self.text_rows("client", "list", "--limit", "1")
        self.assertEqual((len(shown), more), (1, self.MORE % 1))
        self.assertEqual(len(self.cli.json("client", "list")), 2)
        far = str(int(time.time()) + 86400)
        for cmd in (["client", "list"], ["user", "list"],
                    ["consent", "list"], ["key", "list"]):
            with self.subTest(cmd=cmd):
                self.assertEqual(self.cli.json(*cmd, "--since", far), [])
                if cmd[0] in ("user", "consent"):  # one row at most
                    self.assertEqual(self.text_rows(*cmd, "--limit",
                                                    "1")[1], None)
        # Two keys: the current ES256 and RS256 ones.
        shown, more = self.text_rows("key", "list", "--limit", "1")
        self.assertEqual((len(shown), more), (1, self.MORE % 1))
        self.assertEqual(len(self.cli.json("key", "list", "--limit", "1")),
                         1)
        self.assertEqual(len(self.cli.json("key", "list")), 2)

    def test_bad_values(self):
        limit = ("invalid --limit '%s': a whole number of rows from 1 to "
                 "1000000000")
        since = ("invalid --since '%s': a time as RFC 3339 "
                 "(2026-12-01T12:00:00Z) or seconds since the epoch")
        for value in ("0", "-1", "abc", "1.5", "", " 5", "1000000001"):
            with self.subTest(limit=value):
                assert_refused(self, self.cli, ["token", "list", "--limit",
                                                value], 2, limit % value)
        for value in ("yesterday", "1h", "2026-13-01T00:00:00Z",
                      "2026-12-01", "2026-12-01T00:00:00", "-5",
                      "2026-12-01T00:00:00+1:00"):
            with self.subTest(since=value):
                assert_refused(self, self.cli, ["user", "list", "--since",
                                                value], 2, since % value)
        assert_refused(self, self.cli, ["token", "revoke", "--client", "svc",
                                        "--limit", "5"], 2,
                       "option --limit does not apply to 'token revoke'")
