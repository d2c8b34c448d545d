"""Issue 17 section 1: the audit trail. Every change the admin CLI makes
to clients, users, keys, consents, sessions and tokens is recorded in the
database (audit_events, both backends: run as e2e_pg_test_audit too)
with its time, actor (cli: and the OS user), action, object and the
fields changed with old and new values, never a secret or a hash;
`latchkey audit list` reads it back with --object, --actor, --limit and
--since; the purge keeps events for audit_retention."""
import getpass
import json
import os
import time

import lk_db
from lk_harness import LatchkeyTestCase, cli

ACTOR = "cli:" + getpass.getuser()


class AuditTest(LatchkeyTestCase):
    def events(self, *args):
        return json.loads(cli(self.db, "audit", "list", "--json",
                              *args).stdout)

    def test_every_change_is_recorded_without_secrets(self):
        t0 = int(time.time())
        c = json.loads(cli(self.db, "client", "add", "Billing", "--id",
                           "billing", "--grant", "client_credentials",
                           "--grant", "password", "--scope", "read",
                           "--json").stdout)
        cli(self.db, "client", "update", "billing", "--scope", "read write")
        rotated = json.loads(cli(self.db, "client", "rotate-secret",
                                 "billing", "--grace", "1h",
                                 "--json").stdout)
        cli(self.db, "client", "disable", "billing")
        cli(self.db, "client", "disable", "billing")  # no change: no event
        cli(self.db, "client", "enable", "billing")
        cli(self.db, "user", "add", "ada", "--password-stdin",
            "--claim", "email=ada@example.com", stdin="ada-password-1\n")
        cli(self.db, "user", "update", "ada", "--claim", "email=ada@x.org")
        cli(self.db, "user", "passwd", "ada", "--password-stdin",
            stdin="ada-password-2\n")
        cli(self.db, "key", "rotate", "--alg", "ES256")
        s = self.start()
        tok = s.token({"grant_type": "client_credentials"},
                      auth=("billing", rotated["client_secret"])).json()
        cli(self.db, "token", "revoke", self.jti(tok["access_token"]))
        cli(self.db, "token", "revoke", "--client", "billing")  # 0: none
        cli(self.db, "user", "remove", "ada")
        cli(self.db, "client", "remove", "billing")

        ev = self.events()
        self.assertEqual([(e["action"], e["object"]) for e in ev], [
            ("client.add", "client:billing"),
            ("client.update", "client:billing"),
            ("client.rotate_secret", "client:billing"),
            ("client.disable", "client:billing"),
            ("client.enable", "client:billing"),
            ("user.add", "user:ada"),
            ("user.update", "user:ada"),
            ("user.passwd", "user:ada"),
            ("key.rotate", "key:ES256"),
            ("token.revoke", "token:" + self.jti(tok["access_token"])),
            ("user.remove", "user:ada"),
            ("client.remove", "client:billing"),
        ])
        ids = [e["id"] for e in ev]
        self.assertEqual(ids, sorted(ids))
        for e in ev:
            self.assertEqual((e["actor"], e["address"]), (ACTOR, None))
            self.assertTrue(t0 - 1 <= e["at"] <= time.time() + 1, e)
        by = {e["action"]: e["changes"] for e in ev}
        self.assertEqual(by["client.update"],
                         {"scopes": {"old": ["read"],
                                     "new": ["read", "write"]}})
        self.assertEqual(by["client.add"]["scopes"],
                         {"old": None, "new": ["read"]})
        self.assertEqual(by["client.disable"]["disabled"],
                         {"old": False, "new": True})
        self.assertEqual(by["client.enable"]["disabled"],
                         {"old": True, "new": False})
        self.assertEqual(by["client.rotate_secret"]["client_secret"],
                         {"old": "(replaced)", "new": "(generated)"})
        self.assertEqual(
            by["client.rotate_secret"]["previous_secret_expires_at"]["new"],
            rotated["previous_secret_expires_at"])
        self.assertEqual(by["user.update"],
                         {"claims": {"old": {"email": "ada@example.com"},
                                     "new": {"email": "ada@x.org"}}})
        self.assertEqual(by["user.passwd"]["password"],
                         {"old": "(replaced)", "new": "(set)"})
        self.assertEqual(by["client.remove"]["scopes"],
                         {"old": ["read", "write"], "new": None})
        self.assertEqual(by["token.revoke"],
                         {"revoked_tokens": {"old": None, "new": 1}})
        self.assertIsInstance(by["key.rotate"]["current_kid"]["new"], str)
        # Never a secret, a password or a hash, anywhere in the table.
        dump = json.dumps(lk_db.db_query(self.db, "SELECT * FROM "
                                         "audit_events"))
        for secret in (c["client_secret"], rotated["client_secret"],
                       "ada-password-1", "ada-password-2", "$argon2",
                       "$lk-hmac", tok["access_token"]):
            self.assertNotIn(secret, dump)

    def jti(self, jwt):
        import base64
        part = jwt.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(
            part + "=" * (-len(part) % 4)))["jti"]

    def test_list_filters_and_text(self):
        for n in ("a", "b", "c"):
            cli(self.db, "client", "add", n, "--id", n)
        cli(self.db, "client", "disable", "b")
        self.assertEqual([e["action"] for e in
                          self.events("--object", "client:b")],
                         ["client.add", "client.disable"])
        self.assertEqual(self.events("--actor", "cli:nobody"), [])
        self.assertEqual(len(self.events("--actor", ACTOR)), 4)
        # --limit: the newest N, still oldest first.
        self.assertEqual([e["object"] for e in self.events("--limit", "2")],
                         ["client:c", "client:b"])
        self.assertEqual(self.events("--since", str(int(time.time()) + 60)),
                         [])
        out = cli(self.db, "audit", "list").stdout.splitlines()
        self.assertEqual(out[0].split(), ["TIME", "ACTOR", "ACTION",
                                          "OBJECT", "CHANGED"])
        self.assertRegex(out[-1], r"^\d{4}-\d\d-\d\dT\S+Z +%s +client\."
                         r"disable +client:b +disabled,disabled_at$" % ACTOR)
        p = cli(self.db, "audit", "list", "--limit", "0", check=False)
        self.assertEqual(p.returncode, 2)

    def test_purge_keeps_events_for_audit_retention(self):
        cli(self.db, "client", "add", "a", "--id", "a")
        now = int(time.time())
        lk_db.db_query(self.db, "INSERT INTO audit_events (at, actor, "
                       "action, object, changes) VALUES (?, 'cli:old', "
                       "'client.add', 'client:old', '{}')",
                       (now - 366 * 86400,))
        lk_db.db_query(self.db, "INSERT INTO audit_events (at, actor, "
                       "action, object, changes) VALUES (?, 'cli:old', "
                       "'client.add', 'client:kept', '{}')",
                       (now - 300 * 86400,))
        out = json.loads(cli(self.db, "purge", "--json").stdout)
        self.assertEqual(out["audit_events"], 1)
        self.assertEqual([e["object"] for e in self.events()],
                         ["client:kept", "client:a"])
        # The server's purge, with a retention of a minute.
        lk_db.db_query(self.db, "INSERT INTO audit_events (at, actor, "
                       "action, object, changes) VALUES (?, 'cli:old', "
                       "'client.add', 'client:minute', '{}')", (now - 120,))
        s = self.start("--purge-interval", "1", "--audit-retention", "60")
        deadline = time.monotonic() + 15
        while (time.monotonic() < deadline and
               "audit event(s)" not in s.log_text()):
            time.sleep(0.1)
        self.assertRegex(s.log_text(), r"purged 2 audit event\(s\) older "
                         r"than audit_retention \(60 s\)")
        self.assertEqual([e["object"] for e in self.events()],
                         ["client:a"])
