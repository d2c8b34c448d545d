"""latchkeyd --fixtures FILE against the real server: the issue's example
file gives tokens to its fixed client and user, its lifetimes show in the
responses, each kind of bad file stops start-up with a message naming the
file, entry and field (and writes nothing), a restart applies the file
again without changing what it made, and which hash scheme each mode
stores."""
import base64
import json
import os
import subprocess

from lk_cli_helpers import SANITIZER_MARKS, rows
from lk_harness import LATCHKEYD, LatchkeyTestCase

# The example of issue 5, and a client for the password grant.
EXAMPLE = {
    "clients": [
        {"client_id": "svc-a", "client_secret": "svc-a-secret",
         "grants": ["client_credentials"], "scopes": ["read"],
         "redirect_uris": [], "public": False, "access_token_ttl": 2,
         "refresh_token_ttl": 3600, "on_refresh": "revoke"},
        {"client_id": "app", "client_secret": "app secret, chosen",
         "grants": ["password", "refresh_token"],
         "issue_refresh_token": True},
    ],
    "users": [{"username": "dave", "password": "dave-password-1"}],
}
SVC = ("svc-a", "svc-a-secret")
APP = ("app", "app secret, chosen")
DAVE = {"grant_type": "password", "username": "dave",
        "password": "dave-password-1"}


def claims(jwt):
    """The payload of a JWT, unverified (the other tests verify)."""
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class FixturesTest(LatchkeyTestCase):
    def write(self, data, name="fixtures.json"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(data if isinstance(data, str) else json.dumps(data))
        return path

    def run_refused(self, *args):
        """Runs latchkeyd that must not start; returns stderr."""
        p = subprocess.run([LATCHKEYD, "--listen", "127.0.0.1:0", *args],
                           capture_output=True, text=True, timeout=60)
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, p.stderr)
        self.assertNotEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "")
        return p.stderr

    def test_example_file(self):
        s = self.start("--ephemeral", "--fixtures", self.write(EXAMPLE))
        r = s.token({"grant_type": "client_credentials"}, auth=SVC)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["expires_in"], 2)  # the fixture's ttl
        self.assertEqual(r.json()["scope"], "read")
        self.assertEqual(claims(r.json()["access_token"])["sub"], "svc-a")
        r = s.token(DAVE, auth=APP)
        self.assertEqual(r.status, 200, r.body)
        self.assertIn("refresh_token", r.json())
        self.assertEqual(r.json()["expires_in"], 3600)  # the server's
        self.assertTrue(claims(r.json()["access_token"])["sub"]
                        .startswith("u_"))
        r = s.token({"grant_type": "refresh_token",
                     "refresh_token": r.json()["refresh_token"]}, auth=APP)
        self.assertEqual(r.status, 200, r.body)
        # Fixed means fixed: nothing else is accepted.
        r = s.token({"grant_type": "client_credentials"},
                    auth=("svc-a", "svc-a-secreT"))
        self.assertOAuthError(r, 401, "invalid_client")
        r = s.token({**DAVE, "password": "dave-password-2"}, auth=APP)
        self.assertOAuthError(r, 400, "invalid_grant")
        r = s.token({"grant_type": "password", "username": "dave",
                     "password": "dave-password-1"}, auth=SVC)
        self.assertOAuthError(r, 400, "unauthorized_client")

    def test_bad_files_stop_start_up(self):
        def client(**extra):
            return {"clients": [{"client_id": "svc-a",
                                 "client_secret": "s", **extra}]}
        cases = [
            ("unknown key", client(scope=["read"]),
             'clients[0] (svc-a): unknown key "scope" (did you mean '
             '"scopes"?)'),
            ("wrong type", client(access_token_ttl="60"),
             'clients[0] (svc-a): field "access_token_ttl": expected an '
             'integer, got a string'),
            ("unknown grant", client(grants=["implicit"]),
             'clients[0] (svc-a): field "grants": unknown grant type '
             '"implicit"'),
            ("grant rule", {"clients": [{"client_id": "web", "public": True,
                                         "grants": ["client_credentials"]}]},
             'clients[0] (web): field "grants": a public client cannot '
             'use the client_credentials grant'),
            ("no client_id", {"clients": [{}]},
             'clients[0]: field "client_id": required'),
            ("duplicate", {"users": [
                {"username": "dave", "password": "long enough"},
                {"username": "dave", "password": "long enough"}]},
             'users[1]: field "username": "dave" is also users[0]'),
            ("short password", {"users": [
                {"username": "dave", "password": "short"}]},
             'users[0] (dave): field "password": the password must be 8 '
             'to 1024 bytes long'),
            ("top level", {"clients": [], "user": []},
             'unknown key "user": the file has "clients", "users" and '
             '"tenants"'),
            ("not JSON", '{"clients": [', "line 1 column "),
            # Issue 12: the user id prefix, audiences and introspect.
            ("reserved id", {"clients": [{"client_id": "u_svc",
                                          "client_secret": "s"}]},
             'clients[0]: field "client_id": invalid client id "u_svc": '
             'ids starting with u_ are reserved for users (the sub of '
             'their tokens; RFC 9068 section 5)'),
            ("bad audience", client(audiences=["https://a", "b c"]),
             'clients[0] (svc-a): field "audiences": invalid audience '
             '"b c": 1 to 2048 printable ASCII characters without spaces'),
            ("audience hint", client(audience=["https://a"]),
             'clients[0] (svc-a): unknown key "audience" (did you mean '
             '"audiences"?)'),
            ("introspect type", client(introspect="yes"),
             'clients[0] (svc-a): field "introspect": expected true or '
             'false, got a string'),
            ("public introspect", {"clients": [
                {"client_id": "web", "public": True, "introspect": True}]},
             'clients[0] (web): field "introspect": a public client cannot '
             'introspect'),
            # Issue 15: ID tokens.
            ("id token alg", client(id_token_signed_response_alg="none"),
             'clients[0] (svc-a): field "id_token_signed_response_alg": '
             'unknown ID-token algorithm "none": RS256 or ES256'),
            ("require_nonce type", client(require_nonce="yes"),
             'clients[0] (svc-a): field "require_nonce": expected true or '
             'false, got a string'),
        ]
        for what, data, message in cases:
            with self.subTest(what):
                path = self.write(data)
                err = self.run_refused("--ephemeral", "--fixtures", path)
                self.assertIn("fixtures %s: %s" % (path, message), err)
        missing = os.path.join(self.dir, "none.json")
        err = self.run_refused("--ephemeral", "--fixtures", missing)
        self.assertIn("fixtures %s: unable to open" % missing, err)

    def test_bad_file_writes_nothing(self):
        path = self.write({"clients": [{"client_id": "ok",
                                        "client_secret": "s"}],
                           "users": [{"username": "dave"}]})
        err = self.run_refused("--db", self.db, "--fixtures", path)
        self.assertIn('users[0] (dave): field "password": required', err)
        self.assertEqual(rows(self.db, "SELECT count(*) FROM clients"),
                         [(0,)])

    def test_reserved_id_writes_nothing(self):
        """Issue 12, defect 11: a fixture client whose id starts with u_
        stops start-up, and the clients before it are not written."""
        path = self.write({"clients": [
            {"client_id": "ok", "client_secret": "ok-secret-long-enough"},
            {"client_id": "u_x", "client_secret": "u-secret-long-enough"}]})
        err = self.run_refused("--db", self.db, "--fixtures", path)
        self.assertIn('clients[1]: field "client_id": invalid client id '
                      '"u_x": ids starting with u_ are reserved', err)
        self.assertEqual(rows(self.db, "SELECT count(*) FROM clients"),
                         [(0,)])

    def test_weak_secret_warns_on_a_lasting_database(self):
        """Issue 12, defect 10: fixtures keep accepting any non-empty
        secret; on a database that is not --ephemeral a short one is
        logged as a warning, naming the client and never the secret."""
        path = self.write({"clients": [
            {"client_id": "weak", "client_secret": "s3cr3t-15-chars"},
            {"client_id": "strong", "client_secret": "s3cr3t-16-chars!"},
            {"client_id": "web", "public": True}]})
        s = self.start("--fixtures", path)
        r = s.token({"grant_type": "client_credentials"},
                    auth=("weak", "s3cr3t-15-chars"))
        self.assertEqual(r.status, 200, r.body)
        log = s.log_text()
        warned = [line for line in log.splitlines()
                  if "shorter than 16 characters" in line]
        self.assertEqual(len(warned), 1, log)
        self.assertIn(" warn ", warned[0])
        self.assertIn("%s: client weak has a secret shorter than 16 "
                      "characters, and this database is not --ephemeral"
                      % path, warned[0])
        self.assertNotIn("s3cr3t", log)
        s.stop()
        # Under --ephemeral it is test data in a throwaway database.
        s = self.start("--ephemeral", "--fixtures", path)
        self.assertEqual(s.token({"grant_type": "client_credentials"},
                                 auth=("weak", "s3cr3t-15-chars")).status,
                         200)
        self.assertNotIn("shorter than 16", s.log_text())

    def test_fast_hash_answers_many_requests(self):
        """Under --ephemeral a caller-chosen secret is stored with the fast
        HMAC, so token requests never wait for Argon2id. The time is not
        asserted (CI machines vary); test_stored_hash_schemes shows the
        scheme, which is what makes it fast."""
        s = self.start("--ephemeral", "--fixtures", self.write(EXAMPLE))
        for _ in range(50):
            r = s.token({"grant_type": "client_credentials"}, auth=SVC)
            self.assertEqual(r.status, 200, r.body)

    def test_stored_hash_schemes(self):
        """--ephemeral's database cannot be read from outside, so a run on
        a database shows the Argon2id hashes of the normal mode; the fast
        scheme of --ephemeral is checked in tests/unit/test_fixtures.c."""
        path = self.write(EXAMPLE)
        s = self.start("--fixtures", path)
        self.assertEqual(s.token({"grant_type": "client_credentials"},
                                 auth=SVC).status, 200)
        hashes = rows(self.db, "SELECT secret_hash FROM clients") + \
            rows(self.db, "SELECT password_hash FROM users")
        self.assertEqual(len(hashes), 3)
        for (h,) in hashes:
            self.assertTrue(h.startswith("$argon2id$"), h)

    def test_restart_applies_again_and_keeps_what_it_made(self):
        """A restart with the same file keeps the stored hashes, the
        creation times and the user's id (the sub of its tokens); a
        changed file replaces what it changed, a client the CLI added
        included."""
        path = self.write(EXAMPLE)
        s = self.start("--fixtures", path)
        sub = claims(s.token(DAVE, auth=APP).json()["access_token"])["sub"]
        self.assertEqual(s.stop(), 0)
        before = rows(self.db, "SELECT client_id, secret_hash, created_at "
                               "FROM clients ORDER BY client_id")
        s = self.start("--fixtures", path)
        self.assertEqual(claims(s.token(DAVE, auth=APP)
                                .json()["access_token"])["sub"], sub)
        self.assertEqual(rows(self.db, "SELECT client_id, secret_hash, "
                                       "created_at FROM clients ORDER BY "
                                       "client_id"), before)
        self.assertEqual(s.stop(), 0)

        changed = json.loads(json.dumps(EXAMPLE))
        changed["clients"][0]["client_secret"] = "svc-a-secret-2"
        changed["clients"][0]["scopes"] = ["read", "write"]
        changed["users"][0]["password"] = "dave-password-2"
        s = self.start("--fixtures", self.write(changed))
        r = s.token({"grant_type": "client_credentials", "scope": "write"},
                    auth=("svc-a", "svc-a-secret-2"))
        self.assertEqual(r.status, 200, r.body)
        self.assertOAuthError(s.token({"grant_type": "client_credentials"},
                                      auth=SVC), 401, "invalid_client")
        r = s.token({**DAVE, "password": "dave-password-2"}, auth=APP)
        self.assertEqual(claims(r.json()["access_token"])["sub"], sub)
