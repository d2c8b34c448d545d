"""The admin CLI's claims (issue 15, section 4; shared/DECISIONS.md,
"OpenID Connect"): `latchkey user add|update --claim KEY=VALUE
--unset-claim KEY`, `user show`, claims in `user list --json`, and a
client's --access-token-claim, --unset-access-token-claim and
--release-claim, with the real `latchkey` binary on either backend. Bad
names and values are refused on stderr with exit status 2, and nothing
is written."""
import json

from lk_harness import LatchkeyTestCase, cli

PW = "ada-password-1\n"


class UserClaimsTest(LatchkeyTestCase):
    def add_ada(self, *claims):
        args = []
        for c in claims:
            args += ["--claim", c]
        return cli(self.db, "user", "add", "ada", "--password-stdin",
                   "--json", *args, stdin=PW)

    def show(self, name="ada"):
        return json.loads(cli(self.db, "user", "show", name,
                              "--json").stdout)

    def refused(self, args, words, stdin=None):
        p = cli(self.db, *args, stdin=stdin, check=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertIn(words, p.stderr)
        return p

    def test_add_with_json_and_string_values(self):
        p = self.add_ada("email=ada@example.com", "email_verified=true",
                         'groups=["ops"]', "age=42", "zip=01234",
                         'address={"country":"UK"}', "nickname=",
                         'quoted="true"')
        want = {"email": "ada@example.com", "email_verified": True,
                "groups": ["ops"], "age": 42, "zip": "01234",
                "address": {"country": "UK"}, "nickname": "",
                "quoted": "true"}
        self.assertEqual(json.loads(p.stdout)["claims"], want)
        shown = self.show()
        self.assertEqual(shown["claims"], want)
        self.assertEqual(set(shown), {"username", "user_id", "claims",
                                      "created_at", "updated_at"})
        listed = json.loads(cli(self.db, "user", "list", "--json").stdout)
        self.assertEqual(listed[0]["claims"], want)
        self.assertNotIn("password", json.dumps(listed))
        text = cli(self.db, "user", "show", "ada").stdout
        self.assertIn("claims", text)
        self.assertIn('"groups":["ops"]', text)
        self.assertNotIn("argon2", text)

    def test_update_merges_per_key_and_unsets(self):
        self.add_ada("email=ada@example.com", 'groups=["ops"]', "level=1")
        p = cli(self.db, "user", "update", "ada", "--json", "--claim",
                'groups=["ops","dev"]', "--claim", "name=Ada",
                "--unset-claim", "level", "--unset-claim", "missing")
        want = {"email": "ada@example.com", "groups": ["ops", "dev"],
                "name": "Ada"}
        self.assertEqual(json.loads(p.stdout)["claims"], want)
        self.assertEqual(self.show()["claims"], want)
        cli(self.db, "user", "update", "ada", "--unset-claim", "email",
            "--unset-claim", "groups", "--unset-claim", "name")
        self.assertEqual(self.show()["claims"], {})

    def test_refusals_write_nothing(self):
        for claim, words in [
                ("sub=x", "invalid claim 'sub'"),
                ("nonce=x", "invalid claim 'nonce'"),
                ("auth_time=1", "invalid claim 'auth_time'"),
                ("email_verified=yes", "true or false"),
                ("address=London", "a JSON object"),
                ("email=42", "a string"),
                ("updated_at=soon", "whole number"),
                ("noequals", "KEY=VALUE"),
                ("=value", "KEY=VALUE"),
                ("has space=1", "invalid claim 'has space'")]:
            self.refused(["user", "add", "ada", "--password-stdin",
                          "--claim", claim], words, stdin=PW)
        p = cli(self.db, "user", "show", "ada", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("user 'ada' not found", p.stderr)
        self.add_ada("email=ada@example.com")
        before = self.show()
        self.refused(["user", "update", "ada", "--claim", "iss=x"],
                     "invalid claim 'iss'")
        self.refused(["user", "update", "ada", "--claim", "a=1",
                      "--unset-claim", "a"], "both set and unset")
        self.refused(["user", "update", "ada", "--unset-claim", "exp"],
                     "invalid claim 'exp'")
        self.refused(["user", "update", "ada", "--claim",
                      "big=" + "x" * 20000], "16384 bytes")
        self.refused(["user", "update", "ada"], "nothing to update")
        self.assertEqual(self.show(), before)

    def test_unknown_user(self):
        p = cli(self.db, "user", "update", "nobody", "--claim", "a=1",
                check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("user 'nobody' not found", p.stderr)


class ClientClaimsTest(LatchkeyTestCase):
    def show(self):
        return json.loads(cli(self.db, "client", "show", "app",
                              "--json").stdout)

    def test_access_token_claims_merge_and_release_claims_replace(self):
        p = cli(self.db, "client", "add", "app", "--id", "app", "--json",
                "--access-token-claim", "tenant=acme",
                "--access-token-claim", 'tiers=["a","b"]',
                "--release-claim", "roles", "--release-claim", "groups")
        c = json.loads(p.stdout)
        self.assertEqual(c["access_token_claims"],
                         {"tenant": "acme", "tiers": ["a", "b"]})
        self.assertEqual(c["release_claims"], ["roles", "groups"])
        cli(self.db, "client", "update", "app", "--access-token-claim",
            "region=eu", "--unset-access-token-claim", "tiers",
            "--release-claim", "tenant email")
        c = self.show()
        self.assertEqual(c["access_token_claims"],
                         {"tenant": "acme", "region": "eu"})
        self.assertEqual(c["release_claims"], ["tenant", "email"])
        listed = json.loads(cli(self.db, "client", "list", "--json").stdout)
        self.assertEqual(listed[0]["access_token_claims"],
                         c["access_token_claims"])
        self.assertEqual(listed[0]["release_claims"], ["tenant", "email"])
        text = cli(self.db, "client", "show", "app").stdout
        self.assertIn('{"region":"eu","tenant":"acme"}', text)
        cli(self.db, "client", "update", "app", "--release-claim", "")
        self.assertEqual(self.show()["release_claims"], [])

    def test_registered_claims_refused(self):
        cli(self.db, "client", "add", "app", "--id", "app")
        before = self.show()
        for args, words in [
                (["--access-token-claim", "sub=x"],
                 "invalid access-token claim 'sub'"),
                (["--access-token-claim", "scope=admin"],
                 "invalid access-token claim 'scope'"),
                (["--access-token-claim", "client_id=x"],
                 "invalid access-token claim 'client_id'"),
                (["--unset-access-token-claim", "aud"],
                 "invalid access-token claim 'aud'"),
                (["--release-claim", "sid"], "invalid claim name 'sid'")]:
            p = cli(self.db, "client", "update", "app", *args, check=False)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(words, p.stderr)
        self.assertEqual(self.show(), before)
        p = cli(self.db, "client", "update", "app", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--access-token-claim", p.stderr)
        self.assertIn("--release-claim", p.stderr)
