"""Crash safety: latchkeyd is killed with SIGKILL in the middle of a load of
client_credentials requests and refresh chains (password login, then
rotation after rotation), restarted on the same database, and what the
clients were told before the kill must still hold:

- the database passes PRAGMA integrity_check;
- every access token a client got a 200 for introspects active;
- no refresh token is accepted twice across the restart: one whose
  rotation response came back is refused (invalid_grant); one that was
  received and never presented works exactly once; one that was presented
  when the kill cut the response off may have been retired or not, but it
  is never accepted twice.

Once per durability mode (normal and full) when latchkeyd has the setting.
Bounded by time and by count, so the ASan build stays quick too.
"""
import http.client
import subprocess
import sys
import threading
import time

from lk_harness import LATCHKEYD, SANITIZED, LatchkeyTestCase
from lk_load import Client, integrity, introspect_all, register_load_parties

# The kill comes after LOAD_SECS or once TARGET access tokens are out,
# whichever is first; the checks after the restart scale with the count.
LOAD_SECS = 3.0 if SANITIZED else 1.5
TARGET = 300 if SANITIZED else 1500
CC_THREADS = 3
RT_THREADS = 3
CHAIN = 25  # refreshes per login; then a new login starts a new family

# A request the kill cut off. ConnectionRefusedError is not one of them:
# that request never reached a server.
LOST = (OSError, http.client.HTTPException)


def durability_modes():
    """["normal", "full"] when latchkeyd has --durability, else [None]."""
    out = subprocess.run([LATCHKEYD, "--help"], capture_output=True,
                         text=True, timeout=30).stdout
    return ["normal", "full"] if "--durability" in out else [None]


class Chain:
    """What one refresh thread saw."""

    def __init__(self):
        self.used = []    # presented, and the rotation's 200 came back
        self.unused = []  # received and never presented
        self.lost = []    # presented when the kill cut the answer off


class CrashTest(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        register_load_parties(self)

    def test_kill_9_under_load_keeps_every_promise(self):
        for mode in durability_modes():
            with self.subTest(durability=mode):
                self.crash_once(mode)

    # ---- the load ----------------------------------------------------------

    def cc_worker(self, port, stop, acked, errors):
        c = Client(port)
        try:
            while not stop.is_set():
                st, body = c.token({"grant_type": "client_credentials"},
                                   self.svc)
                if st != 200:
                    errors.append((st, body))
                    return
                acked.append(body["access_token"])
        except LOST:
            return
        finally:
            c.close()

    def refresh_worker(self, port, stop, acked, errors, ch):
        c = Client(port)
        login = {"grant_type": "password", "username": "dave",
                 "password": "dave-password-1"}
        rt = None        # in hand, not yet presented
        presenting = False
        try:
            while not stop.is_set():
                st, body = c.token(login, self.app)
                if st != 200:
                    errors.append((st, body))
                    return
                acked.append(body["access_token"])
                rt = body["refresh_token"]
                for _ in range(CHAIN):
                    if stop.is_set():
                        break
                    presenting = True
                    st, body = c.token({"grant_type": "refresh_token",
                                        "refresh_token": rt}, self.app)
                    presenting = False
                    if st != 200:
                        errors.append((st, body))
                        return
                    ch.used.append(rt)
                    acked.append(body["access_token"])
                    rt = body["refresh_token"]
                ch.unused.append(rt)
                rt = None
        except ConnectionRefusedError:
            if rt is not None:  # it never reached the server
                ch.unused.append(rt)
        except LOST:
            if rt is not None:
                (ch.lost if presenting else ch.unused).append(rt)
        finally:
            c.close()

    # ---- one round: load, kill, restart, check --------------------------

    def crash_once(self, mode):
        args = ["--durability", mode] if mode else []
        s = self.start(*args)
        stop = threading.Event()
        acked, errors = [], []
        chains = [Chain() for _ in range(RT_THREADS)]
        threads = [threading.Thread(target=self.cc_worker,
                                    args=(s.port, stop, acked, errors))
                   for _ in range(CC_THREADS)]
        threads += [threading.Thread(target=self.refresh_worker,
                                     args=(s.port, stop, acked, errors, ch))
                    for ch in chains]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        while time.monotonic() - t0 < LOAD_SECS and len(acked) < TARGET:
            time.sleep(0.01)
        s.proc.kill()  # SIGKILL, in the middle of the load
        load_secs = time.monotonic() - t0
        stop.set()  # after: the threads run into the kill, not around it
        for t in threads:
            t.join(60)
        s.proc.wait(10)
        self.servers.remove(s)  # tearDown wants exit 0 from the others
        s.proc.stdout.close()
        s.log.close()
        self.assertEqual(errors, [], "a request failed before the kill")
        self.assertGreater(len(acked), 0)
        self.assertEqual(integrity(self.db), "ok")

        s2 = self.start(*args)
        active = introspect_all(s2.port, acked, self.rs)
        inactive = [t for t, a in active.items() if not a]
        self.assertEqual(len(inactive), 0,
                         f"{len(inactive)} of {len(acked)} access tokens "
                         "a client received are not active after the "
                         "restart")
        used = [t for ch in chains for t in ch.used]
        unused = [t for ch in chains for t in ch.unused]
        lost = [t for ch in chains for t in ch.lost]
        c = Client(s2.port)

        def refresh(rt):
            return c.token({"grant_type": "refresh_token",
                            "refresh_token": rt}, self.app)
        # Received, never presented: the record was committed before the
        # 200 that carried it, so it works once, and only once.
        for rt in unused:
            st, body = refresh(rt)
            self.assertEqual(st, 200, body)
            st, body = refresh(rt)
            self.assertEqual((st, body["error"]), (400, "invalid_grant"))
        # Cut off by the kill: retired or not, never accepted twice.
        still_live = 0
        for rt in lost:
            st, body = refresh(rt)
            if st == 200:
                still_live += 1
                st, body = refresh(rt)
            self.assertEqual((st, body["error"]), (400, "invalid_grant"))
        # Accepted before the kill: refused after it.
        refused = 0
        for rt in used:
            st, body = refresh(rt)
            self.assertEqual((st, body["error"]), (400, "invalid_grant"),
                             "a refresh token was accepted a second time "
                             "after the restart")
            refused += 1
        c.close()
        self.assertEqual(integrity(self.db), "ok")
        print(f"crash[{mode or 'default'}]: {len(acked)} tokens issued in "
              f"{load_secs:.2f} s ({len(acked) / load_secs:.0f} rps) before "
              f"kill -9; all {len(acked)} active after restart; refresh "
              f"tokens: {refused} used ones refused, {len(unused)} unused "
              f"accepted once, {len(lost)} cut off ({still_live} still "
              f"live, {len(lost) - still_live} retired), none twice",
              file=sys.stderr)
        self.assertEqual(s2.stop(), 0)
        self.servers.remove(s2)
