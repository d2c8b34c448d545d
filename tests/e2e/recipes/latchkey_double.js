// latchkey_double.js: starts latchkeyd as a test double from node:test
// or jest, and stops it: a private database, fixed clients and users from
// a fixtures file, port 0, the /_control/ endpoints on. The server is
// tied to this process (--exit-on-stdin-close, --exit-with-parent): it
// stops by itself if the test runner dies, even by SIGKILL.
//
//   const { start } = require('./latchkey_double');
//   const lk = await start({ fixtures: 'fixtures.json' });
//   await fetch(lk.issuer + '/token', ...);
//   await lk.post('clock', { advance: 3600 });
//   (await lk.requests({ endpoint: 'token' })).length;
//   await lk.stop();
//
// jest: globalSetup and globalTeardown below start one server for the
// run and hand its issuer to the tests as process.env.LATCHKEY_ISSUER.
// LATCHKEYD names the binary (default: latchkeyd on PATH).
'use strict';
const { spawn } = require('node:child_process');

function controls(issuer) {
  const url = (name, query) => `${issuer}/_control/${name}` +
    (query && Object.keys(query).length ? '?' + new URLSearchParams(query) : '');
  const json = async (r) => {
    if (!r.ok) throw new Error(`${r.url}: ${r.status} ${await r.text()}`);
    return r.json();
  };
  return {
    issuer,
    get: async (name, query) => json(await fetch(url(name, query))),
    post: async (name, form = {}) => json(await fetch(url(name), {
      method: 'POST', body: new URLSearchParams(form) })),
    // Adds or replaces a client or user ('clients', 'users') with the
    // keys of a fixtures entry.
    put: async (kind, entry) => json(await fetch(url(kind), {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(entry) })),
    // The journal: what the server received ({ endpoint, client_id }).
    requests: async (query) => (await json(await fetch(url('requests', query)))).requests,
    reset: async () => json(await fetch(url('reset'), { method: 'POST' })),
  };
}

function start({ fixtures, flags = [], timeoutMs = 10000 } = {}) {
  const args = ['--ephemeral', '--test-double', '--exit-on-stdin-close',
    '--exit-with-parent', '--listen', '127.0.0.1:0', ...flags];
  if (fixtures) args.push('--fixtures', fixtures);
  // stdin stays a pipe we hold: it closes when this process ends.
  const proc = spawn(process.env.LATCHKEYD || 'latchkeyd', args,
    { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error('latchkeyd did not become ready'));
    }, timeoutMs);
    const failed = (code) => {
      clearTimeout(timer);
      reject(new Error(`latchkeyd exited (${code}) before it was ready`));
    };
    proc.once('exit', failed);
    proc.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      proc.off('exit', failed);
      proc.stdout.removeAllListeners('data');
      const ready = JSON.parse(out.slice(0, nl));
      const tenants = {};
      for (const t of ready.tenants || []) tenants[t.name] = controls(t.issuer);
      resolve({
        ...controls(ready.issuer), port: ready.port, db: ready.db, tenants,
        pid: ready.pid,
        // SIGTERM: it removes its database and exits 0.
        stop: () => new Promise((res) => {
          if (proc.exitCode !== null) return res(proc.exitCode);
          proc.once('exit', (code, sig) => res(code ?? sig));
          proc.kill('SIGTERM');
        }),
      });
    });
  });
}

// jest's globalSetup / globalTeardown (jest.config.js:
//   globalSetup: './latchkey_double.js', globalTeardown: './teardown.js'
// where teardown.js is: module.exports = require('./latchkey_double').globalTeardown;)
async function globalSetup() {
  const lk = await start({ fixtures: process.env.LATCHKEY_FIXTURES });
  process.env.LATCHKEY_ISSUER = lk.issuer;
  globalThis.__LATCHKEY__ = lk;
}

async function globalTeardown() {
  if (globalThis.__LATCHKEY__) await globalThis.__LATCHKEY__.stop();
}

module.exports = globalSetup;
Object.assign(module.exports, { start, globalSetup, globalTeardown });
