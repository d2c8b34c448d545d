"""`make run`'s script: it registers the demo client, serves, and prints a
curl command whose token verifies against /jwks.json. Runs the script as
make does, with the real curl."""
import os
import re
import select
import shlex
import signal
import subprocess
import time
import urllib.request
import json

import jwt

from lk_harness import LATCHKEYD, LatchkeyTestCase

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts",
                      "run-demo.sh")


class MakeRunTest(LatchkeyTestCase):
    def run_demo(self):
        build = os.path.dirname(LATCHKEYD)
        p = subprocess.Popen(["bash", SCRIPT, build, self.db, "127.0.0.1:0"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        out, deadline = b"", time.monotonic() + 30
        while b"Press Ctrl-C" not in out:
            r, _, _ = select.select([p.stdout], [], [], 1)
            if r:
                chunk = os.read(p.stdout.fileno(), 4096)
                if not chunk:
                    break
                out += chunk
            self.assertLess(time.monotonic(), deadline, out)
        return p, out.decode()

    def stop_demo(self, p):
        os.killpg(p.pid, signal.SIGINT)
        p.wait(timeout=30)
        p.stdout.close()
        p.stderr.close()

    def test_printed_curl_returns_a_verifiable_token(self):
        for run in range(2):  # the second run reuses the demo client
            p, out = self.run_demo()
            try:
                m = re.search(r"^\s*(curl -s .*)$", out, re.M)
                self.assertIsNotNone(m, out)
                token = json.loads(subprocess.run(
                    shlex.split(m.group(1)), capture_output=True, text=True,
                    timeout=30, check=True).stdout)["access_token"]
                issuer = re.search(r"serving (http://\S+) ", out).group(1)
                jwks = json.load(urllib.request.urlopen(issuer + "/jwks.json"))
                kid = jwt.get_unverified_header(token)["kid"]
                key = [k for k in jwks["keys"] if k["kid"] == kid][0]
                # aud is the issuer when nothing else is set (RFC 9068
                # section 2.2 makes it required).
                claims = jwt.decode(token, jwt.PyJWK(key).key,
                                    algorithms=["ES256"], issuer=issuer,
                                    audience=issuer)
                self.assertEqual(claims["client_id"], "demo")
                self.assertEqual(claims["scope"], "read write")
                if run == 0:
                    self.assertIn("registered client 'demo'", out)
                else:
                    self.assertNotIn("registered", out)
            finally:
                self.stop_demo(p)
