"""The test double's life tied to the test run: --exit-on-stdin-close
(the runner's pipe closed, as it is when the runner is killed) and
--exit-with-parent (the process that started latchkeyd has gone, seen by
polling getppid()). Either stops the server as SIGTERM does: exit 0 and
--ephemeral's directory removed. The ready line names the database, so
the CLI can be used on an ephemeral server. Real processes, no harness
wrapper: the point is who started whom."""
import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

from lk_harness import LATCHKEY, LATCHKEYD, SANITIZED, LatchkeyTestCase

BOUND = 20 if SANITIZED else 10  # seconds to notice and stop


def read_line(stream, timeout=BOUND):
    line = b""
    deadline = time.monotonic() + timeout
    while not line.endswith(b"\n"):
        r, _, _ = select.select([stream], [], [], deadline - time.monotonic())
        if not r:
            raise AssertionError("no ready line")
        chunk = os.read(stream.fileno(), 4096)
        if not chunk:
            raise AssertionError("stream closed before the ready line")
        line += chunk
    return json.loads(line)


def alive(pid):
    """Whether pid runs (a zombie waiting for its new parent does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class LifelineTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        self.tmp = os.path.join(self.dir, "tmp")
        os.mkdir(self.tmp)
        self.env = dict(os.environ, TMPDIR=self.tmp)
        self.log_path = os.path.join(self.dir, "latchkeyd.log")

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def cmd(self, *extra):
        return [LATCHKEYD, "--ephemeral", "--test-double", "--listen",
                "127.0.0.1:0", *extra]

    def healthz(self, port):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",
                                    timeout=10) as r:
            return r.status

    def test_stdin_closed_stops_it_cleanly(self):
        with open(self.log_path, "wb") as log:
            p = subprocess.Popen(self.cmd("--exit-on-stdin-close"),
                                 stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=log,
                                 env=self.env)
        try:
            ready = read_line(p.stdout)
            # The ready line names the database: the CLI works on it.
            self.assertTrue(ready["db"].startswith(self.tmp + "/"), ready)
            self.assertTrue(os.path.exists(ready["db"]))
            out = subprocess.run([LATCHKEY, "--db", ready["db"], "client",
                                  "add", "from-cli", "--grant",
                                  "client_credentials", "--json"],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr)
            c = json.loads(out.stdout)
            # The server serves the client the CLI added to its database.
            body = urllib.parse.urlencode({
                "grant_type": "client_credentials",
                "client_id": c["client_id"],
                "client_secret": c["client_secret"]}).encode()
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{ready['port']}/token", body,
                    timeout=30) as r:
                self.assertEqual(r.status, 200)
                self.assertIn("access_token", json.load(r))
            # What the runner writes is read and dropped; it goes on.
            p.stdin.write(b"anything\n")
            p.stdin.flush()
            time.sleep(0.3)
            self.assertIsNone(p.poll())
            self.assertEqual(self.healthz(ready["port"]), 200)
            p.stdin.close()
            self.assertEqual(p.wait(BOUND), 0, self.log_text())
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertIn("standard input closed (exit_on_stdin_close): "
                      "shutting down", self.log_text())
        self.assertEqual(os.listdir(self.tmp), [])  # the database is gone

    def test_without_the_flag_stdin_does_not_matter(self):
        with open(self.log_path, "wb") as log:
            p = subprocess.Popen(self.cmd(), stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=log,
                                 env=self.env)
        try:
            ready = read_line(p.stdout)
            p.stdin.close()
            time.sleep(0.5)
            self.assertIsNone(p.poll())
            self.assertEqual(self.healthz(ready["port"]), 200)
        finally:
            p.terminate()
            self.assertEqual(p.wait(BOUND), 0)

    def start_under_parent(self, *extra):
        """Starts latchkeyd from a parent process that then sleeps; the
        ready line comes through the parent's stdout (inherited). Returns
        (parent, ready)."""
        launcher = ("import subprocess, sys, time\n"
                    "subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL)\n"
                    "time.sleep(600)\n")
        with open(self.log_path, "wb") as log:
            parent = subprocess.Popen([sys.executable, "-c", launcher,
                                       *self.cmd(*extra)],
                                      stdout=subprocess.PIPE, stderr=log,
                                      env=self.env)
        self.addCleanup(lambda: parent.poll() is None and parent.kill())
        return parent, read_line(parent.stdout)

    def wait_gone(self, pid, timeout=BOUND):
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        return not alive(pid)

    def test_parent_killed_stops_it_cleanly(self):
        parent, ready = self.start_under_parent("--exit-with-parent")
        pid = ready["pid"]
        self.assertNotEqual(pid, parent.pid)
        time.sleep(0.5)  # several polls with the parent alive: it stays
        self.assertTrue(alive(pid))
        self.assertEqual(self.healthz(ready["port"]), 200)
        parent.send_signal(signal.SIGKILL)  # no chance to clean up
        parent.wait()
        self.assertTrue(self.wait_gone(pid), self.log_text())
        self.assertIn("the parent process has gone (exit_with_parent): "
                      "shutting down", self.log_text())
        self.assertEqual(os.listdir(self.tmp), [])

    def test_without_the_flag_an_orphan_lives_on(self):
        parent, ready = self.start_under_parent()
        pid = ready["pid"]
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        try:
            time.sleep(1)
            self.assertTrue(alive(pid))
            self.assertEqual(self.healthz(ready["port"]), 200)
        finally:
            os.kill(pid, signal.SIGTERM)
        self.assertTrue(self.wait_gone(pid))
