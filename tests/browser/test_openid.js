// test_openid.js: OpenID Connect's prompt=login and max_age=0 in a real
// browser (Debian's Chromium, headless): with a live session, the login
// page is shown all the same, the person signs in again, and the ID token
// of the new code says so (a later auth_time, a new sid, the nonce sent
// through both forms). prompt=none with the session goes straight back
// with a code. The ID tokens' signatures and claims are checked in full
// by tests/e2e/test_openid_id_tokens.py; here only what the browser's
// steps change is read.
'use strict';
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const lk = require('./lk_browser');

const CB = 'https://app.example/cb';
const PASSWORD = 'a-password-1';

const why = lk.missing();
if (why !== null && process.env.CI === 'true') {
  console.error(`browser tests cannot run in CI: ${why}`);
  process.exit(1);
}

function claims(idToken) {
  return JSON.parse(Buffer.from(idToken.split('.')[1], 'base64url').toString());
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('OpenID Connect prompts in Chromium', { skip: why ?? false }, () => {
  let browser, server, app, dir, db, conf;

  before(async () => {
    dir = lk.tmpdir();
    db = path.join(dir, 'latchkey.db');
    lk.cli(db, ['migrate']);
    conf = JSON.parse(lk.cli(db, ['client', 'add', 'Server App', '--id', 'conf', '--json',
      '--grant', 'authorization_code', '--grant', 'refresh_token',
      '--redirect-uri', CB, '--scope', 'openid read']));
    // RS256 access tokens too, so that the ID tokens' default algorithm
    // has a key whether or not the server holds one per algorithm.
    server = await lk.startServer(db, ['--signing-alg', 'RS256'],
      path.join(dir, 'latchkeyd.log'));
    app = await lk.serveHtml(() => '<!DOCTYPE html><title>App</title>',
      lk.selfSigned(dir, 'app.example'));
    browser = await lk.launch({ 'app.example': app.port });
  });

  after(async () => {
    if (browser) await browser.close();
    if (app) await app.close();
    if (server) assert.equal(await server.stop(), 0, 'latchkeyd exit status');
  });

  function params(extra = {}) {
    return { response_type: 'code', client_id: 'conf', redirect_uri: CB,
      scope: 'openid read', state: `st-${Math.random().toString(36).slice(2)}`,
      ...extra };
  }

  async function open(page, p) {
    await page.goto(server.issuer + '/authorize?' + new URLSearchParams(p));
  }

  async function press(page, value) {
    await Promise.all([page.waitForNavigation(),
      page.click(`button[name="action"][value="${value}"]`)]);
  }

  async function signIn(page, user) {
    assert.equal(await page.title(), 'Sign in');
    await page.fill('#username', user);
    await page.fill('#password', PASSWORD);
    await press(page, 'login');
  }

  function landed(page, p) {
    const u = new URL(page.url());
    assert.equal(u.origin + u.pathname, CB, `landed on ${page.url()}`);
    assert.equal(u.searchParams.get('state'), p.state);
    return u.searchParams;
  }

  async function idToken(code) {
    const api = await lk.playwright().request.newContext();
    try {
      const r = await api.post(server.issuer + '/token', {
        form: { grant_type: 'authorization_code', code, redirect_uri: CB },
        headers: { Authorization: 'Basic ' +
          Buffer.from(`conf:${conf.client_secret}`).toString('base64') },
      });
      assert.equal(r.status(), 200, await r.text());
      const t = await r.json();
      assert.equal(typeof t.id_token, 'string', JSON.stringify(t));
      return claims(t.id_token);
    } finally {
      await api.dispose();
    }
  }

  for (const [name, extra] of [['prompt=login', { prompt: 'login' }],
    ['max_age=0', { max_age: '0' }]]) {
    it(`${name} shows the login page despite a session`, async () => {
      const user = `user-${extra.prompt ? 'login' : 'max-age'}`; // no consent yet
      lk.cli(db, ['user', 'add', user, '--password-stdin'], PASSWORD + '\n');
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await context.newPage();
      const first = params({ nonce: 'first-nonce' });
      await open(page, first);
      await signIn(page, user);
      assert.equal(await page.title(), 'Allow access?');
      await press(page, 'allow');
      const c1 = await idToken(landed(page, first).get('code'));
      assert.equal(c1.nonce, 'first-nonce');

      // The session works: prompt=none goes straight back with a code.
      const silent = params({ prompt: 'none' });
      await open(page, silent);
      const c2 = await idToken(landed(page, silent).get('code'));
      assert.equal(c2.sid, c1.sid);
      assert.equal(c2.auth_time, c1.auth_time);

      await sleep(1100); // a later auth_time, to the second
      const again = params({ ...extra, nonce: 'n-0S6_WzA2Mj' });
      await open(page, again);
      assert.equal(await page.title(), 'Sign in');
      await signIn(page, user); // consent is remembered: straight back
      const c3 = await idToken(landed(page, again).get('code'));
      assert.equal(c3.nonce, 'n-0S6_WzA2Mj'); // carried by the login form
      assert.ok(c3.auth_time > c1.auth_time, `${c3.auth_time} > ${c1.auth_time}`);
      assert.notEqual(c3.sid, c1.sid);
      assert.equal(c3.sub, c1.sub);
      await context.close();
    });
  }
});
