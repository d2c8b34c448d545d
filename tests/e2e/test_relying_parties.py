"""Real OpenID Connect relying parties against the real latchkeyd (issue 15,
section 5): node openid-client 5.x (npm, pinned by tests/node's lock
file), Python authlib (Debian's python3-authlib) and curl, each driven
through the recipes of docs/openid-connect.md (tests/e2e/rp/), which the
doc quotes byte for byte. Apache httpd with mod_auth_openidc is the browser
test tests/browser/test_mod_auth_openidc.js.

Two set-ups: the CLI on a real database (both backends: users with
`--claim`, clients with `--post-logout-redirect-uri`, the login form posted
as a browser would), and the test double with the doc's fixtures
(users[].claims, auto_approve_as), which stays on SQLite (the Double*
classes are listed in lk_harness.SQLITE_ONLY).

Nothing here validates an ID token by hand where a library does: the
libraries' own checks (signature against the JWKS, iss, aud, exp, nonce,
at_hash) are the test, and the assertions are on the claims they return.
"""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import unittest
import urllib.parse

from lk_harness import LatchkeyTestCase, cli, skip_or_fail

HERE = os.path.dirname(os.path.abspath(__file__))
RP = os.path.join(HERE, "rp")
DOC = os.path.join(HERE, "..", "..", "docs", "openid-connect.md")
NODE_PATH = os.pathsep.join(p for p in (
    os.path.join(HERE, "..", "node", "node_modules"),
    os.environ.get("NODE_PATH", "")) if p)
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") \
    else sys.executable

CB = "http://127.0.0.1:3000/callback"
BYE = "http://127.0.0.1:3000/"
PASSWORD = "ada-password-1"
ADA = {"email": "ada@example.com", "email_verified": True,
       "name": "Ada Lovelace"}
SERVER_SECRET = "server-secret-0123456789"
LOGIN_SECRET = "login-secret-0123456789"


def rp(name):
    return os.path.join(RP, name)


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def by_step(lines):
    return {line["step"]: line for line in lines}


def jwt_part(token, i):
    part = token.split(".")[i]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def node_with_openid_client():
    if shutil.which("node") is None:
        return False
    p = subprocess.run(
        ["node", "-e", "process.exit(typeof require('openid-client')"
         ".Issuer === 'function' ? 0 : 1)"],
        cwd=RP, capture_output=True, timeout=60,
        env=dict(os.environ, NODE_PATH=NODE_PATH))
    return p.returncode == 0


def python_with_authlib():
    p = subprocess.run([PYTHON, "-c", "import authlib.jose, requests"],
                       capture_output=True, timeout=60)
    return p.returncode == 0


def doc_fixtures():
    """The fixtures file of docs/openid-connect.md's recipes."""
    with open(DOC) as f:
        m = re.search(r"<!-- fixtures: relying parties -->\n```json\n(.*?)^```\n",
                      f.read(), re.S | re.M)
    if m is None:
        raise AssertionError("docs/openid-connect.md has no fixtures block "
                             "for the relying parties")
    return json.loads(m.group(1))


class RecipesQuotedTest(unittest.TestCase):
    """docs/openid-connect.md quotes every file of tests/e2e/rp, each
    exactly as it is."""

    def test_doc_quotes_every_recipe_verbatim(self):
        with open(DOC) as f:
            doc = f.read()
        quoted = re.findall(
            r"<!-- recipe: tests/e2e/rp/([\w.]+) -->\n"
            r"```[\w]*\n(.*?)^```\n", doc, re.S | re.M)
        self.assertEqual(sorted(n for n, _ in quoted),
                         sorted(n for n in os.listdir(RP)
                                if os.path.isfile(rp(n))))
        for name, text in quoted:
            with self.subTest(recipe=name), open(rp(name)) as f:
                self.assertEqual(text, f.read())

    def test_doc_fixtures_are_the_tests(self):
        fx = doc_fixtures()
        [ada] = fx["users"]
        self.assertEqual((ada["username"], ada["claims"]), ("ada", ADA))
        web = {c["client_id"]: c for c in fx["clients"]}["web"]
        self.assertEqual(web["redirect_uris"], [CB])
        self.assertEqual(web["post_logout_redirect_uris"], [BYE])
        self.assertEqual(web["auto_approve_as"], "ada")


class RpCase(LatchkeyTestCase):
    """Runs recipes and drivers with the environment they read."""

    def env(self, s, client_id, secret=None, **extra):
        e = dict(os.environ)
        e.pop("CLIENT_SECRET", None)
        e.update({"ISSUER": s.issuer, "CLIENT_ID": client_id,
                  "REDIRECT_URI": CB, "POST_LOGOUT_REDIRECT_URI": BYE,
                  "RP": RP, "NODE_PATH": NODE_PATH,
                  "PYTHONDONTWRITEBYTECODE": "1"}, **extra)
        if secret is not None:
            e["CLIENT_SECRET"] = secret
        return e

    def run_ok(self, argv, env):
        p = subprocess.run(argv, env=env, capture_output=True, text=True,
                           timeout=120, cwd=self.dir)
        self.assertEqual(p.returncode, 0,
                         f"{argv[0]} failed:\n{p.stdout}\n{p.stderr}")
        return p

    def assertIdClaims(self, s, claims, client_id, sub, nonce=None,
                       session=False):
        """The claims of an ID token of Core section 2 for this user and
        client, with ADA's claims released by "openid email profile".
        session: the user signed in on the login page, so the token names
        that login session (sid) and how (amr); auto_approve_as signs no
        one in, and then they are checked only where they are."""
        self.assertEqual(claims["iss"], s.issuer)
        self.assertEqual(claims["sub"], sub)
        aud = claims["aud"]
        self.assertEqual(aud if isinstance(aud, list) else [aud], [client_id])
        for k in ("exp", "iat", "auth_time"):
            self.assertIsInstance(claims[k], int, k)
        self.assertLess(claims["iat"], claims["exp"])
        self.assertLessEqual(claims["auth_time"], claims["iat"])
        self.assertIsInstance(claims["at_hash"], str)
        if session or "sid" in claims:
            self.assertIsInstance(claims["sid"], str)
        if session or "amr" in claims:
            self.assertIsInstance(claims["amr"], list)
        if nonce is not None:
            self.assertEqual(claims["nonce"], nonce)
        else:
            self.assertIsInstance(claims["nonce"], str)
        for k, v in ADA.items():
            self.assertEqual(claims.get(k), v, k)

    def assertUserinfo(self, info, sub):
        self.assertEqual(info["sub"], sub)
        for k, v in ADA.items():
            self.assertEqual(info.get(k), v, k)

    def assertRsaSigned(self, s, header):
        """RS256 by default for ID tokens, with a key the JWKS publishes."""
        self.assertEqual(header["alg"], "RS256")
        keys = {k["kid"]: k for k in s.get_json(
            s.get_json("/.well-known/openid-configuration")["jwks_uri"]
            [len(s.issuer):])["keys"]}
        self.assertEqual(keys[header["kid"]]["kty"], "RSA")

    def assertOpenIdClientRun(self, s, steps, client_id, sub, session=False):
        """The lines of rp/openid_client.js's main()."""
        md = steps["discover"]["metadata"]
        self.assertEqual(md["issuer"], s.issuer)
        for k in ("authorization_endpoint", "token_endpoint", "jwks_uri",
                  "userinfo_endpoint", "end_session_endpoint"):
            self.assertTrue(md[k].startswith(s.issuer + "/"), (k, md[k]))
        self.assertIn("RS256", md["id_token_signing_alg_values_supported"])

        cb = steps["callback"]
        self.assertRsaSigned(s, cb["header"])
        self.assertIdClaims(s, cb["claims"], client_id, sub, session=session)
        self.assertEqual(set(cb["scope"].split()),
                         {"openid", "email", "profile"})
        self.assertEqual(jwt_part(cb["access_token"], 1)["sub"], sub)

        self.assertUserinfo(steps["userinfo"]["userinfo"], sub)

        ref = steps["refresh"]
        self.assertTrue(ref["new_id_token"])
        self.assertTrue(ref["new_access_token"])
        self.assertEqual(ref["claims"]["sub"], sub)
        # Core section 12.2, and DECISIONS: the original auth_time, sid
        # and amr.
        for k in ("auth_time", "sid", "amr", "aud", "iss"):
            self.assertEqual(ref["claims"].get(k), cb["claims"].get(k), k)

        out = steps["logout"]
        url = urllib.parse.urlsplit(out["url"])
        self.assertEqual(f"{url.scheme}://{url.netloc}{url.path}",
                         md["end_session_endpoint"])
        q = urllib.parse.parse_qs(url.query)
        self.assertEqual(q["post_logout_redirect_uri"], [BYE])
        self.assertEqual(q["client_id"], [client_id])
        self.assertEqual(q["state"], ["bye"])
        self.assertIn(out["status"], (302, 303), out)
        back = urllib.parse.urlsplit(out["location"] or "")
        self.assertEqual(f"{back.scheme}://{back.netloc}{back.path}", BYE,
                         out)
        self.assertEqual(urllib.parse.parse_qs(back.query), {"state": ["bye"]},
                         out)


# -- the CLI on a real database ---------------------------------------------

# The login page as a browser posts it: the CSRF cookie and field, the
# Origin; then the consent page's "allow". Cookies are kept across calls,
# so a second /authorize in the same "browser" finds the login session.
NODE_LOGIN_DRIVER = r'''
const recipe = require(process.env.RP + '/openid_client.js');
const { generators } = require('openid-client');
const jar = new Map();
let logins = 0;
function keep(r) {
  for (const c of r.headers.getSetCookie()) {
    const [kv, ...attrs] = c.split(';');
    const i = kv.indexOf('=');
    const gone = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || kv.slice(i + 1) === '';
    if (gone) jar.delete(kv.slice(0, i).trim());
    else jar.set(kv.slice(0, i).trim(), kv.slice(i + 1));
  }
}
const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
function form(html) {
  const m = /<form method="post" action="([^"]*)">([\s\S]*?)<\/form>/.exec(html);
  if (!m) return null;
  const fields = {};
  for (const i of m[2].matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields[i[1]] = i[2].replace(/&quot;/g, '"').replace(/&#39;/g, "'")
      .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  }
  return { action: m[1], fields, html: m[2] };
}
async function browser(url) {
  let r = await fetch(url, { redirect: 'manual', headers: { Cookie: cookie() } });
  keep(r);
  for (let pages = 0; r.status === 200 && pages < 3; pages++) {
    const html = await r.text();
    const f = form(html);
    if (f === null) return new Response(html, { status: 200 });
    if (f.html.includes('name="username"')) {
      logins++;
      Object.assign(f.fields, { username: process.env.USERNAME,
        password: process.env.PASSWORD, action: 'login' });
    } else if (f.html.includes('value="allow"')) {
      f.fields.action = 'allow';
    } else {
      return new Response(html, { status: 200 });
    }
    r = await fetch(new URL(f.action, url), { method: 'POST', redirect: 'manual',
      body: new URLSearchParams(f.fields),
      headers: { Cookie: cookie(), Origin: new URL(url).origin } });
    keep(r);
  }
  return r;
}
// prompt=none in this browser: the redirect's query.
async function silent(client) {
  const url = client.authorizationUrl({ scope: 'openid', prompt: 'none',
    state: 'silent', nonce: generators.nonce(),
    code_challenge: generators.codeChallenge(generators.codeVerifier()),
    code_challenge_method: 'S256' });
  const r = await browser(url);
  const loc = r.headers.get('location');
  return loc ? Object.fromEntries(new URL(loc).searchParams) : { status: r.status };
}
(async () => {
  const out = (step, value) => console.log(JSON.stringify({ step, ...value }));
  const { client } = await recipe.discover(process.env);
  out('silent_before_login', await silent(client));
  await recipe.signIn(client, process.env.REDIRECT_URI, 'openid', browser);
  out('silent_signed_in', await silent(client));
  await recipe.main(process.env, browser);
  out('silent_after_logout', await silent(client));
  out('logins', { count: logins });
})().catch((e) => { console.error(e); process.exitCode = 1; });
'''


class CliSetup(RpCase):
    """ada with claims by `latchkey user add --claim`; clients by `latchkey
    client add` with a post-logout redirect URI; latchkeyd on self.db."""

    def setUp(self):
        super().setUp()
        self.need()
        user = json.loads(cli(
            self.db, "user", "add", "ada", "--password-stdin", "--json",
            "--claim", "email=ada@example.com",
            "--claim", "email_verified=true",
            "--claim", "name=Ada Lovelace", stdin=PASSWORD + "\n").stdout)
        self.sub = user["user_id"]
        common = ["--redirect-uri", CB, "--post-logout-redirect-uri", BYE,
                  "--scope", "openid email profile"]
        code = ["--grant", "authorization_code", "--grant", "refresh_token"]
        # Confidential: a public client with a loopback redirect URI gets
        # the consent page every time (docs/authorization-code.md), and the
        # driver's prompt=none would meet consent_required.
        cli(self.db, "client", "add", "Login", "--id", "login",
            "--secret", LOGIN_SECRET, *code, *common)
        cli(self.db, "client", "add", "Web", "--id", "web", "--public",
            "--auto-approve-as", "ada", *common)
        cli(self.db, "client", "add", "Server", "--id", "server",
            "--secret", SERVER_SECRET, *code, "--auto-approve-as", "ada",
            *common)
        self.s = self.start()

    def need(self):
        pass


class OpenIdClientCliTest(CliSetup):
    """node openid-client against latchkeyd on a real database."""

    def need(self):
        if not node_with_openid_client():
            skip_or_fail(self, "node or openid-client 5.x not installed "
                         "(scripts/install-test-deps.sh)")

    def test_login_page_userinfo_refresh_logout(self):
        p = self.run_ok(["node", "-e", NODE_LOGIN_DRIVER], self.env(
            self.s, "login", LOGIN_SECRET, USERNAME="ada", PASSWORD=PASSWORD))
        steps = by_step(json_lines(p.stdout))
        self.assertEqual(steps["silent_before_login"]["error"],
                         "login_required", steps)
        self.assertIsInstance(steps["silent_signed_in"].get("code"), str,
                              steps)
        self.assertOpenIdClientRun(self.s, steps, "login", self.sub,
                                   session=True)
        # Logout through the end_session_endpoint ended the login session.
        self.assertEqual(steps["silent_after_logout"]["error"],
                         "login_required", steps)
        self.assertEqual(steps["logins"]["count"], 1)

    def test_recipe_confidential_client(self):
        p = self.run_ok(["node", rp("openid_client.js")],
                        self.env(self.s, "server", SERVER_SECRET))
        self.assertOpenIdClientRun(self.s, by_step(json_lines(p.stdout)),
                                   "server", self.sub)


class AuthlibCliTest(CliSetup):
    """Python authlib against latchkeyd on a real database."""

    def need(self):
        if not python_with_authlib():
            skip_or_fail(self, "python3-authlib not installed "
                         "(scripts/install-test-deps.sh)")

    def run_recipe(self, client_id, secret=None):
        p = self.run_ok([PYTHON, rp("authlib_id_token.py")],
                        self.env(self.s, client_id, secret))
        return json.loads(p.stdout)

    def test_recipe_validates_the_id_token(self):
        for client_id, secret in (("web", None), ("server", SERVER_SECRET)):
            with self.subTest(client=client_id):
                out = self.run_recipe(client_id, secret)
                self.assertRsaSigned(self.s, out["header"])
                self.assertIdClaims(self.s, out["claims"], client_id,
                                    self.sub, out["nonce"])
                self.assertUserinfo(out["userinfo"], self.sub)

    def test_a_wrong_nonce_or_audience_is_refused(self):
        """authlib's checks see the server's values: the nonce echoed
        exactly, the aud the client's id."""
        driver = r'''
import json, os, sys
sys.path.insert(0, os.environ["RP"])
import authlib_id_token as r
from authlib.jose.errors import InvalidClaimError
env = os.environ
config = r.discover(env["ISSUER"])
_, token, nonce = r.sign_in(config, env["CLIENT_ID"], None, env["REDIRECT_URI"])
out = {"ok": r.validate_id_token(config, env["CLIENT_ID"], token, nonce)["sub"]}
for name, args in (("nonce", (env["CLIENT_ID"], token, nonce + "x")),
                   ("aud", ("server", token, nonce))):
    try:
        r.validate_id_token(config, *args)
        out[name] = "accepted"
    except InvalidClaimError as e:
        out[name] = e.error
print(json.dumps(out))
'''
        p = self.run_ok([PYTHON, "-c", driver], self.env(self.s, "web"))
        self.assertEqual(json.loads(p.stdout),
                         {"ok": self.sub, "nonce": "invalid_claim",
                          "aud": "invalid_claim"})


# -- the test double with the doc's fixtures (SQLite only) -------------------

class DoubleSetup(RpCase):
    def setUp(self):
        super().setUp()
        self.need()
        self.write_fixtures(doc_fixtures())
        self.s = self.start_double()

    def need(self):
        pass

    def sub_of(self, access_token):
        """ada's id, as the access token names her (the double makes the
        user from the fixtures; the tests compare the other subs with
        it)."""
        sub = jwt_part(access_token, 1)["sub"]
        self.assertTrue(sub.startswith("u_"), sub)
        return sub


class DoubleOpenIdClientTest(DoubleSetup):
    def need(self):
        if not node_with_openid_client():
            skip_or_fail(self, "node or openid-client 5.x not installed "
                         "(scripts/install-test-deps.sh)")

    def test_recipe_as_the_doc_runs_it(self):
        p = self.run_ok(["node", rp("openid_client.js")],
                        self.env(self.s, "web"))
        steps = by_step(json_lines(p.stdout))
        sub = self.sub_of(steps["callback"]["access_token"])
        self.assertOpenIdClientRun(self.s, steps, "web", sub)


class DoubleAuthlibTest(DoubleSetup):
    def need(self):
        if not python_with_authlib():
            skip_or_fail(self, "python3-authlib not installed "
                         "(scripts/install-test-deps.sh)")

    def test_recipe_as_the_doc_runs_it(self):
        p = self.run_ok([PYTHON, rp("authlib_id_token.py")],
                        self.env(self.s, "web"))
        out = json.loads(p.stdout)
        self.assertRsaSigned(self.s, out["header"])
        sub = out["userinfo"]["sub"]
        self.assertTrue(sub.startswith("u_"), sub)
        self.assertIdClaims(self.s, out["claims"], "web", sub, out["nonce"])
        self.assertUserinfo(out["userinfo"], sub)


class DoubleCurlTest(DoubleSetup):
    def need(self):
        for tool in ("curl", "jq", "openssl", "basenc"):
            if shutil.which(tool) is None:
                self.fail(f"{tool} is not installed (scripts/install-deps.sh)")

    def test_recipe_as_the_doc_runs_it(self):
        p = self.run_ok(["bash", rp("oidc_curl.sh")], self.env(self.s, "web"))
        first, second = json_lines(p.stdout)
        claims = first["id_token"]
        sub = second["userinfo"]["sub"]
        self.assertTrue(sub.startswith("u_"), sub)
        self.assertIdClaims(self.s, claims, "web", sub, first["nonce"])
        self.assertUserinfo(second["userinfo"], sub)


if __name__ == "__main__":
    unittest.main()
