"""contrib/: the example configuration and the systemd unit, and the
durability setting, against the real latchkeyd. The example must start a
server as it is and with every setting uncommented, must name every
setting `latchkeyd --help` knows with its default, and the unit must pass
`systemd-analyze verify` where that is installed. contrib/haproxy's
walkthrough (three latchkeyd on PostgreSQL behind haproxy) runs as it is
and shows what docs/scale-out.md says it shows."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import unittest

import lk_db
from lk_harness import LATCHKEYD, SANITIZED, LatchkeyTestCase, skip_or_fail

HERE = os.path.dirname(os.path.abspath(__file__))
CONTRIB = os.path.join(HERE, "..", "..", "contrib")
EXAMPLE = os.path.join(CONTRIB, "latchkey.ini")
# The unit as this build generates it from contrib/latchkeyd.service.in
# and its install directories (cmake/install.cmake).
UNIT = os.path.join(os.path.dirname(os.path.abspath(LATCHKEYD)), "install",
                    "latchkeyd.service")
INSTALLED_EXAMPLE = os.path.join(os.path.dirname(UNIT), "latchkey.ini")
WALKTHROUGH = os.path.join(CONTRIB, "haproxy", "walkthrough.sh")
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
        """The installed binary with the installed example, wherever the
        build's prefix puts them: nothing hard-coded to /usr/local."""
        unit = self.read()
        m = re.search(r"^ExecStart=(/\S*)/bin/latchkeyd --config "
                      r"(/\S*)/latchkey/latchkey\.ini\n", unit, re.M)
        self.assertIsNotNone(m, unit)
        prefix, sysconf = m.groups()
        self.assertEqual(sysconf, "/etc" if prefix == "/usr"
                         else prefix + "/etc")
        self.assertNotIn("@", re.sub(r"@(system-service|privileged "
                                     r"@resources)", "", unit))
        with open(EXAMPLE) as f:
            self.assertIn("/etc/latchkey/latchkey.ini", f.read())
        # The installed example names the service's state directory.
        with open(INSTALLED_EXAMPLE) as f:
            self.assertIn("\ndb = /var/lib/latchkey/latchkey.db\n", f.read())
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
                f.write(re.sub(r"^ExecStart=\S+", "ExecStart=" +
                               os.path.abspath(LATCHKEYD), self.read(),
                               flags=re.M))
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


class HaproxyWalkthroughTest(unittest.TestCase):
    """contrib/haproxy/walkthrough.sh as an operator runs it: its own
    cluster, three latchkeyd on 127.0.0.1:8081-8083, haproxy on 8080 with
    contrib/haproxy/latchkey.cfg. PostgreSQL only and run once, in the
    release build's e2e_pg_ run, as test_multi_instance is. No other
    test binds 8080-8083 (they take port 0), so the ports need no lock;
    a developer's `make run` on 8080 makes the script refuse, and this
    test fail, saying so."""

    def test_three_instances_behind_haproxy(self):
        if not lk_db.POSTGRESQL:
            self.skipTest("PostgreSQL only: three instances on one database")
        if SANITIZED:
            self.skipTest("run once, in the release build's PostgreSQL run")
        for tool in ("haproxy", "curl", "jq"):
            if shutil.which(tool) is None:
                skip_or_fail(self, f"{tool} is not installed "
                             "(scripts/install-test-deps.sh)")
        build = os.path.dirname(shutil.which(LATCHKEYD) or LATCHKEYD)
        p = subprocess.run([WALKTHROUGH, build], capture_output=True,
                           text=True, timeout=300)
        out = p.stdout + p.stderr
        self.assertEqual(p.returncode, 0, out)
        self.assertIn('{"status":"ready"}', out)
        # A token from the balancer, introspected through it by another
        # instance, with the balancer's URL as its issuer.
        self.assertRegex(out, r'"active":true,.*"iss":"http://127\.0\.0\.1:'
                         r'8080"')
        by = {what: re.findall(r"\(%s answered by the instance on "
                               r"127\.0\.0\.1:(808[123])\)" % what, out)
              for what in ("token", "introspect")}
        self.assertEqual(len(by["token"]), 1, out)
        self.assertEqual(len(by["introspect"]), 1, out)
        self.assertNotEqual(by["token"], by["introspect"])
        # Round robin spread the seven tokens over all three, and all
        # seven are in the one database.
        counts = [int(n) for n in re.findall(
            r'^latchkey_http_requests_total\{endpoint="token",'
            r'status="200"\} (\d+)$', out, re.M)]
        self.assertEqual(len(counts), 3, out)
        self.assertEqual(sum(counts), 7)
        self.assertGreaterEqual(min(counts), 2)
        self.assertRegex(out, r"access_tokens'\n7\n")
        # The secret stays in its file; the token is shown shortened.
        self.assertNotIn("client_secret", out)
        self.assertNotRegex(out, r"eyJ[\w-]{40,}")
        # Everything it started is gone.
        for port in (8080, 8081, 8082, 8083):
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=2)


class AlertRulesTest(LatchkeyTestCase):
    """contrib/prometheus (issue 17): the alert rules pass promtool's
    check and their unit tests, and every latchkey_ metric they name is
    one latchkeyd serves (the certificate's only when it serves TLS)."""

    DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                       "..", "contrib", "prometheus")

    def promtool(self, *args):
        if shutil.which("promtool") is None:
            skip_or_fail(self, "promtool is not installed (prometheus)")
        return subprocess.run(["promtool", *args], cwd=self.DIR,
                              capture_output=True, text=True, timeout=120)

    def test_promtool_check_and_test(self):
        p = self.promtool("check", "rules", "latchkey-alerts.yml")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("SUCCESS: 7 rules found", p.stdout)
        p = self.promtool("test", "rules", "latchkey-alerts.test.yml")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_every_metric_named_is_served(self):
        with open(os.path.join(self.DIR, "latchkey-alerts.yml")) as f:
            named = set(re.findall(r"\b(latchkey_[a-z_]+)\b", f.read()))
        self.assertGreaterEqual(len(named), 6)
        cert = os.path.join(self.dir, "cert.pem")
        key = os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "30", "-subj", "/CN=localhost", "-keyout",
                        key, "-out", cert], check=True, capture_output=True)
        os.chmod(key, 0o600)
        s = self.start("--tls-cert", cert, "--tls-key", key)
        import ssl
        import urllib.request
        ctx = ssl.create_default_context(cafile=cert)
        ctx.check_hostname = False
        with urllib.request.urlopen(f"https://127.0.0.1:{s.port}/metrics",
                                    context=ctx, timeout=10) as r:
            text = r.read().decode()
        served = set(re.findall(r"^# TYPE (latchkey_[a-z_]+) ", text, re.M))
        self.assertEqual(named - served, set())
        expiry = re.search(r"^latchkey_tls_certificate_expiry_timestamp_"
                           r"seconds (\d+)$", text, re.M)
        out = subprocess.run(["openssl", "x509", "-in", cert, "-noout",
                              "-enddate", "-dateopt", "iso_8601"],
                             capture_output=True, text=True, check=True)
        import datetime
        end = datetime.datetime.fromisoformat(
            out.stdout.strip().split("=", 1)[1].replace("Z", "+00:00"))
        self.assertEqual(int(expiry.group(1)), int(end.timestamp()))


class SampleVerifierTest(LatchkeyTestCase):
    """contrib/verifier/verify_token.py, the resource-server check
    docs/operations.md recommends (issue 17), against real tokens."""

    def setUp(self):
        super().setUp()
        import sys
        sys.path.insert(0, os.path.join(os.path.dirname(
            os.path.abspath(__file__)), "..", "..", "contrib", "verifier"))
        import verify_token
        self.vt = verify_token
        from lk_harness import add_client
        c = add_client(self.db, "svc", "--scope", "invoices:read",
                       "--audience", "https://api.example")
        self.auth = (c["client_id"], c["client_secret"])

    def token(self, s, **form):
        r = s.token({"grant_type": "client_credentials", **form},
                    auth=self.auth)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["access_token"]

    def test_checks(self):
        import jwt
        s = self.start("--access-token-ttl", "2")
        v = self.vt.Verifier(s.issuer, "https://api.example", leeway=3)
        tok = self.token(s, scope="invoices:read")
        claims = v.verify(tok, required_scope="invoices:read")
        self.assertEqual(claims["aud"], "https://api.example")
        with self.assertRaises(jwt.InvalidTokenError):
            v.verify(tok, required_scope="invoices:write")
        with self.assertRaises(jwt.InvalidAudienceError):
            self.vt.Verifier(s.issuer, "https://other.example").verify(tok)
        with self.assertRaises(jwt.InvalidIssuerError):
            self.vt.Verifier("https://evil.example", "https://api.example",
                             jwks_url=s.issuer + "/jwks.json").verify(tok)
        # An ID-token-like JWT (typ JWT) is not an access token.
        head, body, sig = tok.split(".")
        import base64
        h = json.loads(base64.urlsafe_b64decode(head + "=="))
        h["typ"] = "JWT"
        forged = base64.urlsafe_b64encode(json.dumps(h).encode()).decode() \
            .rstrip("=") + "." + body + "." + sig
        with self.assertRaisesRegex(jwt.InvalidTokenError, "typ"):
            v.verify(forged)
        # exp passed 1 s ago: inside the 3 s leeway; then outside it.
        time.sleep(3)
        v.verify(tok)
        time.sleep(3)
        with self.assertRaises(jwt.ExpiredSignatureError):
            v.verify(tok)
