// test_authorize.js: /authorize's login and consent pages in a real
// browser (Debian's Chromium, headless). The browser types into the
// fields, clicks the buttons, posts the forms and follows the redirects
// itself; the app's redirect URI (https://app.example/cb) is a small https
// server of the test's (Chromium resolves app.example to it), and the code
// is redeemed at the real /token.
//
// Every scenario runs three times: the default paths over http, Keycloak's
// paths (authorize_path), and an https issuer with a self-signed
// certificate (tls_cert/tls_key; the browser is told to ignore the
// certificate error), where the cookies are __Host- cookies.
'use strict';
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const lk = require('./lk_browser');

const CB = 'https://app.example/cb';
const KC_AUTH = '/realms/test/protocol/openid-connect/auth';
const KC_TOKEN = '/realms/test/protocol/openid-connect/token';
const PASSWORD = 'dave-password-1';

const why = lk.missing();
if (why !== null && process.env.CI === 'true') {
  // shared/DECISIONS.md: in CI a missing test dependency fails the run.
  console.error(`browser tests cannot run in CI: ${why}`);
  process.exit(1);
}

const CONFIGS = [
  { name: 'default paths over http', args: [], authorize: '/authorize', token: '/token' },
  { name: "Keycloak's paths", args: ['--authorize-path', KC_AUTH, '--token-path', KC_TOKEN],
    authorize: KC_AUTH, token: KC_TOKEN },
  { name: 'an https issuer', https: true, args: [], authorize: '/authorize', token: '/token' },
];

for (const cfg of CONFIGS) {
  describe(`/authorize in Chromium, ${cfg.name}`, { skip: why ?? false }, () => {
    let browser, server, app, dir, db, conf;
    const cookie = (n) => (cfg.https ? `__Host-${n}` : n);

    before(async () => {
      dir = lk.tmpdir();
      db = path.join(dir, 'latchkey.db');
      lk.cli(db, ['migrate']);
      conf = JSON.parse(lk.cli(db, ['client', 'add', 'Server App', '--id', 'conf', '--json',
        '--grant', 'authorization_code', '--grant', 'refresh_token',
        '--redirect-uri', CB, '--scope', 'read write']));
      lk.cli(db, ['client', 'add', 'Web App', '--id', 'web', '--public',
        '--redirect-uri', CB, '--scope', 'read write']);
      lk.cli(db, ['user', 'add', 'dave', '--password-stdin'], PASSWORD + '\n');
      const args = [...cfg.args];
      if (cfg.https) {
        const tls = lk.selfSigned(dir);
        args.push('--tls-cert', tls.cert, '--tls-key', tls.key);
      }
      server = await lk.startServer(db, args, path.join(dir, 'latchkeyd.log'));
      if (cfg.https) assert.match(server.issuer, /^https:\/\/127\.0\.0\.1:\d+$/);
      app = await lk.serveHtml(() => '<!DOCTYPE html><title>App</title>',
        lk.selfSigned(dir, 'app.example'));
      browser = await lk.launch({ 'app.example': app.port });
    });

    after(async () => {
      if (browser) await browser.close();
      if (app) await app.close();
      if (server) assert.equal(await server.stop(), 0, 'latchkeyd exit status');
    });

    // A fresh browser profile (no cookies) of a new user (no consent
    // given yet), which records what our server sent and what the pages
    // logged.
    let people = 0;
    async function person() {
      const user = `user${++people}`;
      lk.cli(db, ['user', 'add', user, '--password-stdin'], PASSWORD + '\n');
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
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

    function authorizeUrl(params) {
      return server.issuer + cfg.authorize + '?' + new URLSearchParams(params);
    }

    function params(client, extra = {}) {
      const p = { response_type: 'code', client_id: client, redirect_uri: CB,
        scope: 'read', state: `st-${Math.random().toString(36).slice(2)}` };
      if (client === 'web') {
        const { verifier, challenge } = lk.pkce();
        p.code_challenge = challenge;
        p.code_challenge_method = 'S256';
        p.verifier = verifier;
      }
      return { ...p, ...extra };
    }

    async function open(page, p) {
      const { verifier, ...query } = p; // eslint-disable-line no-unused-vars
      await page.goto(authorizeUrl(query));
    }

    // Clicks a button of the page's form and waits for where it leads.
    async function press(page, value) {
      await Promise.all([page.waitForNavigation(),
        page.click(`button[name="action"][value="${value}"]`)]);
    }

    async function signIn(page, user, password = PASSWORD) {
      assert.equal(await page.title(), 'Sign in');
      await page.fill('#username', user);
      await page.fill('#password', password);
      await press(page, 'login');
    }

    // The query the browser landed on at the app.
    function landed(page, p) {
      const u = new URL(page.url());
      assert.equal(u.origin + u.pathname, CB, `landed on ${page.url()}`);
      assert.equal(u.searchParams.get('state'), p.state);
      assert.equal(u.searchParams.get('iss'), server.issuer); // RFC 9207
      return u.searchParams;
    }

    async function exchange(code, p, user) {
      const form = { grant_type: 'authorization_code', code, redirect_uri: CB };
      const headers = {};
      if (p.client_id === 'web') {
        form.client_id = 'web';
        form.code_verifier = p.verifier;
      } else {
        headers.Authorization = 'Basic ' +
          Buffer.from(`conf:${conf.client_secret}`).toString('base64');
      }
      const api = await lk.playwright().request.newContext({ ignoreHTTPSErrors: true });
      try {
        const r = await api.post(server.issuer + cfg.token, { form, headers });
        assert.equal(r.status(), 200, await r.text());
        const t = await r.json();
        assert.equal(t.token_type, 'Bearer');
        assert.equal(t.scope, p.scope);
        // The token works: introspection says whose it is.
        const i = await api.post(server.issuer + '/introspect', {
          form: { token: t.access_token },
          headers: { Authorization: 'Basic ' +
            Buffer.from(`conf:${conf.client_secret}`).toString('base64') },
        });
        assert.equal(i.status(), 200);
        const info = await i.json();
        assert.equal(info.active, true);
        assert.equal(info.username, user);
        assert.equal(info.client_id, p.client_id);
        return t;
      } finally {
        await api.dispose();
      }
    }

    async function fullFlow(page, user, p) {
      await open(page, p);
      await signIn(page, user);
      assert.equal(await page.title(), 'Allow access?');
      await press(page, 'allow');
      return landed(page, p);
    }

    for (const client of ['conf', 'web']) {
      it(`${client}: sign in, allow, back with code and state, code redeemed`, async () => {
        const { context, page, seen, user } = await person();
        const p = params(client);
        const q = await fullFlow(page, user, p);
        await exchange(q.get('code'), p, user);
        const names = (await context.cookies(server.origin)).map((c) => c.name);
        assert.ok(names.includes(cookie('lk_session')), names.join());
        assert.ok(names.includes(cookie('lk_csrf')), names.join());
        // The forms were posted back to the configured path, answered with
        // a page (login) and a 303 to the app (consent).
        const posts = seen.responses.filter((r) => r.method === 'POST');
        assert.deepEqual(posts.map((r) => [new URL(r.url).pathname, r.status]),
          [[cfg.authorize, 200], [cfg.authorize, 303]]);
        assert.deepEqual(seen.console, []);
        await context.close();
      });
    }

    it('a second authorization in the same browser asks nothing', async () => {
      const { context, page, seen, user } = await person();
      const first = params('conf');
      await exchange((await fullFlow(page, user, first)).get('code'), first, user);
      seen.responses.length = 0;
      const again = params('conf');
      await open(page, again);
      const q = landed(page, again);
      await exchange(q.get('code'), again, user);
      // Straight back: one 302 from us, no page.
      assert.deepEqual(seen.responses.map((r) => r.status), [302]);
      await context.close();
    });

    it('prompt=login asks for the password again; prompt=consent asks again', async () => {
      const { context, page, user } = await person();
      const first = params('conf');
      await fullFlow(page, user, first);
      const relogin = params('conf', { prompt: 'login' });
      await open(page, relogin);
      await signIn(page, user); // consent remembered: straight back
      await exchange(landed(page, relogin).get('code'), relogin, user);
      const reconsent = params('conf', { prompt: 'consent' });
      await open(page, reconsent);
      assert.equal(await page.title(), 'Allow access?');
      await press(page, 'allow');
      await exchange(landed(page, reconsent).get('code'), reconsent, user);
      await context.close();
    });

    it('deny sends access_denied back to the app', async () => {
      const { context, page, user } = await person();
      const p = params('web');
      await open(page, p);
      await signIn(page, user);
      await press(page, 'deny');
      const q = landed(page, p);
      assert.equal(q.get('error'), 'access_denied');
      assert.equal(q.get('code'), null);
      await context.close();
    });

    it('a wrong password, then the right one', async () => {
      const { context, page, seen, user } = await person();
      const p = params('conf');
      await open(page, p);
      await signIn(page, user, 'not-the-password');
      assert.equal(await page.title(), 'Sign in');
      assert.equal(await page.textContent('.error'), 'The username or password is wrong.');
      assert.equal(await page.inputValue('#username'), user);
      await page.fill('#password', PASSWORD);
      await press(page, 'login');
      assert.equal(await page.title(), 'Allow access?');
      await press(page, 'allow');
      await exchange(landed(page, p).get('code'), p, user);
      assert.deepEqual(seen.console, []);
      await context.close();
    });

    it('the login page logs no errors and cannot be framed', async () => {
      const { context, page, seen, user } = await person();
      await open(page, params('conf'));
      assert.equal(await page.title(), 'Sign in');
      assert.deepEqual(seen.console, []);
      const framer = await lk.serveHtml(() =>
        `<!DOCTYPE html><title>framer</title><iframe src="${authorizeUrl(params('conf'))}"></iframe>`);
      try {
        const blocked = page.waitForEvent('console', (m) => /frame/i.test(m.text()));
        await page.goto(framer.url);
        await blocked; // Chromium says it refused to display the page in a frame
        const frame = page.frames().find((f) => f !== page.mainFrame());
        assert.ok(frame, 'the iframe exists');
        assert.equal(await frame.$('#password'), null, 'the login form shows inside a frame');
      } finally {
        await framer.close();
      }
      await context.close();
    });

    it('a form posted from another origin is refused, CSRF token or not', async () => {
      const { context, page, user } = await person();
      const p = params('conf');
      await open(page, p);
      // Even the victim's own CSRF token does not help a page elsewhere.
      const csrf = await page.inputValue('input[name="csrf"]');
      const fields = { ...p, csrf, action: 'login', username: 'dave', password: PASSWORD };
      delete fields.verifier;
      const esc = (v) => String(v).replace(/&/g, '&amp;').replace(/"/g, '&quot;');
      const attacker = await lk.serveHtml(() => '<!DOCTYPE html><title>attacker</title>' +
        `<form method="post" action="${server.issuer}${cfg.authorize}">` +
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
        assert.equal(await page.title(), 'Cannot continue');
        assert.match(await page.textContent('.error'), /did not come from this site/);
        const names = (await context.cookies(server.origin)).map((c) => c.name);
        assert.ok(!names.includes(cookie('lk_session')), 'a session was started');
      } finally {
        await attacker.close();
      }
      await context.close();
    });
  });
}
