"""`latchkey backup FILE` (docs/operations.md, "Backing up"): an online
copy of the database taken while the real latchkeyd issues tokens from
several threads; the copy is checked with SQLite itself and with
`latchkey --db COPY`, and a server started on it serves what it holds."""
import os
import shutil
import lk_db
import stat
import threading
import time
import unittest

import jwt

from lk_cli_helpers import Cli, rows
from lk_harness import LatchkeyTestCase, add_client


def jti(token):
    return jwt.decode(token, options={"verify_signature": False})["jti"]


class BackupTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        self.cli = Cli(self.db, self.dir)
        c = add_client(self.db, "svc", "--access-token-ttl", "3600")
        rs = add_client(self.db, "api")
        self.auth = (c["client_id"], c["client_secret"])
        self.rs = (rs["client_id"], rs["client_secret"])
        self.copy = os.path.join(self.dir, "copy.db")

    def cc(self, s):
        r = s.token({"grant_type": "client_credentials"}, auth=self.auth)
        self.assertEqual(r.status, 200, r.body)
        return jti(r.json()["access_token"])

    def bulk(self, n):
        """n token records straight into the file, so the copy has many
        megabytes to go through while the server writes."""
        kid = rows(self.db, "SELECT kid FROM signing_keys")[0][0]
        db = lk_db.connect(self.db)
        with db:
            db.executemany(
                "INSERT INTO access_tokens (jti, client_id, subject, scope, "
                "kid, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                ((f"bulk-{i:06d}", self.auth[0], self.auth[0], "x" * 200,
                  kid, 1, 4102444800) for i in range(n)))
        db.close()

    def test_a_copy_taken_under_load_holds_what_came_before(self):
        s = self.start()
        self.bulk(20000)
        before = [self.cc(s) for _ in range(10)]

        issued, failures, stop = [], [], threading.Event()

        def issue():
            while not stop.is_set():
                r = s.token({"grant_type": "client_credentials"},
                            auth=self.auth)
                if r.status != 200:
                    failures.append((r.status, r.body))
                else:
                    issued.append(jti(r.json()["access_token"]))

        threads = [threading.Thread(target=issue) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            while len(issued) < 20:
                time.sleep(0.01)
            before += list(issued)  # answered before the backup began
            out = self.cli.json("backup", self.copy)
            during = len(issued)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(failures, [])
        self.assertGreater(during, len(before) - 10,
                           "no token was issued while the copy was made")

        self.assertEqual(out["backup"], self.copy)
        self.assertEqual(out["integrity_check"], "ok")
        self.assertEqual(out["bytes"], os.path.getsize(self.copy))
        self.assertEqual(stat.S_IMODE(os.stat(self.copy).st_mode), 0o600)
        # One file, nothing beside it.
        self.assertEqual(sorted(f for f in os.listdir(self.dir)
                                if f.startswith("copy.db")), ["copy.db"])

        self.assertEqual(rows(self.copy, "PRAGMA integrity_check"), [("ok",)])
        copied = {t["jti"] for t in Cli(self.copy, self.dir).json(
            "token", "list")}
        self.assertLessEqual(set(before), copied)
        self.assertIn("bulk-019999", copied)
        live = {r[0] for r in rows(self.db, "SELECT jti FROM access_tokens")}
        self.assertLessEqual(copied, live)

    def test_an_existing_file_is_kept_unless_forced(self):
        with open(self.copy, "w") as f:
            f.write("an older backup\n")
        os.chmod(self.copy, 0o644)
        p = self.cli.run("backup", self.copy)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr, f"latchkey: '{self.copy}' already exists "
                         "(--force replaces it)\n")
        with open(self.copy) as f:
            self.assertEqual(f.read(), "an older backup\n")

        out = self.cli.ok("backup", self.copy, "--force")
        self.assertTrue(out.startswith(f"backed up '{self.db}' to "
                                       f"'{self.copy}': "), out)
        self.assertTrue(out.endswith(" bytes, integrity check ok\n"), out)
        self.assertEqual(stat.S_IMODE(os.stat(self.copy).st_mode), 0o600)
        self.assertEqual(rows(self.copy, "SELECT count(*) FROM clients"),
                         [(2,)])

    def test_refusals(self):
        p = self.cli.run("backup", self.db, "--force")
        self.assertEqual(p.returncode, 1)
        self.assertIn("is the database itself", p.stderr)
        self.assertEqual(rows(self.db, "SELECT count(*) FROM clients"),
                         [(2,)])

        missing = os.path.join(self.dir, "missing.db")
        p = Cli(missing, self.dir).run("backup", self.copy)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr, f"latchkey: database '{missing}': No such "
                         "file or directory\n")
        self.assertFalse(os.path.exists(missing))
        self.assertFalse(os.path.exists(self.copy))

        p = self.cli.run("backup")
        self.assertEqual(p.returncode, 2)
        p = self.cli.run("backup", os.path.join(self.dir, "no", "such.db"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot create", p.stderr)

    def test_a_server_started_on_the_copy_serves_its_tokens(self):
        """The restore drill of docs/operations.md (issue 17): back up
        while serving, restore to a new place, start a second latchkeyd
        there, verify the tokens issued before the backup, then switch."""
        user_app = add_client(self.db, "app", "--grant", "password",
                              "--grant", "refresh_token")
        self.cli.ok("user", "add", "dave", "--password-stdin",
                    input="dave-password-1\n")
        s = self.start()
        token = s.token({"grant_type": "client_credentials"},
                        auth=self.auth).json()["access_token"]
        app = (user_app["client_id"], user_app["client_secret"])
        refresh = s.token({"grant_type": "password", "username": "dave",
                           "password": "dave-password-1"},
                          auth=app).json()["refresh_token"]
        # 1. Back up while serving.
        self.cli.ok("backup", self.copy)
        self.assertEqual(s.token({"grant_type": "client_credentials"},
                                 auth=self.auth).status, 200)
        # 2. Restore to a new place (mode 0600, as the drill says).
        drill = os.path.join(self.dir, "drill")
        os.mkdir(drill, 0o700)
        restored = os.path.join(drill, "latchkey.db")
        shutil.copyfile(self.copy, restored)
        os.chmod(restored, 0o600)
        # 3. Start a second latchkeyd on it, beside the first.
        live_db, self.db = self.db, restored
        s2 = self.start()
        self.db = live_db
        # 4. Verify: the same keys, the old tokens active, the old refresh
        # token refreshes there.
        kids = lambda srv: {k["kid"] for k in  # noqa: E731
                            srv.get_json("/jwks.json")["keys"]}
        self.assertEqual(kids(s2), kids(s))
        self.assertTrue(s2.introspect(token, self.rs)["active"])
        r = s2.token({"grant_type": "refresh_token",
                      "refresh_token": refresh}, auth=app)
        self.assertEqual(r.status, 200, r.body)
        # 5. Switch: the first stops; the restored one serves.
        self.assertEqual(s.stop(), 0)
        self.servers.remove(s)
        self.assertEqual(s2.token({"grant_type": "client_credentials"},
                                  auth=self.auth).status, 200)


if __name__ == "__main__":
    unittest.main()
