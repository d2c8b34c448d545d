// Peer server for `make bench`: node oidc-provider configured as a plain
// OAuth 2.0 token service comparable to latchkeyd.
//
// start.sh copies this file and package.json into WORKDIR, installs the
// pinned oidc-provider there (so the import below resolves to
// WORKDIR/node_modules) and runs:
//
//   node server.mjs
//
// with these environment variables:
//   PEER_PORT            port to listen on (127.0.0.1)
//   PEER_WORKDIR         where to write refresh_tokens.txt and ready.json
//   PEER_POOL_SIZE       refresh tokens to mint at start-up (default 500)
//   PEER_CLIENT_ID, PEER_CLIENT_SECRET
//   PEER_WORKERS         1 (default): one process. 2 or more: node cluster,
//                        client_credentials only (see below).
//   PEER_STORE_SIZE      capacity of the in-memory store, in entries
//
// What it sets up:
//   - client_credentials and refresh_token grants for one confidential
//     client (client_secret_basic), scope "read write";
//   - access tokens as JWTs signed ES256 with a P-256 key generated at start
//     (through a default resource server, features.resourceIndicators);
//   - refresh tokens rotated on every use (rotateRefreshToken: true); a
//     rotated token presented again is refused and its grant revoked;
//   - oidc-provider's own in-memory adapter (lib/adapters/memory_adapter.js)
//     on a store of PEER_STORE_SIZE entries instead of its default 1000:
//     with 1000 the start-up pool would be evicted under load. Nothing is
//     persisted; JWT access tokens are not stored at all, refresh tokens
//     and grants are (in memory).
//
// Cluster mode (PEER_WORKERS >= 2): the primary generates the signing key
// and passes it to the workers, so any worker's JWT verifies against the
// same JWKS. The in-memory store is per process, so a refresh token minted
// in one worker is unknown to the others: refresh is not offered in that
// mode (a shared adapter such as Redis would be needed).
//
// When ready it writes WORKDIR/ready.json: {"pids": [...], "refresh": bool}.

import cluster from 'node:cluster';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import Provider from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';

const env = process.env;
const PORT = Number(env.PEER_PORT);
const WORKDIR = env.PEER_WORKDIR;
const POOL = Number(env.PEER_POOL_SIZE ?? 500);
const WORKERS = Math.max(1, Number(env.PEER_WORKERS ?? 1));
const STORE_SIZE = Number(env.PEER_STORE_SIZE ?? 1_000_000);
const CLIENT_ID = env.PEER_CLIENT_ID;
const CLIENT_SECRET = env.PEER_CLIENT_SECRET;
const SCOPE = 'read write';
const ACCOUNT = 'bench-user';
const ISSUER = `http://127.0.0.1:${PORT}`;
const RESOURCE = `${ISSUER}/api`;
const AT_TTL = 3600;

if (!PORT || !WORKDIR || !CLIENT_ID || !CLIENT_SECRET) {
  console.error('server.mjs: PEER_PORT, PEER_WORKDIR, PEER_CLIENT_ID and PEER_CLIENT_SECRET are required');
  process.exit(2);
}

function writeReady(obj) {
  const tmp = path.join(WORKDIR, 'ready.json.tmp');
  fs.writeFileSync(tmp, JSON.stringify(obj));
  fs.renameSync(tmp, path.join(WORKDIR, 'ready.json'));
}

function signingJwk() {
  if (env.PEER_SIGNING_JWK) return JSON.parse(env.PEER_SIGNING_JWK);
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  jwk.kid = crypto.randomBytes(8).toString('hex');
  jwk.alg = 'ES256';
  jwk.use = 'sig';
  return jwk;
}

function makeProvider(jwk) {
  const store = new LRU({ maxSize: STORE_SIZE });
  const ttl = {
    AccessToken: AT_TTL,
    ClientCredentials: AT_TTL,
    RefreshToken: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
    AuthorizationCode: 60,
    IdToken: 3600,
    Interaction: 3600,
    Session: 14 * 24 * 3600,
  };
  const resourceServer = {
    scope: SCOPE,
    audience: RESOURCE,
    accessTokenTTL: AT_TTL,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'ES256' } },
  };
  return new Provider(ISSUER, {
    adapter: (name) => new MemoryAdapter(name, store),
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials', 'refresh_token', 'authorization_code'],
      response_types: [],
      redirect_uris: [],
      scope: SCOPE,
    }],
    // The only key is the P-256 one: ID tokens (none are issued here)
    // default to ES256 as well.
    clientDefaults: {
      grant_types: ['authorization_code'],
      id_token_signed_response_alg: 'ES256',
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    scopes: ['openid', 'offline_access', 'read', 'write'],
    jwks: { keys: [jwk] },
    ttl,
    rotateRefreshToken: true,
    // No CORS for any origin: the benchmark sends no Origin header.
    clientBasedCORS: () => false,
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub }),
    }),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: false },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => RESOURCE,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator) => {
          if (indicator !== RESOURCE) throw new Provider.errors.InvalidTarget();
          return resourceServer;
        },
      },
    },
  });
}

// Mints n refresh tokens the way the authorization code flow would leave
// them: one Grant per token (so reuse detection revoking a grant touches
// only that token), scope "read write" on the default resource.
async function mintPool(provider, n) {
  const client = await provider.Client.find(CLIENT_ID);
  const out = [];
  for (let i = 0; i < n; i += 1) {
    const grant = new provider.Grant({ accountId: ACCOUNT, clientId: CLIENT_ID });
    grant.addOIDCScope('offline_access');
    grant.addResourceScope(RESOURCE, SCOPE);
    const grantId = await grant.save();
    const rt = new provider.RefreshToken({
      accountId: ACCOUNT,
      client,
      grantId,
      gty: 'authorization_code',
      scope: `offline_access ${SCOPE}`,
      resource: RESOURCE,
      authTime: Math.floor(Date.now() / 1000),
    });
    out.push(await rt.save());
  }
  const file = path.join(WORKDIR, 'refresh_tokens.txt');
  fs.writeFileSync(`${file}.tmp`, out.length ? `${out.join('\n')}\n` : '');
  fs.renameSync(`${file}.tmp`, file);
}

function listen(provider) {
  return new Promise((resolve, reject) => {
    const server = provider.listen(PORT, '127.0.0.1', () => resolve(server));
    server.once('error', reject);
  });
}

async function single() {
  const provider = makeProvider(signingJwk());
  await mintPool(provider, POOL);
  await listen(provider);
  writeReady({ pids: [process.pid], refresh: true });
}

function primary() {
  const jwk = JSON.stringify(signingJwk());
  const pids = [process.pid];
  let listening = 0;
  let stopping = false;
  for (let i = 0; i < WORKERS; i += 1) {
    const w = cluster.fork({ PEER_SIGNING_JWK: jwk, PEER_POOL_SIZE: '0' });
    w.on('listening', () => {
      pids.push(w.process.pid);
      listening += 1;
      if (listening === WORKERS) writeReady({ pids, refresh: false });
    });
  }
  cluster.on('exit', (w, code, signal) => {
    if (!stopping) {
      console.error(`worker ${w.process.pid} exited (${signal || code}); stopping`);
      stopping = true;
      for (const other of Object.values(cluster.workers)) other.process.kill('SIGTERM');
      process.exitCode = 1;
    }
  });
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
      stopping = true;
      for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
      setTimeout(() => process.exit(0), 200).unref();
    });
  }
  fs.writeFileSync(path.join(WORKDIR, 'refresh_tokens.txt'), '');
}

async function worker() {
  const provider = makeProvider(signingJwk());
  await listen(provider);
}

try {
  if (WORKERS === 1) await single();
  else if (cluster.isPrimary) primary();
  else await worker();
} catch (err) {
  console.error('server.mjs:', err);
  process.exit(1);
}
