"""A database that cannot be written: the disk is full, or the file is
read-only. latchkeyd must answer what writes with 503
temporarily_unavailable (and Retry-After), keep answering what only reads
(/introspect, /healthz), log the cause once in one clear line, not crash,
and serve again by itself once the fault is gone, without a restart.

The faults are real, not simulated, so both need root (CI runs as root):

- disk full: the database lives on a small tmpfs mounted for the test,
  filled with a file until the kernel says ENOSPC, then the file is
  deleted. Skipped when mount(8) is not permitted (a container without
  CAP_SYS_ADMIN).
- read-only: the database and its WAL get the immutable attribute
  (chattr +i), which even root cannot write through, and which ext4, xfs
  and btrfs also enforce on descriptors already open. chmod would not do:
  root ignores permissions; and a read-only remount is refused while the
  server holds files open for writing. Skipped when the test directory's
  filesystem does not enforce the attribute that way (tmpfs does not).

A third fault needs no root and always runs: a file size limit
(RLIMIT_FSIZE, as `ulimit -f` or systemd's LimitFSIZE= set it) lowered on
the running server below its WAL's size, so that every append fails with
EFBIG; latchkeyd ignores SIGXFSZ, which would otherwise kill it.
"""
import errno
import os
import resource
import subprocess
import tempfile
import unittest
import urllib.parse

from lk_harness import LatchkeyTestCase, basic, skip_or_fail
from lk_load import integrity, register_load_parties


def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def fill(path):
    """Writes path until the filesystem is full: big blocks, then small
    ones, so not even a page is left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 1 << 16, 4096, 512):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as e:
                if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
    finally:
        os.close(fd)


def immutable_enforced(directory):
    """None when chattr +i stops writes through an open descriptor in
    directory, else why not."""
    if os.geteuid() != 0:
        return "chattr +i needs root"
    probe = os.path.join(directory, "immutable-probe")
    fd = os.open(probe, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        p = run("chattr", "+i", probe)
        if p.returncode != 0:
            return f"chattr +i is not supported here: {p.stderr.strip()}"
        try:
            os.pwrite(fd, b"x", 0)
            return ("this filesystem does not enforce the immutable "
                    "attribute on open files")
        except PermissionError:
            return None
    except FileNotFoundError:
        return "chattr is not installed"
    finally:
        run("chattr", "-i", probe)
        os.close(fd)
        os.unlink(probe)


class FaultBase(LatchkeyTestCase):
    """Clients svc (client_credentials), app (password + refresh_token)
    and api (introspects), the user dave; self.db may be moved first."""

    def register(self):
        register_load_parties(self)

    def cc(self, s):
        return s.token({"grant_type": "client_credentials"}, auth=self.svc)

    def login(self, s):
        return s.token({"grant_type": "password", "username": "dave",
                        "password": "dave-password-1"}, auth=self.app)

    def refresh(self, s, rt):
        return s.token({"grant_type": "refresh_token", "refresh_token": rt},
                       auth=self.app)

    def revoke(self, s, token, auth=None):
        return s.request("POST", "/revoke",
                         body=urllib.parse.urlencode({"token": token}),
                         headers={"Content-Type":
                                  "application/x-www-form-urlencoded",
                                  "Authorization": basic(*(auth or
                                                           self.app))})

    def assertUnavailable(self, r):
        self.assertOAuthError(r, 503, "temporarily_unavailable")
        self.assertEqual(r.headers.get("retry-after"), "1")

    def during_fault(self, s, causes, live_rt, token):
        """What every fault must look like: writes refused with 503, reads
        answered, the process alive, and the cause (one of causes) logged
        once, with the file's name."""
        self.assertUnavailable(self.cc(s))
        self.assertUnavailable(self.login(s))
        self.assertUnavailable(self.refresh(s, live_rt))
        self.assertUnavailable(self.revoke(s, token))
        self.assertTrue(s.introspect(token, self.rs)["active"])
        self.assertEqual(s.request("GET", "/healthz").status, 200)
        self.assertIsNone(s.proc.poll(), "latchkeyd died")
        lines = [l for l in s.log_text().splitlines()
                 if "cannot be written" in l]
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(self.db, lines[0])
        self.assertTrue(any(c in lines[0] for c in causes), lines[0])

    def after_fault(self, s, live_rt):
        """Back without a restart; the refresh the fault refused was rolled
        back, so its token still works (once)."""
        r = self.cc(s)
        self.assertEqual(r.status, 200, r.body)
        r = self.refresh(s, live_rt)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.login(s).status, 200)
        self.assertIn("database writes succeed again", s.log_text())
        self.assertEqual(integrity(self.db), "ok")
        return r.json()["refresh_token"]


class DiskFullTest(FaultBase):
    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            skip_or_fail(self, "mounting a small tmpfs needs root")
        self.mnt = tempfile.mkdtemp(prefix="lk-e2e-full-")
        self.addCleanup(os.rmdir, self.mnt)
        p = run("mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs",
                self.mnt)
        if p.returncode != 0:
            skip_or_fail(self, f"cannot mount a tmpfs: {p.stderr.strip()}")
        # Cleanups run after tearDown, which stops the server first.
        self.addCleanup(run, "umount", "-l", self.mnt)
        self.db = os.path.join(self.mnt, "latchkey.db")
        self.register()

    def test_disk_full_gets_503_then_recovers_by_itself(self):
        s = self.start()
        self.assertEqual(self.cc(s).status, 200)
        r = self.login(s)
        self.assertEqual(r.status, 200, r.body)
        rt, at = r.json()["refresh_token"], r.json()["access_token"]

        filler = os.path.join(self.mnt, "filler")
        fill(filler)
        self.during_fault(s, ["disk is full"], rt, at)

        os.unlink(filler)
        rt = self.after_fault(s, rt)
        # Fill and free once more: a second episode is logged again.
        fill(filler)
        self.assertUnavailable(self.refresh(s, rt))
        os.unlink(filler)
        self.assertEqual(self.refresh(s, rt).status, 200)


class ReadOnlyTest(FaultBase):
    def setUp(self):
        super().setUp()
        why = immutable_enforced(self.dir)
        if why is not None:
            skip_or_fail(self, why)
        self.register()

    def set_immutable(self, on):
        files = [self.db, self.db + "-wal"]
        for f in files:
            self.assertTrue(os.path.exists(f), f)
        p = run("chattr", "+i" if on else "-i", *files)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_read_only_database_gets_503_then_recovers_by_itself(self):
        # Never leave an immutable file behind: rmtree could not remove it.
        self.addCleanup(run, "chattr", "-i", self.db, self.db + "-wal")
        s0 = self.start()
        r = self.login(s0)
        self.assertEqual(r.status, 200, r.body)
        rt, at = r.json()["refresh_token"], r.json()["access_token"]
        tokens = [self.cc(s0).json()["access_token"] for _ in range(16)]
        self.assertEqual(s0.stop(), 0)

        # The fault begins before this server has written anything, so its
        # connections, opened during the fault, are ones SQLite could only
        # open read-only; it must replace them once the file is writable.
        # Eight threads, sixteen requests of each kind: every worker.
        s = self.start("--threads", "8")
        self.set_immutable(True)
        self.during_fault(s, ["readonly"], rt, at)
        for t in tokens:
            self.assertUnavailable(self.revoke(s, t, self.svc))
            self.assertUnavailable(self.cc(s))
        self.set_immutable(False)
        rt = self.after_fault(s, rt)
        for t in tokens:
            self.assertEqual(self.revoke(s, t, self.svc).status, 200)
            self.assertEqual(self.cc(s).status, 200)
            self.assertFalse(s.introspect(t, self.rs)["active"])

        # Again, with connections that were opened writable: writes through
        # them fail with EPERM, an I/O error to SQLite.
        self.set_immutable(True)
        self.assertUnavailable(self.refresh(s, rt))
        self.assertUnavailable(self.cc(s))
        self.set_immutable(False)
        self.assertEqual(self.refresh(s, rt).status, 200)
        lines = [l for l in s.log_text().splitlines()
                 if "cannot be written" in l]
        self.assertEqual(len(lines), 2, lines)
        self.assertIn("disk I/O error", lines[1])


class FileSizeLimitTest(FaultBase):
    def setUp(self):
        super().setUp()
        self.register()

    def test_file_size_limit_gets_503_then_recovers_by_itself(self):
        s = self.start()
        r = self.login(s)
        self.assertEqual(r.status, 200, r.body)
        rt, at = r.json()["refresh_token"], r.json()["access_token"]
        _, hard = resource.prlimit(s.proc.pid, resource.RLIMIT_FSIZE)
        # Every file may keep its size, none may grow: the WAL grows with
        # every commit until a checkpoint, which this short test never
        # reaches.
        limit = os.path.getsize(self.db + "-wal")
        resource.prlimit(s.proc.pid, resource.RLIMIT_FSIZE, (limit, hard))
        self.during_fault(s, ["disk I/O error"], rt, at)
        resource.prlimit(s.proc.pid, resource.RLIMIT_FSIZE, (hard, hard))
        self.after_fault(s, rt)


if __name__ == "__main__":
    unittest.main()
