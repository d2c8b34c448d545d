"""The recipes of docs/test-double.md, run as they are (tests/e2e/recipes/)
against the real latchkeyd as a test double: common clients
(bash token(), a Python requests.Session, node openid-client's
client.grant) on a Keycloak token path, the refresh-on-401 loop of
shared/seeds 003, and the two ways to start and stop the server. The doc's
copies must be the files, byte for byte.

The clients decide on renewal by their own clock, so the drivers here make
the client's clock follow the server's: each /_control/clock move is applied
to both. No assertion is on time taken."""
import json
import os
import re
import shutil
import subprocess
import sys
import unittest
import urllib.parse

from lk_harness import READY_TIMEOUT, LatchkeyTestCase, basic, skip_or_fail

HERE = os.path.dirname(os.path.abspath(__file__))
RECIPES = os.path.join(HERE, "recipes")
# The node packages the suite pins (tests/node, npm ci by
# scripts/install-test-deps.sh); a NODE_PATH already set comes after.
NODE_PATH = os.pathsep.join(p for p in (
    os.path.join(HERE, "..", "node", "node_modules"),
    os.environ.get("NODE_PATH", "")) if p)
DOC = os.path.join(HERE, "..", "..", "docs", "test-double.md")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") \
    else sys.executable
TOKEN_PATH = "/users-auth/protocol/openid-connect/token"

FIXTURES = {
    "clients": [
        {"client_id": "svc", "client_secret": "svc-secret",
         "grants": ["client_credentials"], "scopes": ["devices:read"],
         "access_token_ttl": 120},
        {"client_id": "app", "client_secret": "app-secret",
         "grants": ["password", "refresh_token"], "scopes": ["devices:read"],
         "access_token_ttl": 300, "refresh_token_ttl": 86400},
    ],
    "users": [{"username": "dave", "password": "dave-password-1"}],
}
SVC = ("svc", "svc-secret")
APP = ("app", "app-secret")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def recipe(name):
    return os.path.join(RECIPES, name)


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class RecipeCase(LatchkeyTestCase):
    def setUp(self):
        super().setUp()
        self.write_fixtures(FIXTURES)

    def double(self, *args, env=None):
        """The test double, with the token endpoint where seed 002's
        Keycloak has it."""
        return self.start_double("--token-path", TOKEN_PATH, *args, env=env)

    def control(self, s, path, method="POST", **form):
        body = urllib.parse.urlencode(form) if method == "POST" else None
        if method == "GET" and form:
            path += "?" + urllib.parse.urlencode(form)
        r = s.request(method, "/_control/" + path, body=body,
                      headers=FORM if method == "POST" else {})
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def token(self, s, form, auth):
        """POST to the Keycloak-style token path as auth (id, secret)."""
        return s.request("POST", TOKEN_PATH, body=urllib.parse.urlencode(form),
                         headers={**FORM, "Authorization": basic(*auth)})

    def access_tokens(self, s, client_id):
        return self.control(s, "tokens", "GET",
                            client_id=client_id)["access_tokens"]

    def env(self, s, client=SVC, **extra):
        e = dict(os.environ)
        e.update({"TOKEN_ENDPOINT": s.issuer + TOKEN_PATH,
                  "API_URL": s.issuer + "/resource",
                  "ISSUER": s.issuer, "CLIENT_ID": client[0],
                  "CLIENT_SECRET": client[1], "RECIPES": RECIPES,
                  "NODE_PATH": NODE_PATH,
                  "PYTHONDONTWRITEBYTECODE": "1"}, **extra)
        return e

    def run_ok(self, argv, env, **kw):
        p = subprocess.run(argv, env=env, capture_output=True, text=True,
                           timeout=120, **kw)
        self.assertEqual(p.returncode, 0,
                         f"{argv[0]} failed:\n{p.stdout}\n{p.stderr}")
        return p

    def assertRenewedOnce(self, s, steps, reused, renewed):
        """steps: the driver's {"step","status","jti"} lines. The steps in
        reused got the first token, those in renewed one new token, which
        was fetched while the first was still valid."""
        by = {st["step"]: st for st in steps}
        self.assertEqual(set(by), set(reused) | set(renewed), steps)
        self.assertTrue(all(st["status"] == 200 for st in steps), steps)
        first = {by[k]["jti"] for k in reused}
        second = {by[k]["jti"] for k in renewed}
        self.assertEqual(len(first), 1, steps)
        self.assertEqual(len(second), 1, steps)
        self.assertNotEqual(first, second, steps)
        # The server issued exactly these two, and the first had not
        # expired yet when it was replaced.
        issued = {t["jti"]: t for t in self.access_tokens(s, "svc")}
        self.assertEqual(set(issued), first | second)
        now = self.control(s, "clock", "GET")["now"]
        self.assertGreater(issued[first.pop()]["exp"], now)


class DocTest(unittest.TestCase):
    """docs/test-double.md quotes every recipe, each exactly as it is."""

    def test_doc_quotes_every_recipe_verbatim(self):
        with open(DOC) as f:
            doc = f.read()
        quoted = re.findall(
            r"<!-- recipe: tests/e2e/recipes/([\w.]+) -->\n"
            r"```[\w]*\n(.*?)^```\n", doc, re.S | re.M)
        names = [n for n, _ in quoted]
        # (Not package.json and the like, should npm be run in there.)
        files = sorted(n for n in os.listdir(RECIPES)
                       if os.path.isfile(recipe(n)) and
                       n.endswith((".sh", ".py", ".js", ".mjs")))
        self.assertEqual(sorted(names), files)
        for name, text in quoted:
            with self.subTest(recipe=name), open(recipe(name)) as f:
                self.assertEqual(text, f.read())

    def test_docs_speak_to_users(self):
        """No page (nor a recipe it quotes) points readers at the
        project's own working documents, which they do not have."""
        docs = os.path.join(HERE, "..", "..", "docs")
        pages = [os.path.join(docs, n) for n in os.listdir(docs)
                 if n.endswith(".md")]
        pages += [os.path.join(HERE, "..", "..", "README.md")]
        pages += [recipe(n) for n in os.listdir(RECIPES)]
        for page in pages:
            with self.subTest(page=os.path.basename(page)), open(page) as f:
                text = f.read()
                self.assertNotRegex(text, r"shared/|\bseeds?\b \d|"
                                    r"DECISIONS\.md|STYLE\.md")


class DocFixturesTest(RecipeCase):
    """The doc's fixtures file is the one these tests use, and it starts."""

    def test_doc_fixtures_start_and_serve(self):
        with open(DOC) as f:
            block = re.search(r"^### Fixtures\n\n```json\n(.*?)^```\n",
                              f.read(), re.S | re.M).group(1)
        doc = json.loads(block)
        self.assertEqual(doc["clients"][:2], FIXTURES["clients"])
        self.assertEqual(doc["users"], FIXTURES["users"])
        self.fixtures = os.path.join(self.dir, "doc-fixtures.json")
        with open(self.fixtures, "w") as f:
            f.write(block)
        s = self.double()
        r = self.token(s, {"grant_type": "client_credentials"}, SVC)
        self.assertEqual((r.status, r.json()["expires_in"]), (200, 120))
        md = s.get_json("/.well-known/oauth-authorization-server")
        self.assertEqual(md["token_endpoint"], s.issuer + TOKEN_PATH)


class BashTokenTest(RecipeCase):
    """(a) seed 002's bash token() with curl and jq."""

    def test_run_as_a_script_two_calls_one_token(self):
        s = self.double()
        p = self.run_ok(["bash", recipe("token.sh")], self.env(s))
        answers = json_lines(p.stdout)
        self.assertEqual(len(answers), 2, p.stdout)
        for a in answers:
            self.assertEqual((a["active"], a["client_id"], a["scope"]),
                             (True, "svc", "devices:read"))
        self.assertEqual(answers[0]["jti"], answers[1]["jti"])
        self.assertEqual(len(self.access_tokens(s, "svc")), 1)

    def test_reuses_the_token_until_30_seconds_are_left(self):
        s = self.double()
        driver = r'''
            set -eu -o pipefail
            source "$RECIPES/token.sh"
            # The client's clock is the server's, moves included.
            now() { curl -s --fail "$ISSUER/_control/clock" | jq .now; }
            advance() {
              curl -s --fail -d "advance=$1" "$ISSUER/_control/clock" >/dev/null
            }
            call() {
              local out
              out=$(curl -s -w '\n%{http_code}' \
                -H "Authorization: Bearer $(token)" "$API_URL")
              jq -c -n --arg step "$1" --argjson status "${out##*$'\n'}" \
                --argjson body "${out%$'\n'*}" \
                '{step: $step, status: $status, jti: $body.jti}'
            }
            call first; call again
            advance 60; call 60s-left
            advance 40; call 20s-left; call after-renewal
        '''
        p = self.run_ok(["bash", "-c", driver], self.env(s))
        self.assertRenewedOnce(s, json_lines(p.stdout),
                               ["first", "again", "60s-left"],
                               ["20s-left", "after-renewal"])

    def test_a_token_endpoint_error_fails_the_call(self):
        s = self.double()
        self.control(s, "faults", endpoint="token", status=503)
        p = subprocess.run(["bash", recipe("token.sh")], env=self.env(s),
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("503", p.stderr)


PY_DRIVER = r'''
import json, os, sys, time, urllib.request
sys.path.insert(0, os.environ["RECIPES"])
import session as recipe

offset = 0
class Clock:
    """The client's clock is the server's, moves included."""
    def time(self):
        return time.time() + offset
recipe.time = Clock()

def advance(secs):
    global offset
    with urllib.request.urlopen(os.environ["ISSUER"] + "/_control/clock",
                                b"advance=%d" % secs) as r:
        offset = json.load(r)["offset"]

s = recipe.OauthSession(os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"],
                        os.environ["TOKEN_ENDPOINT"])
def call(step):
    r = s.get(os.environ["API_URL"])
    print(json.dumps({"step": step, "status": r.status_code,
                      "jti": r.json().get("jti")}))

call("first"); call("again")
advance(100); call("20s-left")
advance(12); call("8s-left"); call("after-renewal")
'''


class PythonSessionTest(RecipeCase):
    """(b) seed 002's requests.Session that renews 10 s before expiry."""

    def test_run_as_a_script_two_calls_one_token(self):
        s = self.double()
        p = self.run_ok([PYTHON, recipe("session.py")], self.env(s))
        answers = json_lines(p.stdout)
        self.assertEqual([a["status"] for a in answers], [200, 200])
        self.assertEqual(answers[0]["body"]["jti"], answers[1]["body"]["jti"])
        self.assertEqual(answers[0]["body"]["client_id"], "svc")
        self.assertEqual(len(self.access_tokens(s, "svc")), 1)

    def test_renews_within_10_seconds_of_expiry(self):
        s = self.double()
        p = self.run_ok([PYTHON, "-c", PY_DRIVER], self.env(s))
        self.assertRenewedOnce(s, json_lines(p.stdout),
                               ["first", "again", "20s-left"],
                               ["8s-left", "after-renewal"])

    def test_a_token_endpoint_error_raises(self):
        s = self.double()
        self.control(s, "faults", endpoint="token", status=400,
                     error="invalid_client")
        p = subprocess.run([PYTHON, recipe("session.py")], env=self.env(s),
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("HTTPError: 400 Client Error", p.stderr)
        self.assertEqual(self.access_tokens(s, "svc"), [])


NODE_DRIVER = r'''
const { authenticator } = require(process.env.RECIPES + '/grant.js');
const env = process.env;
// The client's clock is the server's, moves included.
let offset = 0;
const realNow = Date.now;
Date.now = () => realNow() + offset * 1000;
async function advance(secs) {
  const r = await fetch(env.ISSUER + '/_control/clock', {
    method: 'POST', body: new URLSearchParams({ advance: String(secs) }) });
  offset = (await r.json()).offset;
}
const authenticate = authenticator(env.CLIENT_ID, env.CLIENT_SECRET,
                                   env.TOKEN_ENDPOINT);
async function call(step) {
  const config = await authenticate({ headers: {} });
  const r = await fetch(env.API_URL, { headers: config.headers });
  const body = await r.json();
  console.log(JSON.stringify({ step, status: r.status, jti: body.jti }));
}
(async () => {
  await call('first'); await call('again');
  await advance(100); await call('20s-left');
  await advance(12); await call('8s-left'); await call('after-renewal');
})().catch((e) => { console.error(e); process.exitCode = 1; });
'''


def node_with_openid_client():
    """True when node runs and require('openid-client') (from the recipes
    folder, or NODE_PATH) gives the 5.x API with Issuer."""
    if shutil.which("node") is None:
        return False
    p = subprocess.run(
        ["node", "-e", "process.exit(typeof require('openid-client')"
         ".Issuer === 'function' ? 0 : 1)"],
        cwd=RECIPES, capture_output=True, timeout=60,
        env=dict(os.environ, NODE_PATH=NODE_PATH))
    return p.returncode == 0


class NodeGrantTest(RecipeCase):
    """(c) seed 002's node openid-client client.grant()."""

    def setUp(self):
        if not node_with_openid_client():
            skip_or_fail(self, "node or openid-client 5.x not installed "
                         "(scripts/install-test-deps.sh)")
        super().setUp()

    def test_run_as_a_script_two_calls_one_token(self):
        s = self.double()
        p = self.run_ok(["node", recipe("grant.js")], self.env(s))
        answers = json_lines(p.stdout)
        self.assertEqual([a["status"] for a in answers], [200, 200])
        self.assertEqual(answers[0]["body"]["jti"], answers[1]["body"]["jti"])
        self.assertEqual(len(self.access_tokens(s, "svc")), 1)

    def test_renews_within_10_seconds_of_expiry(self):
        s = self.double()
        p = self.run_ok(["node", "-e", NODE_DRIVER], self.env(s))
        self.assertRenewedOnce(s, json_lines(p.stdout),
                               ["first", "again", "20s-left"],
                               ["8s-left", "after-renewal"])


class RefreshOn401Test(RecipeCase):
    """(d) seed 003: on 401 refresh (rotation on), store the whole token
    response, retry."""

    def login(self, s):
        """A password login, stored as the recipe's configuration file."""
        r = self.token(s, {"grant_type": "password", "username": "dave",
                           "password": "dave-password-1"}, APP)
        self.assertEqual(r.status, 200, r.body)
        self.config = os.path.join(self.dir, "config.json")
        with open(self.config, "w") as f:
            json.dump({"token_endpoint": s.issuer + TOKEN_PATH,
                       "client_id": APP[0], "client_secret": APP[1],
                       "oauth": r.json()}, f)
        return r.json()

    def stored(self):
        with open(self.config) as f:
            return json.load(f)["oauth"]

    def run_recipe(self, s):
        return subprocess.run([PYTHON, recipe("refresh_on_401.py"),
                               self.config, s.issuer + "/resource"],
                              env=self.env(s), capture_output=True, text=True,
                              timeout=60)

    def refresh_statuses(self, s):
        return sorted(t["status"] for t in self.control(
            s, "tokens", "GET", client_id="app")["refresh_tokens"])

    def test_recovers_from_401_and_stores_the_rotated_token(self):
        s = self.double()
        login = self.login(s)
        # A valid token: one call, no refresh, nothing stored.
        p = self.run_recipe(s)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["username"], "dave")
        self.assertNotIn("refresh", p.stderr)
        self.assertEqual(self.stored(), login)

        seen = [login["refresh_token"]]
        for cycle in (1, 2):
            with self.subTest(cycle=cycle):
                # The access token (ttl 300) expires: the API says 401.
                self.control(s, "clock", advance=301)
                p = self.run_recipe(s)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn("about to refresh tokens", p.stderr)
                self.assertIn("sending the original request", p.stderr)
                new = self.stored()
                answer = json.loads(p.stdout)
                self.assertEqual((answer["active"], answer["username"]),
                                 (True, "dave"))
                self.assertEqual(answer["jti"], s.introspect(
                    new["access_token"], APP)["jti"])
                # The whole response is stored, with the new refresh token.
                self.assertEqual(set(new), {"access_token", "token_type",
                                            "expires_in", "refresh_token",
                                            "scope"})
                self.assertNotIn(new["refresh_token"], seen)
                seen.append(new["refresh_token"])
                self.assertEqual(self.refresh_statuses(s),
                                 ["active"] + ["rotated"] * cycle)

        # Had the first refresh token been kept, it would now be refused,
        # and its use ends the whole family (RFC 9700).
        r = self.token(s, {"grant_type": "refresh_token",
                           "refresh_token": seen[0]}, APP)
        self.assertOAuthError(r, 400, "invalid_grant")
        self.control(s, "clock", advance=301)
        p = self.run_recipe(s)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("refresh failed: 400", p.stderr)
        self.assertIn("invalid_grant", p.stderr)

    def test_a_second_401_is_an_error_not_a_loop(self):
        s = self.double()
        self.login(s)
        self.control(s, "faults", endpoint="resource", status=401, count=5)
        p = self.run_recipe(s)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("still 401 after a refresh", p.stderr)
        self.assertEqual(self.refresh_statuses(s), ["active", "rotated"])
        faults = self.control(s, "faults", "GET")["faults"]
        self.assertEqual([f["remaining"] for f in faults], [3])

    def test_a_failed_refresh_keeps_the_stored_tokens(self):
        s = self.double()
        login = self.login(s)
        self.control(s, "clock", advance=301)
        self.control(s, "faults", endpoint="token", status=503)
        p = self.run_recipe(s)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("refresh failed: 503", p.stderr)
        self.assertEqual(self.stored(), login)
        # The fault is spent; the stored refresh token still works.
        p = self.run_recipe(s)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotEqual(self.stored()["refresh_token"],
                            login["refresh_token"])


class StartRecipesTest(RecipeCase):
    """The doc's two ways to start and stop the double."""

    def test_python_context_manager(self):
        tmp = os.path.join(self.dir, "tmp")
        os.mkdir(tmp)
        sys.path.insert(0, RECIPES)
        old_tmp = os.environ.get("TMPDIR")
        os.environ["TMPDIR"] = tmp
        try:
            from latchkey_double import latchkey_double
            with open(os.path.join(self.dir, "log"), "wb") as log, \
                    latchkey_double(self.fixtures, "--token-path", TOKEN_PATH,
                                    log=log, timeout=READY_TIMEOUT) as lk:
                self.assertEqual(lk.issuer, "http://127.0.0.1:%d" % lk.port)
                self.assertEqual(len(os.listdir(tmp)), 1)
                self.assertEqual(lk.post("clock", advance=5)["offset"], 5)
                p = self.run_ok(["curl", "-s", "--fail", "-u", "svc:svc-secret",
                                 "-d", "grant_type=client_credentials",
                                 lk.issuer + TOKEN_PATH], os.environ)
                self.assertEqual(json.loads(p.stdout)["expires_in"], 120)
                self.assertEqual(len(lk.get("tokens", client_id="svc")
                                     ["access_tokens"]), 1)
                self.assertEqual(lk.post("reset"), {"reset": True})
                self.assertEqual(lk.get("tokens")["access_tokens"], [])
        finally:
            sys.path.remove(RECIPES)
            if old_tmp is None:
                del os.environ["TMPDIR"]
            else:
                os.environ["TMPDIR"] = old_tmp
        # Stopped: its private database is gone with it.
        self.assertEqual(os.listdir(tmp), [])

    def test_bash_start_and_stop(self):
        driver = r'''
            set -eu -o pipefail
            source "$RECIPES/start.sh"
            lk_start --fixtures "$FIXTURES"
            curl -s --fail "$LK_ISSUER/_control/clock" | jq -c .
            curl -s --fail -u svc:svc-secret -d grant_type=client_credentials \
              "$LK_ISSUER/token" | jq -c '{expires_in}'
            pid=$LK_PID
            lk_stop && echo "stopped 0"
            kill -0 "$pid" 2>/dev/null || echo "gone"
        '''
        env = dict(os.environ, RECIPES=RECIPES, FIXTURES=self.fixtures,
                   LK_START_TIMEOUT=str(READY_TIMEOUT))
        p = self.run_ok(["bash", "-c", driver], env)
        lines = p.stdout.splitlines()
        self.assertEqual(json.loads(lines[0])["offset"], 0)
        self.assertEqual(lines[1:], ['{"expires_in":120}', "stopped 0",
                                     "gone"])

    def test_bash_start_reports_a_server_that_cannot_start(self):
        driver = r'''
            source "$RECIPES/start.sh"
            lk_start --fixtures /nonexistent/fixtures.json || echo "failed $?"
        '''
        env = dict(os.environ, RECIPES=RECIPES)
        p = self.run_ok(["bash", "-c", driver], env)
        self.assertEqual(p.stdout, "failed 1\n")
        self.assertIn("latchkeyd did not start:", p.stderr)
        self.assertIn("fixtures", p.stderr)


PYTEST_SAMPLE = '''
import base64
import json
import urllib.parse
import urllib.request


def token(lk, auth=("svc", "svc-secret")):
    req = urllib.request.Request(
        lk.issuer + "/token",
        urllib.parse.urlencode({"grant_type": "client_credentials"}).encode(),
        {"Authorization": "Basic " + base64.b64encode(
            ":".join(auth).encode()).decode()})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def test_the_client_sent_basic_once(lk):
    token(lk)
    [r] = lk.requests(endpoint="token")
    assert (r["client_id"], r["client_auth"], r["status"]) == \\
        ("svc", "client_secret_basic", 200)


def test_each_test_starts_clean(lk):
    assert lk.requests() == []
    assert lk.get("tokens")["access_tokens"] == []
    assert lk.db.endswith("/latchkey.db")


def test_clients_added_at_runtime(lk):
    lk.put("clients", {"client_id": "extra", "client_secret": "extra-secret",
                       "grants": ["client_credentials"]})
    assert token(lk, ("extra", "extra-secret"))["token_type"] == "Bearer"
'''

NODE_SAMPLE = r'''
const test = require('node:test');
const assert = require('node:assert/strict');
const { start, globalSetup, globalTeardown } =
  require(process.env.RECIPES + '/latchkey_double.js');

const basic = 'Basic ' + Buffer.from('svc:svc-secret').toString('base64');

test('start, a token, the journal, the clock, stop', async () => {
  const lk = await start({ fixtures: process.env.FIXTURES });
  const r = await fetch(lk.issuer + '/token', { method: 'POST',
    headers: { Authorization: basic },
    body: new URLSearchParams({ grant_type: 'client_credentials' }) });
  assert.equal(r.status, 200);
  const [j] = await lk.requests({ endpoint: 'token' });
  assert.equal(j.client_auth, 'client_secret_basic');
  assert.equal((await lk.post('clock', { advance: 60 })).offset, 60);
  assert.equal((await lk.reset()).reset, true);
  assert.deepEqual(await lk.requests(), []);
  assert.equal(await lk.stop(), 0);
});

test('jest globalSetup and globalTeardown', async () => {
  process.env.LATCHKEY_FIXTURES = process.env.FIXTURES;
  await globalSetup();
  const iss = process.env.LATCHKEY_ISSUER;
  assert.match(iss, /^http:\/\/127\.0\.0\.1:\d+$/);
  const md = await (await fetch(iss + '/.well-known/openid-configuration')).json();
  assert.equal(md.issuer, iss);
  await globalTeardown();
  await assert.rejects(fetch(iss + '/healthz'));
});
'''


class HelperRecipesTest(RecipeCase):
    """The pytest fixtures and the node helper of docs/test-double.md,
    run by the real pytest and node against the real latchkeyd."""

    def test_pytest_fixtures(self):
        p = subprocess.run([PYTHON, "-c", "import pytest"],
                           capture_output=True)
        if p.returncode != 0:
            skip_or_fail(self, "pytest is not installed (python3-pytest, "
                         "scripts/install-test-deps.sh)")
        suite = os.path.join(self.dir, "suite")
        os.mkdir(suite)
        for f in ("conftest.py", "latchkey_double.py"):
            shutil.copy(os.path.join(RECIPES, f), suite)
        shutil.copy(self.fixtures, os.path.join(suite, "fixtures.json"))
        with open(os.path.join(suite, "test_sample.py"), "w") as f:
            f.write(PYTEST_SAMPLE)
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        env.pop("LATCHKEY_FIXTURES", None)
        p = self.run_ok([PYTHON, "-m", "pytest", "-q", "-p",
                         "no:cacheprovider", suite], env, cwd=suite)
        self.assertIn("3 passed", p.stdout)

    def test_node_helper(self):
        if shutil.which("node") is None:
            skip_or_fail(self, "node is not installed")
        test = os.path.join(self.dir, "helper.test.js")
        with open(test, "w") as f:
            f.write(NODE_SAMPLE)
        env = dict(os.environ, RECIPES=RECIPES, FIXTURES=self.fixtures)
        p = self.run_ok(["node", "--test", test], env)
        self.assertIn("# pass 2", p.stdout)
        self.assertIn("# fail 0", p.stdout)
