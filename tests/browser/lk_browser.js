// lk_browser.js: the harness of the browser tests. It runs the real
// binaries named by $LATCHKEYD and $LATCHKEY (a temporary SQLite file,
// clients and users made with the CLI, latchkeyd on 127.0.0.1 port 0) and
// Debian's Chromium, headless, driven by playwright-core from tests/node
// (npm ci; pinned by its lock file). Nothing here stands in for the
// server or the browser: the browser posts the forms and follows the
// redirects itself, sending what a person's browser sends (Origin,
// Sec-Fetch-*, cookies by their rules).
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');

const CHROMIUM = process.env.LK_CHROMIUM || '/usr/bin/chromium';
const LATCHKEYD = process.env.LATCHKEYD || 'latchkeyd';
const LATCHKEY = process.env.LATCHKEY || 'latchkey';
const SANITIZED = ['1', 'ON', 'TRUE', 'true'].includes(process.env.LK_SANITIZE);

// Why the browser tests cannot run here, or null. With CI=true the caller
// fails instead of skipping (shared/DECISIONS.md).
function missing() {
  if (!fs.existsSync(CHROMIUM)) return `${CHROMIUM} not found (apt-get install chromium)`;
  try {
    require.resolve('playwright-core', { paths: [path.join(__dirname, '..', 'node')] });
  } catch {
    return 'playwright-core not installed (scripts/install-test-deps.sh)';
  }
  return null;
}

function playwright() {
  return require(require.resolve('playwright-core',
    { paths: [path.join(__dirname, '..', 'node')] }));
}

// The flags the machine needs: no sandbox as root, and no background
// connections (the network is closed; they would be refused at start).
// hosts maps names to loopback ports ({ 'app.example': 4431 }), so that a
// redirect to an app's https URL reaches a server of the test's.
async function launch(hosts = {}) {
  const rules = Object.entries(hosts).map(([h, port]) => `MAP ${h} 127.0.0.1:${port}`);
  return playwright().chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--disable-dev-shm-usage',
      ...(rules.length ? [`--host-resolver-rules=${rules.join(', ')}`] : [])],
  });
}

function tmpdir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'lk-browser-'));
}

// The admin CLI against db; throws with its stderr when it fails.
function cli(db, args, input) {
  const p = spawnSync(LATCHKEY, ['--db', db, ...args],
    { input, encoding: 'utf8', timeout: 120000 });
  if (p.status !== 0) {
    throw new Error(`latchkey ${args.join(' ')} failed (${p.status}): ${p.stderr}`);
  }
  return p.stdout;
}

// A self-signed certificate for 127.0.0.1 made with the openssl command;
// the key is 0600, as latchkeyd requires.
function selfSigned(dir, name = '127.0.0.1') {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  const san = /^[0-9.]+$/.test(name) ? `IP:${name}` : `DNS:${name}`;
  const p = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec',
    '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', `/CN=${name}`, '-addext', `subjectAltName=${san}`,
    '-keyout', key, '-out', cert], { encoding: 'utf8' });
  if (p.status !== 0) throw new Error(`openssl: ${p.stderr}`);
  fs.chmodSync(key, 0o600);
  return { cert, key };
}

// One latchkeyd on 127.0.0.1 port 0; resolves once its ready line is read.
function startServer(db, args, logPath) {
  return new Promise((resolve, reject) => {
    const log = fs.openSync(logPath, 'a');
    const proc = spawn(LATCHKEYD, ['--listen', '127.0.0.1:0', '--db', db, ...args],
      { stdio: ['ignore', 'pipe', log] });
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error('latchkeyd did not become ready:\n' + fs.readFileSync(logPath, 'utf8')));
    }, SANITIZED ? 30000 : 10000);
    proc.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      const ready = JSON.parse(out.slice(0, nl));
      resolve({
        proc, port: ready.port, issuer: ready.issuer, logPath,
        origin: new URL(ready.issuer).origin,
        log: () => fs.readFileSync(logPath, 'utf8'),
        stop: () => new Promise((res) => {
          if (proc.exitCode !== null) return res(proc.exitCode);
          proc.once('exit', (code, sig) => res(code ?? sig));
          proc.kill('SIGTERM');
        }),
      });
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`latchkeyd exited (${code}):\n` + fs.readFileSync(logPath, 'utf8')));
    });
  });
}

// A small web server on another loopback port that answers every request
// with html(req): another origin, as an attacker's page would be, or (with
// tls = { cert, key }) an app's https redirect URI.
function serveHtml(html, tls = null) {
  return new Promise((resolve) => {
    const handler = (req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(html(req));
    };
    const srv = tls
      ? https.createServer({ cert: fs.readFileSync(tls.cert), key: fs.readFileSync(tls.key) }, handler)
      : http.createServer(handler);
    srv.listen(0, '127.0.0.1', () => resolve({
      port: srv.address().port,
      url: `${tls ? 'https' : 'http'}://127.0.0.1:${srv.address().port}`,
      close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(r); }),
    }));
  });
}

function pkce() {
  const crypto = require('node:crypto');
  const verifier = crypto.randomBytes(48).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

module.exports = {
  missing, launch, playwright, tmpdir, cli, selfSigned, startServer,
  serveHtml, pkce, SANITIZED,
};
