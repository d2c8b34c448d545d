// test_device.js: the device authorization grant (RFC 8628) with a person
// at a real browser (Debian's Chromium, headless). The device's side is
// plain HTTP from this process: it asks /device_authorization for a code
// and polls /token; the person opens verification_uri_complete (or types
// the code on /device), signs in, reads the consent page (the device's
// name, the scopes, the user code) and allows or denies, and the next poll
// gets the tokens or access_denied. Polls are timed on Latchkey's clock
// (--test-double, /_control/clock), so nothing sleeps. A form posted to
// /device from another origin's page is refused, the person's own CSRF
// token notwithstanding.
'use strict';
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const lk = require('./lk_browser');

const DC = 'urn:ietf:params:oauth:grant-type:device_code';
const PASSWORD = 'dave-password-1';
const TV_NAME = 'Living Room TV';

const why = lk.missing();
if (why !== null && process.env.CI === 'true') {
  // shared/DECISIONS.md: in CI a missing test dependency fails the run.
  console.error(`browser tests cannot run in CI: ${why}`);
  process.exit(1);
}

describe('the device flow in Chromium', { skip: why ?? false }, () => {
  let browser, server, dir, db, tv, api;

  before(async () => {
    dir = lk.tmpdir();
    db = path.join(dir, 'latchkey.db');
    lk.cli(db, ['migrate']);
    tv = JSON.parse(lk.cli(db, ['client', 'add', TV_NAME, '--id', 'tv', '--json',
      '--grant', 'device-code', '--grant', 'refresh_token', '--scope', 'read write']));
    assert.deepEqual(tv.grant_types, [DC, 'refresh_token']);
    api = JSON.parse(lk.cli(db, ['client', 'add', 'api', '--id', 'api', '--json']));
    server = await lk.startServer(db, ['--test-double'], path.join(dir, 'latchkeyd.log'));
    browser = await lk.launch();
  });

  after(async () => {
    if (browser) await browser.close();
    if (server) assert.equal(await server.stop(), 0, 'latchkeyd exit status');
  });

  // A fresh browser profile (no cookies) of a new user, which records
  // what our server sent and what the pages logged.
  let people = 0;
  async function person() {
    const user = `user${++people}`;
    lk.cli(db, ['user', 'add', user, '--password-stdin'], PASSWORD + '\n');
    const context = await browser.newContext();
    const page = await context.newPage();
    const seen = { responses: [], console: [] };
    page.on('response', (r) => {
      if (r.url().startsWith(server.origin)) {
        seen.responses.push({ url: r.url(), status: r.status(),
          method: r.request().method() });
      }
    });
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') seen.console.push(m.text());
    });
    page.on('pageerror', (e) => seen.console.push(String(e)));
    return { context, page, seen, user };
  }

  // The device's side: a form POST to the server; auth is [id, secret].
  async function post(pathname, form, auth = null) {
    const headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
    if (auth) {
      headers.Authorization = 'Basic ' +
        Buffer.from(`${encodeURIComponent(auth[0])}:${encodeURIComponent(auth[1])}`)
          .toString('base64');
    }
    const r = await fetch(server.issuer + pathname,
      { method: 'POST', headers, body: new URLSearchParams(form) });
    const text = await r.text();
    return { status: r.status, headers: r.headers, text,
      json: () => JSON.parse(text) };
  }

  const TV = () => ['tv', tv.client_secret];

  async function deviceAuthorization(scope) {
    const r = await post('/device_authorization', { scope }, TV());
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const d = r.json();
    assert.match(d.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.match(d.device_code, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(d.verification_uri, server.issuer + '/device');
    assert.equal(d.verification_uri_complete,
      `${server.issuer}/device?user_code=${d.user_code}`);
    return d;
  }

  // Moves Latchkey's clock, so that a poll comes an interval after the
  // previous one.
  async function tick(seconds) {
    const r = await post('/_control/clock', { advance: String(seconds) });
    assert.equal(r.status, 200, r.text);
  }

  async function poll(d, advance = 5) {
    if (advance) await tick(advance);
    return post('/token', { grant_type: DC, device_code: d.device_code }, TV());
  }

  async function assertOAuthError(r, code) {
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json().error, code, r.text);
  }

  // The tokens of a poll after approval, checked against who approved.
  async function assertTokens(r, user, scope) {
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const t = r.json();
    assert.equal(t.token_type, 'Bearer');
    assert.equal(t.scope, scope);
    assert.equal(typeof t.refresh_token, 'string');
    const i = await post('/introspect', { token: t.access_token },
      ['api', api.client_secret]);
    assert.equal(i.status, 200, i.text);
    const info = i.json();
    assert.equal(info.active, true);
    assert.equal(info.username, user);
    assert.equal(info.client_id, 'tv');
    return t;
  }

  // Clicks a button of the page's form and waits for where it leads.
  async function press(page, value) {
    await Promise.all([page.waitForNavigation(),
      page.click(`button[name="action"][value="${value}"]`)]);
  }

  async function signIn(page, user, password = PASSWORD) {
    assert.ok(await page.$('input[name="password"]'), 'the login page');
    await page.fill('input[name="username"]', user);
    await page.fill('input[name="password"]', password);
    await press(page, 'login');
  }

  async function assertConsent(page, d, scopes) {
    assert.ok(await page.$('button[name="action"][value="allow"]'), 'an Allow button');
    assert.ok(await page.$('button[name="action"][value="deny"]'), 'a Deny button');
    assert.equal(await page.$('input[name="password"]'), null);
    const text = await page.textContent('body');
    assert.ok(text.includes(TV_NAME), text);
    assert.ok(text.includes(d.user_code), text);
    for (const s of scopes) assert.ok(text.includes(s), text);
  }

  it('verification_uri_complete: the code prefilled, sign in, consent, allow; the device gets tokens', async () => {
    const { context, page, seen, user } = await person();
    const d = await deviceAuthorization('read write');
    await assertOAuthError(await poll(d, 0), 'authorization_pending');
    const resp = await page.goto(d.verification_uri_complete);
    assert.equal(resp.status(), 200);
    assert.equal(await page.inputValue('input[name="user_code"]'), d.user_code);
    await press(page, 'code');
    await signIn(page, user);
    await assertConsent(page, d, ['read', 'write']);
    await assertOAuthError(await poll(d), 'authorization_pending');
    await press(page, 'allow');
    assert.match(await page.textContent('body'), /Device connected/);
    await assertTokens(await poll(d), user, 'read write');
    // Once only.
    await assertOAuthError(await poll(d), 'invalid_grant');
    const names = (await context.cookies(server.origin)).map((c) => c.name);
    assert.ok(names.includes('lk_session'), names.join());
    assert.ok(names.includes('lk_csrf'), names.join());
    // Every form went back to /device and was answered with a page.
    const posts = seen.responses.filter((r) => r.method === 'POST');
    assert.deepEqual(posts.map((r) => [new URL(r.url).pathname, r.status]),
      [['/device', 200], ['/device', 200], ['/device', 200]]);
    assert.deepEqual(seen.console, []);
    await context.close();
  });

  it('a code typed by hand in lower case without its dash; signed in, the next goes straight to consent', async () => {
    const { context, page, seen, user } = await person();
    const d = await deviceAuthorization('read');
    await page.goto(server.issuer + '/device');
    assert.equal(await page.inputValue('input[name="user_code"]'), '');
    await page.fill('input[name="user_code"]', d.user_code.replace('-', '').toLowerCase());
    await press(page, 'code');
    await signIn(page, user);
    await assertConsent(page, d, ['read']);
    await press(page, 'allow');
    assert.match(await page.textContent('body'), /Device connected/);
    await assertTokens(await poll(d), user, 'read');
    // The same browser, another device: no login this time.
    const d2 = await deviceAuthorization('read');
    await page.goto(d2.verification_uri_complete);
    await press(page, 'code');
    await assertConsent(page, d2, ['read']);
    await press(page, 'allow');
    await assertTokens(await poll(d2), user, 'read');
    assert.deepEqual(seen.console, []);
    await context.close();
  });

  it('a wrong code shows an error and the form again', async () => {
    const { context, page, user } = await person();
    const d = await deviceAuthorization('read');
    await page.goto(server.issuer + '/device');
    await page.fill('input[name="user_code"]',
      d.user_code === 'BCDF-GHJK' ? 'ZXWV-TSRQ' : 'BCDF-GHJK');
    const answer = page.waitForResponse((r) => r.request().method() === 'POST');
    await press(page, 'code');
    assert.equal((await answer).status(), 400);
    assert.ok(await page.$('[role="alert"]'), 'an error line');
    assert.equal(await page.$('input[name="password"]'), null);
    await page.fill('input[name="user_code"]', d.user_code);
    await press(page, 'code');
    await signIn(page, user);
    await assertConsent(page, d, ['read']);
    await context.close();
  });

  it('deny: the page says so, the device gets access_denied', async () => {
    const { context, page, user } = await person();
    const d = await deviceAuthorization('read');
    await page.goto(d.verification_uri_complete);
    await press(page, 'code');
    await signIn(page, user);
    await assertConsent(page, d, ['read']);
    await press(page, 'deny');
    const text = await page.textContent('body');
    assert.match(text, /denied/i);
    assert.doesNotMatch(text, /Device connected/);
    await assertOAuthError(await poll(d), 'access_denied');
    await context.close();
  });

  it('a form posted from another origin is refused, CSRF token or not', async () => {
    const { context, page, user } = await person();
    const d = await deviceAuthorization('read');
    await page.goto(d.verification_uri_complete);
    await press(page, 'code');
    await signIn(page, user);
    await assertConsent(page, d, ['read']);
    await assertOAuthError(await poll(d, 0), 'authorization_pending');
    // Even the person's own CSRF token does not help a page elsewhere
    // (the browser sends the cookies: another port of 127.0.0.1 is the
    // same site, but not the same origin).
    const fields = {
      csrf: await page.inputValue('input[name="csrf"]'),
      user_code: d.user_code, action: 'allow',
    };
    const esc = (v) => String(v).replace(/&/g, '&amp;').replace(/"/g, '&quot;');
    const attacker = await lk.serveHtml(() => '<!DOCTYPE html><title>attacker</title>' +
      `<form method="post" action="${server.issuer}/device">` +
      Object.entries(fields).map(([k, v]) =>
        `<input type="hidden" name="${k}" value="${esc(v)}">`).join('') +
      '</form><script>document.forms[0].submit()</script>');
    try {
      const answer = page.waitForResponse((r) => r.url().startsWith(server.origin) &&
        r.request().method() === 'POST');
      await page.goto(attacker.url);
      const r = await answer;
      await page.waitForLoadState('load');
      assert.equal(r.status(), 400);
      const text = await page.textContent('body');
      assert.match(text, /did not come from this site/);
      assert.doesNotMatch(text, /Device connected/);
    } finally {
      await attacker.close();
    }
    // Nothing was decided: the device still waits ...
    await assertOAuthError(await poll(d), 'authorization_pending');
    // ... and the person, on the real page, can still allow.
    await page.goto(d.verification_uri_complete);
    await press(page, 'code');
    await assertConsent(page, d, ['read']);
    await press(page, 'allow');
    assert.match(await page.textContent('body'), /Device connected/);
    await assertTokens(await poll(d), user, 'read');
    await context.close();
  });
});
