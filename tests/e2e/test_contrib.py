"""contrib/: the example configuration and the systemd unit, and the
durability setting, against the real latchkeyd. The example must start a
server as it is and with every setting uncommented, must name every
setting `latchkeyd --help` knows with its default, and the unit must pass
`systemd-analyze verify` where that is installed."""
import os
import re
import shutil
import signal
import subprocess
import unittest

from lk_harness import LATCHKEYD, LatchkeyTestCase, skip_or_fail

HERE = os.path.dirname(os.path.abspath(__file__))
CONTRIB = os.path.join(HERE, "..", "..", "contrib")
EXAMPLE = os.path.join(CONTRIB, "latchkey.ini")
UNIT = os.path.join(CONTRIB, "latchkeyd.service")
SETTING = re.compile(r"^#([a-z_]+) =(?: (.*))?$")


def example_settings():
    """(key, value) of every commented-out setting line, in order."""
    with open(EXAMPLE) as f:
        return [(m.group(1), m.group(2) or "")
                for m in map(SETTING.match, f.read().splitlines()) if m]


def help_defaults():
    """{setting: default} from `latchkeyd --help`, but for config (a flag
    and variable only)."""
    out = subprocess.run([LATCHKEYD, "--help"], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    flags = re.findall(r"^  --([a-z0-9-]+)\s.*\n\s+env \S+, default '([^']*)'",
                       out, re.M)
    return {f.replace("-", "_"): d for f, d in flags if f != "config"}


class ExampleConfigTest(LatchkeyTestCase):
    def healthy(self, s):
        r = s.request("GET", "/healthz")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["status"], "ok")

    def test_it_starts_a_server_as_it_is(self):
        s = self.start("--config", EXAMPLE)
        self.healthy(s)

    def test_it_starts_a_server_with_every_setting_uncommented(self):
        """The defaults it shows are values latchkeyd accepts."""
        path = os.path.join(self.dir, "all.ini")
        with open(EXAMPLE) as f, open(path, "w") as out:
            for line in f:
                out.write(line[1:] if SETTING.match(line.rstrip("\n"))
                          else line)
        s = self.start("--config", path)
        self.healthy(s)
        self.assertRegex(s.log_text(), r"database .*: (durability normal|"
                         r"PostgreSQL, up to 8 connections), purge every "
                         r"3600 s\n")

    def test_it_names_every_setting_with_its_default(self):
        shown = example_settings()
        keys = [k for k, _ in shown]
        self.assertEqual(len(keys), len(set(keys)), "a setting twice")
        defaults = help_defaults()
        self.assertEqual(set(keys), set(defaults),
                         "contrib/latchkey.ini and latchkeyd --help differ: "
                         "add the new setting to the example")
        for key, value in shown:
            self.assertEqual(value, defaults[key], key)


class UnitFileTest(unittest.TestCase):
    def read(self):
        with open(UNIT) as f:
            return f.read()

    def test_it_runs_latchkeyd_with_the_example_config(self):
        unit = self.read()
        self.assertIn("ExecStart=/usr/local/bin/latchkeyd --config "
                      "/etc/latchkey/latchkey.ini\n", unit)
        with open(EXAMPLE) as f:
            self.assertIn("/etc/latchkey/latchkey.ini", f.read())
        for line in ("NoNewPrivileges=yes", "ProtectSystem=strict",
                     "StateDirectory=latchkey", "User=latchkey",
                     "WorkingDirectory=/var/lib/latchkey"):
            self.assertIn(line + "\n", unit)

    def test_there_is_no_reload_because_sighup_stops_the_server(self):
        """If latchkeyd ever reloads on SIGHUP, the unit wants an
        ExecReload; until then one would stop the service."""
        self.assertFalse([l for l in self.read().splitlines()
                          if l.startswith("ExecReload=")])
        d = os.path.join(os.environ.get("TMPDIR", "/tmp"),
                         f"lk-hup-{os.getpid()}")
        os.makedirs(d, exist_ok=True)
        try:
            p = subprocess.Popen([LATCHKEYD, "--listen", "127.0.0.1:0",
                                  "--db", os.path.join(d, "x.db")],
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            p.stdout.readline()  # the ready line
            p.send_signal(signal.SIGHUP)
            _, err = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 0)
            self.assertIn(b"shutting down", err)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_systemd_analyze_verify(self):
        if shutil.which("systemd-analyze") is None:
            skip_or_fail(self, "systemd-analyze is not installed (systemd)")
        d = os.path.join(os.environ.get("TMPDIR", "/tmp"),
                         f"lk-unit-{os.getpid()}")
        os.makedirs(d, exist_ok=True)
        try:
            # verify wants ExecStart to exist: point it at this build.
            path = os.path.join(d, "latchkeyd.service")
            with open(path, "w") as f:
                f.write(self.read().replace("/usr/local/bin/latchkeyd",
                                            os.path.abspath(LATCHKEYD)))
            p = subprocess.run(["systemd-analyze", "verify", path],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)


class DurabilityTest(LatchkeyTestCase):
    def run_server(self, *args, env=None):
        """A latchkeyd expected to stop at start-up: its CompletedProcess."""
        return subprocess.run([LATCHKEYD, "--listen", "127.0.0.1:0", "--db",
                               self.db, *args], capture_output=True,
                              text=True, timeout=30,
                              env={**os.environ, **(env or {})})

    def test_full_serves(self):
        s = self.start("--durability", "full")
        self.assertIn("durability full", s.log_text())
        r = s.request("GET", "/healthz")
        self.assertEqual(r.status, 200, r.body)

    def test_other_values_stop_start_up(self):
        p = self.run_server("--durability", "fsync")
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stderr, "latchkeyd: setting 'durability' (from "
                         "--durability): 'fsync' is not one of: normal, "
                         "full\n")
        ini = os.path.join(self.dir, "bad.ini")
        with open(ini, "w") as f:
            f.write("[latchkeyd]\ndurability = FULL\n")
        p = self.run_server("--config", ini)
        self.assertEqual(p.returncode, 2)
        self.assertIn(f"setting 'durability' (from {ini}): 'FULL' is not "
                      "one of: normal, full", p.stderr)
        p = self.run_server(env={"LATCHKEY_DURABILITY": ""})
        self.assertEqual(p.returncode, 2)
        self.assertIn("from LATCHKEY_DURABILITY", p.stderr)


if __name__ == "__main__":
    unittest.main()
