// test_logout.js: the logout confirmation page (OpenID Connect
// RP-Initiated Logout, without an id_token_hint) in a real browser
// (Debian's Chromium, headless). The browser signs in at /authorize, then
// opens /logout: the page asks, the person clicks "Sign out", the browser
// posts the form and follows the redirect to the app's registered
// post_logout_redirect_uri with state; the session cookie and the
// session are gone. A page of another origin that posts the same form
// (with the victim's own CSRF token even) is refused and signs no one out.
'use strict';
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const lk = require('./lk_browser');

const CB = 'https://app.example/cb';
const BYE = 'https://app.example/bye';
const PASSWORD = 'dave-password-1';

const why = lk.missing();
if (why !== null && process.env.CI === 'true') {
  // shared/DECISIONS.md: in CI a missing test dependency fails the run.
  console.error(`browser tests cannot run in CI: ${why}`);
  process.exit(1);
}

describe('/logout in Chromium', { skip: why ?? false }, () => {
  let browser, server, app, dir, db;

  before(async () => {
    dir = lk.tmpdir();
    db = path.join(dir, 'latchkey.db');
    lk.cli(db, ['migrate']);
    lk.cli(db, ['client', 'add', 'Web App', '--id', 'web', '--public',
      '--redirect-uri', CB, '--post-logout-redirect-uri', BYE, '--scope', 'read']);
    server = await lk.startServer(db, [], path.join(dir, 'latchkeyd.log'));
    app = await lk.serveHtml(() => '<!DOCTYPE html><title>App</title>',
      lk.selfSigned(dir, 'app.example'));
    browser = await lk.launch({ 'app.example': app.port });
  });

  after(async () => {
    if (browser) await browser.close();
    if (app) await app.close();
    if (server) assert.equal(await server.stop(), 0, 'latchkeyd exit status');
  });

  let people = 0;
  const sessions = () => JSON.parse(lk.cli(db, ['session', 'list', '--json']));

  async function press(page, value) {
    await Promise.all([page.waitForNavigation(),
      page.click(`button[name="action"][value="${value}"]`)]);
  }

  // A fresh browser profile signed in as a new user at /authorize.
  async function signedIn() {
    const user = `user${++people}`;
    lk.cli(db, ['user', 'add', user, '--password-stdin'], PASSWORD + '\n');
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    const { challenge } = lk.pkce();
    await page.goto(server.issuer + '/authorize?' + new URLSearchParams({
      response_type: 'code', client_id: 'web', redirect_uri: CB, scope: 'read',
      state: 'in', code_challenge: challenge, code_challenge_method: 'S256' }));
    assert.equal(await page.title(), 'Sign in');
    await page.fill('#username', user);
    await page.fill('#password', PASSWORD);
    await press(page, 'login');
    await press(page, 'allow');
    assert.ok(page.url().startsWith(CB + '?'), page.url());
    const mine = sessions().filter((s) => s.username === user);
    assert.equal(mine.length, 1);
    return { context, page, user, sid: mine[0].sid, errors };
  }

  const logoutUrl = (state) => server.issuer + '/logout?' + new URLSearchParams({
    client_id: 'web', post_logout_redirect_uri: BYE, state });
  const hasSession = async (context) =>
    (await context.cookies(server.origin)).some((c) => c.name === 'lk_session');

  it('asks, and the person signs out', async () => {
    const { context, page, user, errors } = await signedIn();
    await page.goto(logoutUrl('bye-1'));
    assert.equal(await page.title(), 'Sign out?');
    assert.match(await page.textContent('main'), /Web App/);
    assert.ok(await hasSession(context), 'nothing happened before the click');
    await press(page, 'logout');
    const u = new URL(page.url());
    assert.equal(u.origin + u.pathname, BYE, `landed on ${page.url()}`);
    assert.equal(u.searchParams.get('state'), 'bye-1');
    assert.ok(!(await hasSession(context)), 'the session cookie is gone');
    assert.deepEqual(sessions().filter((s) => s.username === user), []);
    // The next authorization request asks for a login again.
    await page.goto(server.issuer + '/authorize?' + new URLSearchParams({
      response_type: 'code', client_id: 'web', redirect_uri: CB, scope: 'read',
      state: 'again', code_challenge: lk.pkce().challenge,
      code_challenge_method: 'S256' }));
    assert.equal(await page.title(), 'Sign in');
    assert.deepEqual(errors, []);
    await context.close();
  });

  it('a form posted from another origin is refused, CSRF token or not', async () => {
    const { context, page, user } = await signedIn();
    await page.goto(logoutUrl('bye-2'));
    const csrf = await page.inputValue('input[name="csrf"]');
    const fields = { client_id: 'web', post_logout_redirect_uri: BYE, state: 'x',
      csrf, action: 'logout' };
    const attacker = await lk.serveHtml(() => '<!DOCTYPE html><title>attacker</title>' +
      `<form method="post" action="${server.issuer}/logout">` +
      Object.entries(fields).map(([k, v]) =>
        `<input type="hidden" name="${k}" value="${v}">`).join('') +
      '</form><script>document.forms[0].submit()</script>');
    try {
      const answer = page.waitForResponse((r) => r.url().startsWith(server.origin) &&
        r.request().method() === 'POST');
      await page.goto(attacker.url);
      const r = await answer;
      await page.waitForLoadState('load');
      assert.equal(r.status(), 400);
      assert.equal(await page.title(), 'Cannot continue');
      assert.match(await page.textContent('.error'), /did not come from this site/);
      assert.ok(await hasSession(context), 'the session cookie stays');
      assert.equal(sessions().filter((s) => s.username === user).length, 1);
    } finally {
      await attacker.close();
    }
    await context.close();
  });

  it('a forged CSRF token on our own page is refused', async () => {
    const { context, page, user } = await signedIn();
    await page.goto(logoutUrl('bye-3'));
    await page.evaluate(() => { document.querySelector('input[name="csrf"]').value = 'A'.repeat(43); });
    const answer = page.waitForResponse((r) => r.url().startsWith(server.origin) &&
      r.request().method() === 'POST');
    await page.click('button[name="action"][value="logout"]');
    const r = await answer;
    await page.waitForLoadState('load');
    assert.equal(r.status(), 400);
    assert.equal(await page.title(), 'Cannot continue');
    assert.ok(await hasSession(context));
    assert.equal(sessions().filter((s) => s.username === user).length, 1);
    await context.close();
  });
});
