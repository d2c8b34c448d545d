"""latchkeyd start-up: settings from flags, LATCHKEY_* variables and an INI
file with that precedence, refusals that name the setting, the database
file's mode, and a schema newer than the binary."""
import os
import lk_db
import stat
import subprocess

from lk_harness import LATCHKEYD, LatchkeyTestCase, add_client


def run_daemon(*args, env=None):
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run([LATCHKEYD, *args], capture_output=True, text=True,
                          timeout=60, env=full)


class StartupTest(LatchkeyTestCase):
    def ttl_of_token(self, s, auth):
        r = s.token({"grant_type": "client_credentials"}, auth=auth)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["expires_in"]

    def test_ready_line(self):
        s = self.start()
        self.assertEqual(s.ready["ready"], True)
        self.assertEqual(s.ready["pid"], s.proc.pid)
        self.assertGreater(s.port, 0)
        self.assertIn(f"listening on 127.0.0.1:{s.port}", s.log_text())

    def test_db_mode(self):
        self.start()
        mode = stat.S_IMODE(os.stat(self.db).st_mode)
        self.assertEqual(mode, 0o600)

    def test_precedence_flag_env_file_default(self):
        c = add_client(self.db, "svc")
        auth = (c["client_id"], c["client_secret"])
        ini = os.path.join(self.dir, "lk.ini")
        with open(ini, "w") as f:
            f.write("# comment\n[latchkeyd]\naccess_token_ttl = 111\n")
        s = self.start()
        self.assertEqual(self.ttl_of_token(s, auth), 3600)
        s = self.start("--config", ini)
        self.assertEqual(self.ttl_of_token(s, auth), 111)
        env = {"LATCHKEY_ACCESS_TOKEN_TTL": "222"}
        s = self.start("--config", ini, env=env)
        self.assertEqual(self.ttl_of_token(s, auth), 222)
        s = self.start("--config", ini, "--access-token-ttl=333", env=env)
        self.assertEqual(self.ttl_of_token(s, auth), 333)
        s = self.start(env={"LATCHKEY_CONFIG": ini})
        self.assertEqual(self.ttl_of_token(s, auth), 111)

    def test_bad_settings_stop_startup_naming_the_setting(self):
        ini = os.path.join(self.dir, "bad.ini")
        with open(ini, "w") as f:
            f.write("acess_token_ttl = 5\n")
        cases = [
            (["--access-token-ttl", "-5"], {}, "access_token_ttl"),
            (["--access-token-ttl", "12x"], {}, "access_token_ttl"),
            (["--signing-alg", "HS256"], {}, "signing_alg"),
            (["--listen", "localhost"], {}, "listen"),
            (["--issuer", "https://x.test/"], {}, "issuer"),
            (["--threads", "0"], {}, "threads"),
            ([], {"LATCHKEY_MAX_BODY_SIZE": "lots"}, "max_body_size"),
            (["--config", ini], {}, "acess_token_ttl"),
            (["--config", os.path.join(self.dir, "missing.ini")], {},
             "config"),
            (["--no-such-flag", "1"], {}, "--no-such-flag"),
            (["--db"], {}, "--db"),
        ]
        for args, env, needle in cases:
            with self.subTest(args=args, env=env):
                p = run_daemon("--db", self.db, "--listen", "127.0.0.1:0",
                               *args, env=env)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(needle, p.stderr)
                self.assertTrue(p.stderr.startswith("latchkeyd: "), p.stderr)
                self.assertEqual(p.stdout, "")

    def test_help_lists_every_setting(self):
        p = run_daemon("--help")
        self.assertEqual(p.returncode, 0)
        for flag in ["--listen", "--issuer", "--db", "--config",
                     "--access-token-ttl", "--signing-alg", "--audience",
                     "--max-body-size", "--threads", "--log-format",
                     "--log-level", "LATCHKEY_ACCESS_TOKEN_TTL"]:
            self.assertIn(flag, p.stdout)

    def test_port_in_use_is_a_clear_error(self):
        s = self.start()
        p = run_daemon("--db", self.db, "--listen", f"127.0.0.1:{s.port}")
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot listen", p.stderr)

    def test_newer_schema_is_refused(self):
        s = self.start()
        s.stop()
        db = lk_db.connect(self.db)
        db.execute("INSERT INTO schema_migrations VALUES (9999, 'future', "
                   "'x', 0)")
        db.commit()
        db.close()
        p = run_daemon("--db", self.db, "--listen", "127.0.0.1:0")
        self.assertEqual(p.returncode, 1)
        self.assertIn("newer than this binary", p.stderr)

    def test_json_logs(self):
        c = add_client(self.db, "svc")
        s = self.start("--log-format", "json")
        s.token({"grant_type": "client_credentials"},
                auth=(c["client_id"], c["client_secret"]))
        s.stop()
        import json
        lines = [json.loads(x) for x in s.log_text().splitlines() if x]
        req = [x for x in lines if x.get("where") == "request"]
        self.assertEqual(req[0]["status"], 200)
        self.assertEqual(req[0]["path"], "/token")
        self.assertEqual(req[0]["client_id"], c["client_id"])
        self.assertEqual(req[0]["grant_type"], "client_credentials")
