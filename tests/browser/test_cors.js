// test_cors.js: CORS (setting cors_allowed_origins) in a real browser
// (Debian's Chromium, headless). Pages served from other loopback origins
// (ports of the test's own small servers) call latchkeyd with fetch(),
// and the browser itself decides, from latchkeyd's answers, whether the
// page may read them: the preflight before a POST with an Authorization
// header, Access-Control-Allow-Origin on answers and on errors, and the
// exposed WWW-Authenticate. A listed origin reads the discovery document
// and gets a token; an unlisted one is refused (its token POST never
// reaches the server, only the preflight does); /introspect never
// answers another origin.
'use strict';
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const lk = require('./lk_browser');

const why = lk.missing();
if (why !== null && process.env.CI === 'true') {
  // shared/DECISIONS.md: in CI a missing test dependency fails the run.
  console.error(`browser tests cannot run in CI: ${why}`);
  process.exit(1);
}

const PAGE = () => '<!DOCTYPE html><title>App</title><p>app</p>';

describe('CORS in Chromium', { skip: why ?? false }, () => {
  let browser, server, allowed, other, dir, db, svc;

  before(async () => {
    dir = lk.tmpdir();
    db = path.join(dir, 'latchkey.db');
    lk.cli(db, ['migrate']);
    svc = JSON.parse(lk.cli(db, ['client', 'add', 'svc', '--id', 'svc', '--json',
      '--scope', 'read']));
    lk.cli(db, ['client', 'add', 'api', '--id', 'api', '--introspect']);
    allowed = await lk.serveHtml(PAGE);
    other = await lk.serveHtml(PAGE);
    server = await lk.startServer(db, ['--cors-allowed-origins', allowed.url],
      path.join(dir, 'latchkeyd.log'));
    browser = await lk.launch();
  });

  after(async () => {
    if (browser) await browser.close();
    if (allowed) await allowed.close();
    if (other) await other.close();
    if (server) assert.equal(await server.stop(), 0, 'latchkeyd exit status');
  });

  // Runs fetch(url, init) in a page of origin site and reports what the
  // page could read: the status, body and exposed headers, or the
  // browser's refusal.
  async function fetchFrom(site, url, init = {}) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const consoleErrors = [];
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    await page.goto(site.url + '/');
    const out = await page.evaluate(async ([u, i]) => {
      try {
        const r = await fetch(u, i);
        return { status: r.status, body: await r.text(),
          www: r.headers.get('WWW-Authenticate'),
          cache: r.headers.get('Cache-Control') };
      } catch (e) {
        return { refused: String(e) };
      }
    }, [url, init]);
    await context.close();
    return { ...out, consoleErrors };
  }

  const basic = (id, secret) => 'Basic ' + Buffer.from(
    `${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');
  const tokenInit = (secret) => ({
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: basic('svc', secret) },
    body: 'grant_type=client_credentials',
  });
  // latchkeyd writes its access lines from a buffer every 100 ms.
  const count = async (re) => {
    await new Promise((r) => setTimeout(r, 300));
    return (server.log().match(re) || []).length;
  };

  it('a listed origin reads the discovery document', async () => {
    const r = await fetchFrom(allowed, server.issuer + '/.well-known/openid-configuration');
    assert.equal(r.refused, undefined, r.refused);
    assert.equal(r.status, 200);
    const md = JSON.parse(r.body);
    assert.equal(md.issuer, server.issuer);
    assert.deepEqual(md.id_token_signing_alg_values_supported, ['RS256', 'ES256']);
    const jwks = await fetchFrom(allowed, server.issuer + '/jwks.json');
    assert.equal(jwks.status, 200);
    assert.ok(JSON.parse(jwks.body).keys.length >= 1);
  });

  it('a listed origin gets a token (preflight, then POST)', async () => {
    const before = await count(/OPTIONS \/token 204/g);
    const r = await fetchFrom(allowed, server.issuer + '/token', tokenInit(svc.client_secret));
    assert.equal(r.refused, undefined, r.refused);
    assert.equal(r.status, 200, r.body);
    const t = JSON.parse(r.body);
    assert.equal(t.token_type, 'Bearer');
    assert.ok(t.access_token.length > 20);
    assert.equal(r.cache, 'no-store');
    assert.ok(await count(/OPTIONS \/token 204/g) > before, 'the browser sent a preflight');
  });

  it('a listed origin reads an error and its challenge', async () => {
    const r = await fetchFrom(allowed, server.issuer + '/token', tokenInit('wrong'));
    assert.equal(r.refused, undefined, r.refused);
    assert.equal(r.status, 401);
    assert.equal(JSON.parse(r.body).error, 'invalid_client');
    assert.match(r.www, /^Basic realm="latchkey"/);
  });

  it('another origin is refused', async () => {
    const r = await fetchFrom(other, server.issuer + '/.well-known/openid-configuration');
    assert.match(r.refused, /TypeError/);
    assert.ok(r.consoleErrors.some((e) => /CORS/.test(e)), r.consoleErrors.join('\n'));
    const posts = await count(/POST \/token /g);
    const t = await fetchFrom(other, server.issuer + '/token', tokenInit(svc.client_secret));
    assert.match(t.refused, /TypeError/);
    // The preflight was refused, so the browser never sent the POST.
    assert.ok(await count(/OPTIONS \/token 204/g) > 0);
    assert.equal(await count(/POST \/token /g), posts);
  });

  it('introspection never answers another origin, even a listed one', async () => {
    const r = await fetchFrom(allowed, server.issuer + '/introspect', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'token=x&client_id=api',
    });
    assert.match(r.refused, /TypeError/);
  });
});
