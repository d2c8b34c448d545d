"""End-to-end tests of `latchkey consent list|revoke`, and of what removing
a user or a client takes along (consents, browser sessions, authorization
codes), with the real binary ($LATCHKEY) on a fresh database.

Consents, sessions and codes are written by the server's /authorize. These
tests insert them through lk_db (lk_cli_helpers.insert) instead, in
the shape migration 0004 gives them, so the CLI is tested on its own; the
server side has end-to-end tests of its own.
"""
import re
import time
import unittest

from lk_cli_helpers import insert, rows
from test_cli import ISO_RE, CliTest


class ConsentTest(CliTest):
    """Users alice and bob, clients app, web and cli; alice allowed app and
    web, bob allowed app."""

    def setUp(self):
        super().setUp()
        self.alice = self.add_user("alice")["user_id"]
        self.bob = self.add_user("bob")["user_id"]
        for cid in ("app", "web", "cli"):
            self.cli.ok("client", "add", cid, "--id", cid, "--public")
        self.now = n = int(time.time())
        self.consent(self.alice, "web", "openid profile", n - 100, n - 50)
        self.consent(self.alice, "app", "", n - 90, n - 90)
        self.consent(self.bob, "app", "read", n - 80, n - 10)

    def consent(self, user_id, client_id, scope, granted_at, updated_at):
        insert(self.db, "consents", user_id=user_id, client_id=client_id,
               scope=scope, granted_at=granted_at, updated_at=updated_at)

    def consents(self):
        """(username, client_id) of every stored consent, sorted."""
        return rows(self.db, "SELECT u.username, c.client_id FROM consents c "
                    "JOIN users u USING (user_id) ORDER BY 1, 2")

    def listed(self, *args):
        return [(c["username"], c["client_id"])
                for c in self.cli.json("consent", "list", *args)]


class TestConsentList(ConsentTest):
    def test_text(self):
        text = self.cli.ok("consent", "list").splitlines()
        lines = [re.split(r"\s{2,}", line) for line in text]
        self.assertEqual(lines[0], ["USERNAME", "CLIENT_ID", "SCOPE",
                                    "GRANTED", "UPDATED"])
        # By client, then username; an empty scope shows as "-".
        self.assertEqual([line[:3] for line in lines[1:]], [
            ["alice", "app", "-"], ["bob", "app", "read"],
            ["alice", "web", "openid profile"]])
        for line in lines[1:]:
            self.assertRegex(line[3], "^%s$" % ISO_RE)
            self.assertRegex(line[4], "^%s$" % ISO_RE)
        self.assertEqual(len(lines), 4)

    def test_json(self):
        listed = self.cli.json("consent", "list")
        self.assertEqual(listed[2], {
            "username": "alice", "user_id": self.alice, "client_id": "web",
            "scope": "openid profile", "granted_at": self.now - 100,
            "updated_at": self.now - 50})
        self.assertEqual(listed[0]["scope"], "")
        self.assertEqual({frozenset(c) for c in listed},
                         {frozenset(listed[0])})

    def test_filters(self):
        self.assertEqual(self.listed("--user", "alice"),
                         [("alice", "app"), ("alice", "web")])
        self.assertEqual(self.listed("--client", "app"),
                         [("alice", "app"), ("bob", "app")])
        self.assertEqual(self.listed("--user", "bob", "--client", "app"),
                         [("bob", "app")])
        self.assertEqual(self.listed("--user", "bob", "--client", "web"), [])
        self.assertEqual(self.listed("--client", "cli"), [])
        self.assertEqual(self.cli.ok("consent", "list", "--client", "cli"),
                         "USERNAME  CLIENT_ID  SCOPE  GRANTED  UPDATED\n")

    def test_refusals(self):
        cases = [
            (["--user", "nobody"], 1, "user 'nobody' not found"),
            (["--client", "nope"], 1, "client 'nope' not found"),
            # The client is looked up first, as in `token list`.
            (["--user", "nobody", "--client", "nope"], 1,
             "client 'nope' not found"),
            (["extra"], 2, "unexpected argument 'extra' for 'consent list'"),
            (["--active"], 2,
             "option --active does not apply to 'consent list'"),
            (["--family", "F"], 2,
             "option --family does not apply to 'consent list'"),
            (["--user", "alice", "--user", "bob"], 2,
             "option --user given more than once"),
        ]
        for args, status, msg in cases:
            with self.subTest(args=args):
                self.refused(["consent", "list"] + args, status, msg)
        # --db first: a missing value would otherwise be "--db".
        self.refused(["--db", self.db, "consent", "list", "--user"], 2,
                     "option --user needs a value", use_db=False)


class TestConsentRevoke(ConsentTest):
    def test_one_client(self):
        self.assertEqual(self.cli.ok("consent", "revoke", "--user", "alice",
                                     "--client", "web"),
                         "revoked 1 consent(s) of user 'alice'\n")
        self.assertEqual(self.consents(), [("alice", "app"), ("bob", "app")])
        # Nothing left to revoke is not an error.
        self.assertEqual(self.cli.json("consent", "revoke", "--user",
                                       "alice", "--client", "web"),
                         {"username": "alice", "client_id": "web",
                          "revoked": 0})
        self.assertEqual(self.cli.json("consent", "revoke", "--client",
                                       "app", "--user", "bob"),
                         {"username": "bob", "client_id": "app",
                          "revoked": 1})
        self.assertEqual(self.consents(), [("alice", "app")])

    def test_every_client(self):
        self.assertEqual(self.cli.json("consent", "revoke", "--user",
                                       "alice"),
                         {"username": "alice", "client_id": None,
                          "revoked": 2})
        self.assertEqual(self.consents(), [("bob", "app")])
        self.assertEqual(self.cli.ok("consent", "revoke", "--user", "alice"),
                         "revoked 0 consent(s) of user 'alice'\n")
        # Revoking consents leaves the user and the clients alone.
        self.assertEqual(len(self.cli.json("user", "list")), 2)
        self.assertEqual(len(self.cli.json("client", "list")), 3)

    def test_refusals_change_nothing(self):
        needs_user = "'consent revoke' needs --user NAME"
        cases = [
            ([], 2, needs_user),
            (["--client", "web"], 2, needs_user),
            (["--client", "nope"], 2, needs_user),
            (["--user", "nobody"], 1, "user 'nobody' not found"),
            (["--user", "alice", "--client", "nope"], 1,
             "client 'nope' not found"),
            (["--user", "alice", "web"], 2,
             "unexpected argument 'web' for 'consent revoke'"),
            (["--user", "alice", "--refresh"], 2,
             "option --refresh does not apply to 'consent revoke'"),
            (["--user", "alice", "--client", "web", "--client", "app"], 2,
             "option --client given more than once"),
            (["--user=alice", "--all"], 2, "unknown option '--all'"),
        ]
        for args, status, msg in cases:
            with self.subTest(args=args):
                self.refused(["consent", "revoke"] + args, status, msg)
        self.assertEqual(len(self.consents()), 3)

    def test_help(self):
        out = self.cli.ok("consent", "--help", use_db=False)
        self.assertIn("  consent list ", out)
        self.assertIn("  consent revoke --user NAME [--client ID] ", out)
        out = self.cli.ok("consent", "revoke", "--help", use_db=False)
        self.assertTrue(out.startswith(
            "usage: latchkey consent revoke --user NAME [--client ID] "))
        for opt in ("--user NAME", "--client ID"):
            self.assertIn("  " + opt + " ", out)
        self.assertIn("token revoke --user", out)
        out = self.cli.ok("consent", "list", "--help", use_db=False)
        for opt in ("--user NAME", "--client ID"):
            self.assertIn("  " + opt + " ", out)
        self.refused(["consent", "frob"], 2, "unknown command 'consent frob'",
                     use_db=False)
        self.refused(["consent"], 2, "'consent' needs a command",
                     use_db=False)


class TestRemoveTakesAlong(ConsentTest):
    """Removing a user or a client removes its consents, sessions and
    authorization codes (the foreign keys of migration 0004 cascade)."""

    def setUp(self):
        super().setUp()
        n = self.now
        for name, uid in (("alice", self.alice), ("bob", self.bob)):
            insert(self.db, "sessions", session_hash="s-" + name,
                   user_id=uid, auth_time=n, expires_at=n + 3600)
            for cid in ("app", "web"):
                insert(self.db, "authorization_codes",
                       code_hash="%s-%s" % (name, cid), client_id=cid,
                       subject=uid, username=name, scope="openid",
                       code_challenge="x" * 43, code_challenge_method="S256",
                       issued_at=n, expires_at=n + 60)

    def left(self, table, column):
        return [r[0] for r in rows(self.db, "SELECT %s FROM %s ORDER BY 1"
                                   % (column, table))]

    def test_user_remove(self):
        self.assertEqual(self.cli.json("user", "remove", "alice"),
                         {"username": "alice", "removed": True,
                          "revoked_tokens": 0})
        self.assertEqual(self.consents(), [("bob", "app")])
        self.assertEqual(self.left("sessions", "session_hash"), ["s-bob"])
        self.assertEqual(self.left("authorization_codes", "code_hash"),
                         ["bob-app", "bob-web"])
        self.assertEqual(self.listed("--user", "bob"), [("bob", "app")])
        self.refused(["consent", "list", "--user", "alice"], 1,
                     "user 'alice' not found")

    def test_client_remove(self):
        self.assertEqual(self.cli.ok("client", "remove", "app"),
                         "removed client 'app' and its token records\n")
        self.assertEqual(self.consents(), [("alice", "web")])
        self.assertEqual(self.left("authorization_codes", "code_hash"),
                         ["alice-web", "bob-web"])
        # Sessions belong to users, not clients.
        self.assertEqual(self.left("sessions", "session_hash"),
                         ["s-alice", "s-bob"])


if __name__ == "__main__":
    unittest.main()
