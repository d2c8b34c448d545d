"""The Debian package, end to end on this machine: scripts/build-deb.sh
(what `make deb` runs) builds latchkey_VERSION_ARCH.deb, `dpkg -i`
installs it, the installed `latchkey migrate` and `latchkeyd` run as the
`latchkey` user against /var/lib/latchkey, a client made with the CLI
gets a token over HTTP, a reinstall keeps an edited configuration, `dpkg
-r` keeps the database and `dpkg --purge` removes it and the user.

Needs root and dpkg; without them it skips in one line (a failure with
CI=true). Run once per ctest run (label `package`, RESOURCE_LOCK dpkg,
release build only: tests/CMakeLists.txt). It refuses to run where a
latchkey package, user or /var/lib/latchkey already exists, and purges
what it installed whatever happens. dpkg's output is printed."""
import base64
import grp
import http.client
import json
import os
import pwd
import select
import shutil
import signal
import stat
import subprocess
import tempfile
import unittest
import urllib.parse

from lk_harness import SOURCE_DIR, lk_version, skip_or_fail

STATE = "/var/lib/latchkey"
DB = STATE + "/latchkey.db"
CONF = "/etc/latchkey/latchkey.ini"
UNIT = "/lib/systemd/system/latchkeyd.service"


def sh(*argv, check=True, user=None, **kw):
    """Runs argv (as user, through runuser, when given); prints and
    returns the CompletedProcess."""
    if user is not None:
        argv = ("runuser", "-u", user, "--") + argv
    p = subprocess.run(argv, capture_output=True, text=True, timeout=600,
                       cwd="/", **kw)
    print("$ " + " ".join(argv))
    print((p.stdout + p.stderr).rstrip())
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d" % (" ".join(argv), p.returncode))
    return p


def installed():
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "latchkey"],
                       capture_output=True, text=True)
    return p.returncode == 0 and "installed" in p.stdout and \
        "not-installed" not in p.stdout


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


class PackageTest(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            skip_or_fail(self, "the package test installs a .deb: needs root")
        for tool in ("dpkg", "dpkg-deb", "dpkg-shlibdeps", "cpack",
                     "runuser", "adduser"):
            if shutil.which(tool) is None:
                skip_or_fail(self, "the package test needs %s" % tool)
        # Never on a machine where Latchkey is installed for real.
        if (installed() or user_exists("latchkey") or
                os.path.exists(STATE)):
            self.fail("a latchkey package, user or %s exists already: "
                      "the package test runs only on a machine without "
                      "them (dpkg --purge latchkey)" % STATE)
        self.dir = tempfile.mkdtemp(prefix="lk-deb-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.server = None

    def purge(self):
        if self.server is not None and self.server.poll() is None:
            self.server.kill()
            self.server.wait()
        subprocess.run(["dpkg", "--purge", "latchkey"], capture_output=True)

    def build(self):
        out = sh(os.path.join(SOURCE_DIR, "scripts", "build-deb.sh"),
                 os.path.join(self.dir, "build"), "2").stdout
        deb = out.strip().splitlines()[-1]
        arch = subprocess.run(["dpkg", "--print-architecture"],
                              capture_output=True, text=True,
                              check=True).stdout.strip()
        self.assertEqual(os.path.basename(deb),
                         "latchkey_%s_%s.deb" % (lk_version(), arch))
        info = sh("dpkg-deb", "--info", deb).stdout
        # Computed by dpkg-shlibdeps from the binaries.
        for lib in ("libmicrohttpd12", "libgnutls30", "libsqlite3-0", "libpq5",
                    "libjansson4", "libssl3", "libargon2-1", "libinih1",
                    "libcurl4"):
            self.assertRegex(info, r"Depends: .*\b%s\b" % lib)
        self.assertIn("conffiles", info)
        return deb

    def start_server(self):
        """latchkeyd as the latchkey user with the package's
        configuration, on a free loopback port: its port."""
        with open(os.path.join(self.dir, "latchkeyd.log"), "w") as log:
            self.server = subprocess.Popen(
                ["/usr/bin/latchkeyd", "--config", CONF, "--listen",
                 "127.0.0.1:0"], user="latchkey", group="latchkey",
                extra_groups=[], cwd=STATE, stdout=subprocess.PIPE,
                stderr=log)
        self.addCleanup(self.server.stdout.close)
        r, _, _ = select.select([self.server.stdout], [], [], 30)
        self.assertTrue(r, "latchkeyd did not become ready")
        line = self.server.stdout.readline()
        self.assertTrue(line, "latchkeyd exited: " + self.log())
        return json.loads(line)["port"]

    def log(self):
        with open(os.path.join(self.dir, "latchkeyd.log")) as f:
            return f.read()

    def token(self, port, client_id, secret):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        auth = base64.b64encode(("%s:%s" % (
            urllib.parse.quote(client_id, safe=""),
            urllib.parse.quote(secret, safe=""))).encode()).decode()
        conn.request("POST", "/token", body="grant_type=client_credentials",
                     headers={"Content-Type":
                              "application/x-www-form-urlencoded",
                              "Authorization": "Basic " + auth})
        r = conn.getresponse()
        body = r.read()
        conn.close()
        self.assertEqual(r.status, 200, body)
        return json.loads(body)

    def test_install_serve_remove_purge(self):
        deb = self.build()
        self.addCleanup(self.purge)

        # ---- install: the user, its state directory, the unit ----
        sh("dpkg", "-i", deb)
        pw = pwd.getpwnam("latchkey")
        self.assertLess(pw.pw_uid, 1000, "a system user")
        self.assertEqual(pw.pw_dir, STATE)
        st = os.stat(STATE)
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)),
                         (pw.pw_uid, 0o700))
        st = os.stat(CONF)
        self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)),
                         (0, pw.pw_gid, 0o640))
        with open(UNIT) as f:
            unit = f.read()
        self.assertIn("ExecStart=/usr/bin/latchkeyd --config %s\n" % CONF,
                      unit)
        # Installed, not enabled (nor started: nothing listens yet).
        self.assertFalse(os.path.exists("/etc/systemd/system/"
                                        "multi-user.target.wants/"
                                        "latchkeyd.service"))
        with open(CONF) as f:
            self.assertIn("\ndb = %s\n" % DB, f.read())
        self.assertTrue(sh("/usr/bin/latchkeyd", "--version").stdout
                        .startswith("latchkeyd %s\n" % lk_version()))
        self.assertTrue(os.path.exists("/usr/share/man/man8/latchkeyd.8"))
        self.assertTrue(os.path.exists("/usr/share/doc/latchkey/cli.md"))
        self.assertTrue(os.path.exists("/usr/share/doc/latchkey/LICENSE"))
        self.assertTrue(os.path.exists("/usr/share/bash-completion/"
                                       "completions/latchkey"))

        # ---- migrate, serve, a client, a token: all as latchkey ----
        cli = ("/usr/bin/latchkey", "--config", CONF)
        out = sh(*cli, "migrate", user="latchkey").stdout
        self.assertIn("schema version", out)
        self.assertEqual(os.stat(DB).st_uid, pw.pw_uid)
        port = self.start_server()
        c = json.loads(sh(*cli, "client", "add", "svc", "--scope", "read",
                          "--json", user="latchkey").stdout)
        tok = self.token(port, c["client_id"], c["client_secret"])
        self.assertEqual(tok["token_type"], "Bearer")
        # root with the same file: it works, and warns in one line.
        p = sh(*cli, "client", "list")
        self.assertIn(c["client_id"], p.stdout)
        self.assertEqual(len([l for l in p.stderr.splitlines()
                              if "belongs to latchkey" in l]), 1, p.stderr)
        self.server.send_signal(signal.SIGTERM)
        self.assertEqual(self.server.wait(timeout=30), 0, self.log())
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(DB + suffix):
                self.assertEqual(os.stat(DB + suffix).st_uid, pw.pw_uid,
                                 suffix)

        # ---- a reinstall (an upgrade's path) keeps an edited conffile ----
        with open(CONF, "a") as f:
            f.write("\n# edited by the operator\n")
        sh("dpkg", "-i", deb)
        with open(CONF) as f:
            self.assertIn("# edited by the operator", f.read())

        # ---- remove: the program goes, data, config and user stay ----
        sh("dpkg", "-r", "latchkey")
        self.assertFalse(os.path.exists("/usr/bin/latchkeyd"))
        self.assertTrue(os.path.exists(DB))
        self.assertTrue(os.path.exists(CONF))
        self.assertTrue(user_exists("latchkey"))

        # ---- purge: all of it ----
        sh("dpkg", "--purge", "latchkey")
        self.assertFalse(os.path.exists(STATE))
        self.assertFalse(os.path.exists("/etc/latchkey"))
        self.assertFalse(user_exists("latchkey"))
        self.assertFalse(group_exists("latchkey"))
        self.assertFalse(installed())


if __name__ == "__main__":
    unittest.main()
