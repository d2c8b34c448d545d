// test_mod_auth_openidc.js: Apache httpd with Debian's mod_auth_openidc
// protecting a page on loopback, with the real latchkeyd as its OpenID
// Provider and Debian's Chromium as the person's browser (issue 15,
// section 5). Apache runs the configuration of docs/openid-connect.md as
// it is (tests/e2e/rp/mod_auth_openidc.conf, values from the environment),
// in a directory of the test's, on a free loopback port.
//
// The browser opens the protected page, is sent to Latchkey's /authorize,
// signs in and allows, and lands back on the page, which shows the claims
// mod_auth_openidc passes on (OIDC_CLAIM_* through server-side includes).
// Then it signs out through the module's logout URL, which goes through
// Latchkey's end_session_endpoint and back; the protected page then asks
// for a login again.
'use strict';
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const lk = require('./lk_browser');

const APACHE = process.env.LK_APACHE || '/usr/sbin/apache2';
const MODULE = '/usr/lib/apache2/modules/mod_auth_openidc.so';
const RP = path.join(__dirname, '..', 'e2e', 'rp');
const PASSWORD = 'ada-password-1';
const SECRET = 'apache-secret-0123456789';

function missing() {
  const why = lk.missing();
  if (why !== null) return why;
  if (!fs.existsSync(APACHE)) return `${APACHE} not found (apt-get install apache2-bin)`;
  if (!fs.existsSync(MODULE)) {
    return `${MODULE} not found (apt-get install libapache2-mod-auth-openidc)`;
  }
  return null;
}

const why = missing();
if (why !== null && process.env.CI === 'true') {
  // shared/DECISIONS.md: in CI a missing test dependency fails the run.
  console.error(`mod_auth_openidc browser test cannot run in CI: ${why}`);
  process.exit(1);
}

// A port no one listens on now (Apache's Listen needs a number).
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function connects(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

// Apache in the foreground with the recipe's configuration; resolves once
// it accepts connections. As root its workers run as www-data, so its
// directory is world-readable (it holds nothing secret but the client's
// secret in the environment of the process, not in a file).
async function startApache(dir, env) {
  const htdocs = path.join(dir, 'htdocs');
  fs.mkdirSync(path.join(htdocs, 'protected'), { recursive: true });
  fs.copyFileSync(path.join(RP, 'protected.shtml'),
    path.join(htdocs, 'protected', 'index.shtml'));
  fs.writeFileSync(path.join(htdocs, 'index.html'),
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">' +
    '<title>Signed out</title></head><body><h1>Signed out</h1></body></html>\n');
  for (const d of [dir, htdocs, path.join(htdocs, 'protected')]) fs.chmodSync(d, 0o755);
  const errorLog = path.join(dir, 'error.log');
  const out = fs.openSync(path.join(dir, 'apache2.out'), 'a');
  const proc = spawn(APACHE, ['-f', path.join(RP, 'mod_auth_openidc.conf'), '-DFOREGROUND'],
    { env: { ...process.env, ...env }, stdio: ['ignore', out, out] });
  const logs = () => ['apache2.out', 'error.log']
    .map((f) => path.join(dir, f)).filter((f) => fs.existsSync(f))
    .map((f) => `${path.basename(f)}:\n${fs.readFileSync(f, 'utf8')}`).join('\n');
  const exited = new Promise((resolve) => proc.once('exit', (code, sig) => resolve(code ?? sig)));
  const deadline = Date.now() + 15000;
  while (!(await connects(Number(env.RP_PORT)))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`apache2 did not start:\n${logs()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    errorLog, logs,
    stop: () => {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

describe('Apache httpd with mod_auth_openidc, signing in at Latchkey', { skip: why ?? false }, () => {
  let browser, server, apache, dir, rpDir, db, sub, rpOrigin;

  before(async () => {
    dir = lk.tmpdir();
    db = path.join(dir, 'latchkey.db');
    lk.cli(db, ['migrate']);
    const port = await freePort();
    rpOrigin = `http://127.0.0.1:${port}`;
    lk.cli(db, ['client', 'add', 'Apache', '--id', 'apache', '--secret', SECRET,
      '--grant', 'authorization_code', '--grant', 'refresh_token',
      '--scope', 'openid email profile',
      '--redirect-uri', `${rpOrigin}/protected/redirect_uri`,
      '--post-logout-redirect-uri', `${rpOrigin}/`]);
    sub = JSON.parse(lk.cli(db, ['user', 'add', 'ada', '--password-stdin', '--json',
      '--claim', 'email=ada@example.com', '--claim', 'email_verified=true',
      '--claim', 'name=Ada Lovelace'], PASSWORD + '\n')).user_id;
    server = await lk.startServer(db, [], path.join(dir, 'latchkeyd.log'));
    // Apache's directory is another one: as root its workers (www-data)
    // must reach it, and they have no business in the database's.
    rpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-rp-'));
    apache = await startApache(rpDir, {
      LK_ISSUER: server.issuer, RP_PORT: String(port), RP_DIR: rpDir,
      RP_CLIENT_ID: 'apache', RP_CLIENT_SECRET: SECRET,
      RP_PASSPHRASE: crypto.randomBytes(32).toString('hex'),
    });
    browser = await lk.launch();
  });

  after(async () => {
    if (browser) await browser.close();
    if (apache) await apache.stop();
    if (server) assert.equal(await server.stop(), 0, 'latchkeyd exit status');
    for (const d of [rpDir, dir]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it('signs in at Latchkey, shows the claims, signs out through Latchkey', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const seen = [];
    page.on('response', (r) => seen.push({ url: r.url(), status: r.status() }));
    const where = () => `at ${page.url()}\n${seen.map((r) => `${r.status} ${r.url}`).join('\n')}` +
      `\n${apache.logs()}\nlatchkeyd:\n${server.log()}`;
    const press = (value) => Promise.all([page.waitForNavigation(),
      page.click(`button[name="action"][value="${value}"]`)]);

    // The protected page sends the browser to Latchkey's login page.
    await page.goto(`${rpOrigin}/protected/`);
    assert.equal(await page.title(), 'Sign in', where());
    assert.equal(new URL(page.url()).origin, server.origin, where());
    const authorize = new URL(seen.find((r) => r.url.startsWith(server.issuer)).url);
    assert.equal(authorize.searchParams.get('client_id'), 'apache');
    assert.equal(authorize.searchParams.get('redirect_uri'), `${rpOrigin}/protected/redirect_uri`);
    assert.deepEqual(authorize.searchParams.get('scope').split(' ').sort(),
      ['email', 'openid', 'profile']);
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(authorize.searchParams.get('nonce'), 'mod_auth_openidc sends a nonce');

    await page.fill('#username', 'ada');
    await page.fill('#password', PASSWORD);
    await press('login');
    if (await page.title() === 'Allow access?') await press('allow');

    // Back on the protected page, with the claims the module passes on.
    assert.equal(await page.title(), 'Protected', where());
    assert.equal(page.url(), `${rpOrigin}/protected/`);
    const shown = async (id) => (await page.textContent(`#${id}`)).trim();
    assert.equal(await shown('sub'), sub, where());
    assert.equal(await shown('remote_user'), sub);
    assert.equal(await shown('email'), 'ada@example.com');
    // The module passes JSON booleans as 1 and 0.
    assert.equal(await shown('email_verified'), '1');
    assert.equal(await shown('name'), 'Ada Lovelace');
    assert.equal(await shown('iss'), server.issuer);

    // A reload is served from the module's session: no trip to Latchkey.
    seen.length = 0;
    await page.reload();
    assert.equal(await page.title(), 'Protected');
    assert.deepEqual(seen.filter((r) => r.url.startsWith(server.origin)), []);

    // Signing out: the module, then Latchkey's end_session_endpoint, then
    // back to the post-logout page.
    seen.length = 0;
    await Promise.all([page.waitForNavigation(), page.click('#logout')]);
    assert.equal(page.url(), `${rpOrigin}/`, where());
    assert.equal(await page.title(), 'Signed out', where());
    const md = JSON.parse(await (await fetch(
      `${server.issuer}/.well-known/openid-configuration`)).text());
    const end = seen.find((r) => r.url.startsWith(md.end_session_endpoint));
    assert.ok(end, `no request to ${md.end_session_endpoint}: ${where()}`);
    assert.ok([302, 303].includes(end.status), where());
    const q = new URL(end.url).searchParams;
    assert.ok(q.get('id_token_hint'), 'mod_auth_openidc sends id_token_hint');
    assert.equal(q.get('post_logout_redirect_uri'), `${rpOrigin}/`);

    // Both sessions are over: the protected page asks for a login again.
    await page.goto(`${rpOrigin}/protected/`);
    assert.equal(await page.title(), 'Sign in', where());
    assert.equal(new URL(page.url()).origin, server.origin);
    await context.close();
  });
});
