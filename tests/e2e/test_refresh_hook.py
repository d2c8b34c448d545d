"""on_refresh=hook against the real latchkeyd, with real hook programs that
allow, revoke, deny, crash and hang."""
import json
import os
import signal
import socket
import lk_db
import stat
import threading
import time
import urllib.parse

import jwt

from lk_harness import LATCHKEY, basic, cli
from test_refresh import RefreshBase


def jti(token):
    return jwt.decode(token, options={"verify_signature": False})["jti"]


# Each hook records what it saw (one JSON line per run) and then acts.
HOOK = """#!/usr/bin/python3
import json, os, sys
seen = {"stdin": sys.stdin.read(), "argv": sys.argv,
        "env": dict(os.environ), "cwd": os.getcwd(),
        "pgid": os.getpgid(0), "pid": os.getpid()}
with open(%(record)r, "a") as f:
    f.write(json.dumps(seen) + "\\n")
%(action)s
"""


class HookTest(RefreshBase):
    def hook(self, action, name="hook"):
        """Writes an executable hook; returns its path. The runs it records
        are read with self.runs()."""
        self.record = os.path.join(self.dir, name + ".runs")
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(HOOK % {"record": self.record, "action": action})
        os.chmod(path, stat.S_IRWXU)
        return path

    def runs(self):
        if not os.path.exists(self.record):
            return []
        with open(self.record) as f:
            return [json.loads(line) for line in f]

    def start_hook(self, action, *args):
        return self.start("--on-refresh", "hook", "--on-refresh-hook",
                          self.hook(action), *args)

    def counts(self):
        db = lk_db.connect(self.db)
        try:
            return db.execute(
                "SELECT (SELECT count(*) FROM refresh_tokens),"
                " (SELECT count(*) FROM refresh_tokens WHERE retired_at IS"
                "  NOT NULL OR revoked_at IS NOT NULL),"
                " (SELECT count(*) FROM access_tokens),"
                " (SELECT count(*) FROM access_tokens WHERE revoked_at IS"
                "  NOT NULL)").fetchone()
        finally:
            db.close()

    def assertPidFileGone(self, path):
        """The process whose pid the hook wrote to path dies within 5 s
        (a zombie nobody reaps counts as dead)."""
        with open(path) as f:
            pid = int(f.read())
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                with open("/proc/%d/stat" % pid) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        return
            except (FileNotFoundError, ProcessLookupError):
                return
            time.sleep(0.05)
        self.fail("a process the hook started outlived it")

    def assertRefused(self, r):
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertEqual(r.json()["error_description"],
                         "the refresh was refused by the server's policy")
        self.assertEqual(r.headers.get("cache-control"), "no-store")


class HookAllowTest(HookTest):
    def test_allow_sees_the_refresh_and_a_bare_environment(self):
        s = self.start_hook("sys.exit(0)")
        t0 = self.login(s, scope="read write")
        before = time.time()
        r = self.refresh(s, t0["refresh_token"], scope="read")
        self.assertEqual(r.status, 200, r.body)
        t1 = r.json()
        self.assertEqual(t1["scope"], "read")
        self.assertNotEqual(t1["refresh_token"], t0["refresh_token"])
        [run] = self.runs()
        doc = json.loads(run["stdin"])
        family = lk_db.connect(self.db).execute(
            "SELECT DISTINCT family_id FROM refresh_tokens").fetchall()
        self.assertEqual(len(family), 1)
        user_id = jwt.decode(t0["access_token"],
                             options={"verify_signature": False})["sub"]
        self.assertLessEqual(abs(doc.pop("time") - before), 5)
        self.assertEqual(doc, {
            "event": "on_refresh", "issuer": s.issuer, "client_id":
            self.app[0], "sub": user_id, "username": "dave",
            "scope_requested": "read", "scope_held": "read write",
            "scope_granted": "read",
            "access_token_jti": jti(t0["access_token"]),
            "family_id": family[0][0]})
        # execve with a fixed argv, cleared environment, cwd /, own group.
        self.assertEqual(run["argv"], [os.path.join(self.dir, "hook")])
        self.assertEqual(run["env"], {"PATH": "/usr/local/bin:/usr/bin:/bin",
                                      "LC_ALL": "C",
                                      "LATCHKEY_HOOK": "on_refresh"})
        self.assertEqual(run["cwd"], "/")
        self.assertEqual(run["pgid"], run["pid"])
        # Allowed without "revoke": the old access token stays valid.
        self.assertTrue(self.active(s, t0["access_token"]))
        self.assertTrue(self.active(s, t1["access_token"]))
        # Without scope: requested is null and everything held is granted;
        # the rotated token still holds all it held (RFC 6749 section 6).
        r = self.refresh(s, t1["refresh_token"])
        self.assertEqual(r.status, 200, r.body)
        doc = json.loads(self.runs()[1]["stdin"])
        self.assertIsNone(doc["scope_requested"])
        self.assertEqual((doc["scope_held"], doc["scope_granted"]),
                         ("read write", "read write"))
        self.assertEqual(doc["access_token_jti"], jti(t1["access_token"]))

    def test_revoke_line_revokes_the_old_access_token(self):
        s = self.start_hook("print('revoke')")
        t0 = self.login(s)
        t1 = self.refresh(s, t0["refresh_token"]).json()
        self.assertFalse(self.active(s, t0["access_token"]))
        self.assertTrue(self.active(s, t1["access_token"]))
        listed = json.loads(cli(self.db, "token", "list", "--active",
                                "--json").stdout)
        self.assertNotIn(jti(t0["access_token"]), [x["jti"] for x in listed])

    def test_other_output_allows_and_keeps(self):
        s = self.start_hook("print('revoked? no: keep')\nsys.exit(0)")
        t0 = self.login(s)
        self.assertEqual(self.refresh(s, t0["refresh_token"]).status, 200)
        self.assertTrue(self.active(s, t0["access_token"]))

    def test_stderr_goes_to_the_log_without_control_bytes(self):
        s = self.start_hook(
            "sys.stderr.write('checked dave\\x1b[31m\\nsecond line\\n')")
        t0 = self.login(s)
        self.assertEqual(self.refresh(s, t0["refresh_token"]).status, 200)
        log = s.log_text()
        self.assertIn("checked dave?[31m", log)
        self.assertIn("second line", log)
        self.assertNotIn("\x1b", log)
        # The refresh token itself never reaches the hook or the log.
        self.assertNotIn(t0["refresh_token"], log)
        self.assertNotIn(t0["refresh_token"], self.runs()[0]["stdin"])


class ClientChangedDuringIssueTest(HookTest):
    """shared/DECISIONS.md, "Removed clients and rotated secrets": the hook
    runs after the client authenticated and before the issue records the
    tokens, so a hook that changes the client is a change that lands in
    that gap, every time. The issue must then write nothing and answer
    invalid_client; on PostgreSQL the same check holds across instances."""

    def changing_hook(self, *args):
        argv = [LATCHKEY, "--db", self.db, *args]
        return self.start_hook(
            "import subprocess\n"
            "p = subprocess.run(%r, capture_output=True)\n"
            "sys.exit(0 if p.returncode == 0 else 9)" % (argv,),
            "--on-refresh-hook-timeout-ms", "30000")

    def assertNothingIssued(self, r, before):
        self.assertOAuthError(r, 401, "invalid_client")
        self.assertIn("changed", r.json()["error_description"])
        self.assertEqual(self.counts(), before)

    def test_a_secret_rotated_after_authentication_gets_no_token(self):
        s = self.changing_hook("client", "rotate-secret", self.app[0])
        t0 = self.login(s)
        before = self.counts()
        r = self.refresh(s, t0["refresh_token"])
        self.assertEqual(len(self.runs()), 1)  # the rotation ran
        self.assertNothingIssued(r, before)
        # The old secret is refused from now on, before any hook runs.
        r = self.refresh(s, t0["refresh_token"])
        self.assertOAuthError(r, 401, "invalid_client")
        self.assertEqual(len(self.runs()), 1)

    def test_a_client_removed_after_authentication_gets_no_token(self):
        s = self.changing_hook("client", "remove", self.app[0])
        t0 = self.login(s)
        r = self.refresh(s, t0["refresh_token"])
        self.assertEqual(len(self.runs()), 1)
        self.assertOAuthError(r, 401, "invalid_client")
        self.assertEqual(lk_db.db_query(
            self.db, "SELECT count(*) FROM access_tokens"), [(0,)])

    def test_a_scope_narrowed_after_authentication_gets_no_token(self):
        # Any change of the registration counts: the request was checked
        # against the registration as it was. The secret is still good,
        # so the answer says to try again, not that it is bad.
        s = self.changing_hook("client", "update", self.app[0],
                               "--scope", "read")
        t0 = self.login(s, scope="read write")
        before = self.counts()
        r = self.refresh(s, t0["refresh_token"])
        self.assertOAuthError(r, 503, "temporarily_unavailable")
        self.assertIn("try again", r.json()["error_description"])
        self.assertTrue(r.headers.get("retry-after"), r.headers)
        self.assertEqual(self.counts(), before)
        # Authenticated again (the secret did not change), the refresh
        # token that was not spent still works, within the new scope.
        self.hook("sys.exit(0)")  # the same path: the server runs this now
        r = self.refresh(s, t0["refresh_token"], scope="read")
        self.assertEqual(r.status, 200, r.body)


class HookContinuationTest(HookTest):
    def round_trips(self, s):
        r = s.request("GET", "/metrics")
        self.assertEqual(r.status, 200, r.body)
        [v] = [float(line.split()[1]) for line in r.body.decode().splitlines()
               if line.startswith("latchkey_db_round_trips_total ")]
        return v

    def test_only_the_hook_and_the_issue_run_after_the_wait(self):
        """A refresh that waits for its hook is not read again: the
        request is parsed, its client authenticated and its token read
        once, before the hook, and only the hook and the issue run after
        it (grants_issue_run). On PostgreSQL the database round trips
        show it: a hooked refresh costs what a plain one does (3 on warm
        connections), where running the whole request again cost about
        twice that."""
        s = self.start_hook("sys.exit(0)")
        rt = self.login(s)["refresh_token"]

        def refresh():
            nonlocal rt
            r = self.refresh(s, rt)
            self.assertEqual(r.status, 200, r.body)
            rt = r.json()["refresh_token"]

        for _ in range(3):  # prepares statements, reads the key
            refresh()
        n = 10
        before = self.round_trips(s)
        for _ in range(n):
            refresh()
        self.assertEqual(len(self.runs()), 3 + n)  # one hook per refresh
        extra = self.round_trips(s) - before
        if not lk_db.POSTGRESQL:
            self.assertEqual(extra, 0)
            return
        # The hook's threads come and go and take pooled connections, which
        # may prepare a statement anew: a few more, never the doubled count.
        self.assertGreaterEqual(extra, 3 * n)
        self.assertLess(extra, 5 * n, extra)


class HookDenyTest(HookTest):
    def check_denied_then_usable(self, action, log_says):
        gate = os.path.join(self.dir, "allow")
        s = self.start_hook(
            "if not os.path.exists(%r):\n    %s" % (gate, action),
            "--on-refresh-hook-timeout-ms", "500")
        t0 = self.login(s)
        before = self.counts()
        r = self.refresh(s, t0["refresh_token"])
        self.assertRefused(r)
        self.assertIn(log_says, s.log_text())
        # Nothing changed: the presented refresh token is still usable.
        self.assertEqual(self.counts(), before)
        self.assertTrue(self.active(s, t0["access_token"]))
        open(gate, "w").close()
        r = self.refresh(s, t0["refresh_token"])
        self.assertEqual(r.status, 200, r.body)
        return s

    def test_non_zero_exit_denies(self):
        self.check_denied_then_usable("sys.exit(3)", "exit status 3")

    def test_crash_denies(self):
        self.check_denied_then_usable("os.kill(os.getpid(), 11)",
                                      "killed by signal 11")

    def test_hang_is_killed_at_the_timeout(self):
        # The hook's child holds the pipes too: the whole group is killed.
        s = self.check_denied_then_usable(
            "import subprocess\n    p = subprocess.Popen(['sleep', '60'])\n"
            "    open(%r, 'w').write(str(p.pid))\n    p.wait()"
            % os.path.join(self.dir, "child"),
            "no answer within 500 ms; killed")
        self.assertPidFileGone(os.path.join(self.dir, "child"))
        self.assertIsNotNone(s)

    def test_background_children_die_with_the_hook(self):
        child = os.path.join(self.dir, "bg")
        s = self.start_hook(
            "import subprocess\np = subprocess.Popen(['sleep', '60'])\n"
            "open(%r, 'w').write(str(p.pid))" % child)
        t0 = self.login(s)
        self.assertEqual(self.refresh(s, t0["refresh_token"]).status, 200)
        self.assertPidFileGone(child)

    def test_hook_that_does_not_read_stdin(self):
        s = self.start_hook("")  # exits 0 at once; stdin may be unread
        with open(self.hook("sys.exit(0)", name="unused"), "a"):
            pass
        t0 = self.login(s)
        self.assertEqual(self.refresh(s, t0["refresh_token"]).status, 200)

    def test_missing_hook_program_denies(self):
        path = self.hook("sys.exit(0)")
        s = self.start("--on-refresh", "hook", "--on-refresh-hook", path)
        t0 = self.login(s)
        os.unlink(path)
        self.assertRefused(self.refresh(s, t0["refresh_token"]))
        self.assertIn("cannot start", s.log_text())
        self.assertTrue(self.active(s, t0["access_token"]))


class HookConcurrencyTest(HookTest):
    def start_slow(self, seconds, *args):
        """A server whose hook marks that it started, then sleeps."""
        self.started = os.path.join(self.dir, "started")
        return self.start_hook("open(%r, 'w').close()\nimport time\n"
                               "time.sleep(%s)" % (self.started, seconds),
                               *args)

    def refresh_in_background(self, s, rt):
        """Starts a refresh on a thread and returns once its hook runs;
        join() the thread, then read .result."""
        th = threading.Thread(target=lambda: setattr(
            th, "result", self.refresh(s, rt)))
        th.result = None
        th.start()
        deadline = time.monotonic() + 10
        while not os.path.exists(self.started) and \
                time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertTrue(os.path.exists(self.started))
        return th

    def test_slow_hook_holds_up_only_its_own_request(self):
        s = self.start_slow(1.5, "--threads", "1")
        t0 = self.login(s)
        th = self.refresh_in_background(s, t0["refresh_token"])
        # One HTTP worker thread, busy with nothing: others are served.
        t = time.monotonic()
        self.assertEqual(s.request("GET", "/healthz").status, 200)
        r = s.token({"grant_type": "client_credentials"}, auth=self.rs)
        self.assertEqual(r.status, 200, r.body)
        self.assertLess(time.monotonic() - t, 1.0)
        self.assertIsNone(th.result)
        th.join(15)
        self.assertEqual(th.result.status, 200, th.result.body)

    def test_past_the_limit_gets_503(self):
        s = self.start_slow(1, "--on-refresh-hook-max-concurrent", "1")
        a, b = self.login(s), self.login(s)
        th = self.refresh_in_background(s, a["refresh_token"])
        r = self.refresh(s, b["refresh_token"])
        self.assertOAuthError(r, 503, "temporarily_unavailable")
        self.assertEqual(r.headers.get("retry-after"), "1")
        th.join(15)
        self.assertEqual(th.result.status, 200)
        # b was not touched and works once the hook is free. The slot is
        # given back when MHD reports a's request complete, which can be
        # a moment after a's client has read the answer: a 503 until then
        # (b still untouched), then 200.
        deadline = time.monotonic() + 5
        r = self.refresh(s, b["refresh_token"])
        while r.status == 503 and time.monotonic() < deadline:
            time.sleep(0.05)
            r = self.refresh(s, b["refresh_token"])
        self.assertEqual(r.status, 200, r.body)

    def test_parallel_refreshes_of_one_token_exactly_one_wins(self):
        s = self.start_hook("import time\ntime.sleep(0.2)", "--threads", "4")
        t0 = self.login(s)
        out = []
        ths = [threading.Thread(target=lambda: out.append(
            self.refresh(s, t0["refresh_token"]))) for _ in range(6)]
        for th in ths:
            th.start()
        for th in ths:
            th.join(30)
        self.assertEqual(sorted(r.status for r in out), [200] + [400] * 5)
        for r in out:
            if r.status != 200:
                self.assertOAuthError(r, 400, "invalid_grant")

    def test_client_that_gives_up_gets_nothing_issued(self):
        s = self.start_slow(1)
        t0 = self.login(s)
        body = urllib.parse.urlencode({"grant_type": "refresh_token",
                                       "refresh_token": t0["refresh_token"]})
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.sendall(("POST /token HTTP/1.1\r\nHost: x\r\n"
                      "Authorization: %s\r\nContent-Type: "
                      "application/x-www-form-urlencoded\r\n"
                      "Content-Length: %d\r\n\r\n%s"
                      % (basic(*self.app), len(body), body)).encode())
        deadline = time.monotonic() + 10
        while not os.path.exists(self.started) and \
                time.monotonic() < deadline:
            time.sleep(0.01)
        before = self.counts()
        sock.close()  # the client's timeout fired
        time.sleep(1.5)
        self.assertEqual(self.counts(), before)
        self.assertIn("went away during the on_refresh hook",
                      s.log_text())
        # Its retry is an ordinary refresh, not a reuse.
        os.unlink(self.started)
        r = self.refresh(s, t0["refresh_token"])
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(self.active(s, r.json()["access_token"]))

    def test_one_hook_per_token_at_a_time(self):
        s = self.start_slow(1)
        t0 = self.login(s)
        th = self.refresh_in_background(s, t0["refresh_token"])
        r = self.refresh(s, t0["refresh_token"])
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertEqual(r.json()["error_description"],
                         "a refresh with this token is already in progress")
        th.join(15)
        self.assertEqual(th.result.status, 200, th.result.body)
        self.assertEqual(len(self.runs()), 1)  # one hook for both

    def test_sigterm_waits_for_a_running_hook(self):
        s = self.start_slow(0.5)
        t0 = self.login(s)
        th = self.refresh_in_background(s, t0["refresh_token"])
        s.proc.send_signal(signal.SIGTERM)
        th.join(15)
        self.assertEqual(th.result.status, 200, th.result.body)
        self.assertEqual(s.proc.wait(timeout=15), 0, s.log_text())


class HookPerClientTest(HookTest):
    def test_client_override_runs_the_hook_for_that_client_only(self):
        s = self.start("--on-refresh-hook", self.hook("print('revoke')"))
        cli(self.db, "client", "update", self.app[0], "--on-refresh", "hook")
        a = self.login(s)
        o = self.login(s, auth=self.other, scope="read")
        self.assertEqual(self.refresh(s, a["refresh_token"]).status, 200)
        r = self.refresh(s, o["refresh_token"], auth=self.other)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual([json.loads(x["stdin"])["client_id"]
                          for x in self.runs()], [self.app[0]])
        self.assertFalse(self.active(s, a["access_token"]))
        self.assertTrue(self.active(s, o["access_token"]))

    def test_client_hook_without_a_program_denies(self):
        s = self.start()
        cli(self.db, "client", "update", self.app[0], "--on-refresh", "hook")
        t0 = self.login(s)
        self.assertRefused(self.refresh(s, t0["refresh_token"]))
        self.assertIn("on_refresh_hook is not set", s.log_text())


class HookConfigTest(HookTest):
    def refused_start(self, *args):
        from lk_harness import LATCHKEYD
        import subprocess
        p = subprocess.run([LATCHKEYD, "--listen", "127.0.0.1:0", "--db",
                            self.db, *args], capture_output=True, text=True,
                           timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(p.stdout, "")
        return p.stderr

    def test_bad_settings_stop_start_up(self):
        self.assertIn("setting 'on_refresh_hook': on_refresh=hook needs the "
                      "program to run",
                      self.refused_start("--on-refresh", "hook"))
        self.assertIn("setting 'on_refresh_hook': 'hook' is not an absolute "
                      "path", self.refused_start("--on-refresh-hook", "hook"))
        plain = os.path.join(self.dir, "plain")
        open(plain, "w").close()
        for path in (plain, self.dir, os.path.join(self.dir, "missing")):
            self.assertIn("setting 'on_refresh_hook': '%s' is not an "
                          "executable file" % path,
                          self.refused_start("--on-refresh", "hook",
                                             "--on-refresh-hook", path))
        self.assertIn("on_refresh_hook_timeout_ms",
                      self.refused_start("--on-refresh-hook-timeout-ms", "0"))
        self.assertIn("on_refresh_hook_max_concurrent", self.refused_start(
            "--on-refresh-hook-max-concurrent", "0"))
