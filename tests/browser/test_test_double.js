// test_test_double.js: the test double's pages in a real browser
// (Debian's Chromium, headless): two tenants of one latchkeyd, each with
// its own login page under its path and its own cookies, and deny_login
// making a correct password fail once on the login page. The browser
// types, clicks and follows the redirects itself; the app's redirect URI
// is a small https server of the test's (app.example).
'use strict';
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const lk = require('./lk_browser');

const CB = 'https://app.example/cb';

const why = lk.missing();
if (why !== null && process.env.CI === 'true') {
  console.error(`browser tests cannot run in CI: ${why}`);
  process.exit(1);
}

const web = { client_id: 'web', public: true, redirect_uris: [CB],
  grants: ['authorization_code'] };
const FIXTURES = {
  tenants: [
    { name: 'a', path: '/realms/a', clients: [web],
      users: [{ username: 'dave', password: 'dave-password-a' }] },
    { name: 'b', path: '/realms/b', clients: [web],
      users: [{ username: 'dave', password: 'dave-password-b' }] },
  ],
};

describe('the test double in Chromium: tenants and deny_login', { skip: why ?? false }, () => {
  let browser, server, app, dir;

  before(async () => {
    dir = lk.tmpdir();
    const fixtures = path.join(dir, 'fixtures.json');
    fs.writeFileSync(fixtures, JSON.stringify(FIXTURES));
    server = await lk.startServer(path.join(dir, 'unused.db'),
      ['--ephemeral', '--test-double', '--fixtures', fixtures],
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

  function authorizeUrl(tenant) {
    const { challenge } = lk.pkce();
    return `${server.origin}/realms/${tenant}/authorize?` + new URLSearchParams({
      response_type: 'code', client_id: 'web', redirect_uri: CB, state: 'st-1',
      code_challenge: challenge, code_challenge_method: 'S256' });
  }

  async function signIn(page, password) {
    assert.equal(await page.title(), 'Sign in');
    await page.fill('#username', 'dave');
    await page.fill('#password', password);
    await Promise.all([page.waitForNavigation(),
      page.click('button[name="action"][value="login"]')]);
  }

  it('a denied login fails on the page, the next one works; the other tenant is untouched', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const r = await fetch(`${server.origin}/realms/a/_control/faults`, {
      method: 'POST', body: new URLSearchParams({ deny_login: 'dave' }) });
    assert.equal(r.status, 200);

    await page.goto(authorizeUrl('a'));
    await signIn(page, 'dave-password-a');
    // The right password, refused once: the page says so.
    assert.equal(await page.title(), 'Sign in');
    assert.match(await page.textContent('body'), /wrong/i);
    await signIn(page, 'dave-password-a');
    assert.equal(await page.title(), 'Allow access?');
    // The form posted back under the tenant's path.
    assert.equal(new URL(page.url()).pathname, '/realms/a/authorize');
    await Promise.all([page.waitForNavigation(),
      page.click('button[name="action"][value="allow"]')]);
    const landed = new URL(page.url());
    assert.equal(landed.origin + landed.pathname, CB);
    assert.ok(landed.searchParams.get('code'));
    assert.equal(landed.searchParams.get('iss'), `${server.origin}/realms/a`);

    // Tenant a's cookies, not the root issuer's or b's.
    const names = (await context.cookies(server.origin)).map((c) => c.name).sort();
    assert.deepEqual(names, ['lk_csrf-a', 'lk_session-a']);

    // Signed in at a, not at b: b asks, with its own password.
    await page.goto(authorizeUrl('b'));
    assert.equal(await page.title(), 'Sign in');
    await signIn(page, 'dave-password-a');
    assert.equal(await page.title(), 'Sign in'); // a's password is not b's
    await signIn(page, 'dave-password-b');
    assert.equal(await page.title(), 'Allow access?');

    // Each tenant's journal holds its own login posts (never a password).
    const ja = await (await fetch(`${server.origin}/realms/a/_control/requests?endpoint=authorize`)).json();
    const posts = ja.requests.filter((e) => e.method === 'POST');
    assert.deepEqual(posts.map((e) => e.params.action), ['login', 'login', 'allow']);
    assert.ok(posts.every((e) => e.params.password === true || e.params.password === undefined));
    assert.ok(!JSON.stringify(ja).includes('dave-password'));
    await context.close();
  });
});
