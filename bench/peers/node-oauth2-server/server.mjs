// Peer server for `make bench`: @node-oauth/oauth2-server (the library
// behind express-oauth-server and koa-oauth-server) with an in-memory
// model, served by node's own http module (no framework).
//
// start.sh copies this file and package.json into WORKDIR, installs the
// pinned library there (so the import below resolves to
// WORKDIR/node_modules) and runs:
//
//   node server.mjs
//
// with these environment variables:
//   PEER_PORT            port to listen on (127.0.0.1)
//   PEER_WORKDIR         where to write refresh_tokens.txt and ready.json
//   PEER_POOL_SIZE       refresh tokens to mint at start-up (default 500)
//   PEER_CLIENT_ID, PEER_CLIENT_SECRET
//
// What it serves:
//   POST /token   client_credentials and refresh_token grants for one
//                 confidential client, HTTP Basic client authentication
//                 (the library also takes client_id/client_secret in the
//                 body), scope "read write" (or a part of it);
//   GET /health   200 {"status":"ok"}, touching nothing.
//
// The model keeps opaque tokens (the library's default: 32 random bytes in
// hex) in JavaScript Maps: no signature, nothing persisted, lost on
// restart. Every access token is stored (a Map entry) before the answer.
// Refresh tokens are rotated on every use (the library's default,
// alwaysIssueNewRefreshToken: true): the grant calls revokeToken, which
// deletes the token from the Map, and a token presented again is refused
// (invalid_grant). Entries are never evicted: memory grows with the tokens
// issued (a sweep of expired entries runs once a minute, but access tokens
// live 3600 s, longer than a benchmark).
//
// The refresh token pool is minted in-process at start-up for a fixed user
// through a grant type built on the library's AbstractGrantType (the same
// token generation, lifetimes and model.saveToken the authorization code
// grant would use); it is not reachable over HTTP.
//
// When ready it writes WORKDIR/ready.json: {"pids": [...], "refresh": true}.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';

import OAuth2Server from '@node-oauth/oauth2-server';

const { Request, Response, AbstractGrantType, OAuthError, ServerError } = OAuth2Server;

const env = process.env;
const PORT = Number(env.PEER_PORT);
const WORKDIR = env.PEER_WORKDIR;
const POOL = Number(env.PEER_POOL_SIZE ?? 500);
const CLIENT_ID = env.PEER_CLIENT_ID;
const CLIENT_SECRET = env.PEER_CLIENT_SECRET;
const SCOPES = ['read', 'write'];
const USER = { id: 'bench-user' };
const AT_TTL = 3600;
const RT_TTL = 14 * 24 * 3600;
const MAX_BODY = 16 * 1024;

if (!PORT || !WORKDIR || !CLIENT_ID || !CLIENT_SECRET) {
  console.error('server.mjs: PEER_PORT, PEER_WORKDIR, PEER_CLIENT_ID and PEER_CLIENT_SECRET are required');
  process.exit(2);
}

// ---- the model ---------------------------------------------------------------

const CLIENT = Object.freeze({
  id: CLIENT_ID,
  grants: ['client_credentials', 'refresh_token'],
  redirectUris: [],
  scope: SCOPES,
});
const sha256 = (s) => crypto.createHash('sha256').update(s, 'utf8').digest();
const SECRET_DIGEST = sha256(CLIENT_SECRET);

// Both Maps hold the same record object for a token pair.
const accessTokens = new Map();
const refreshTokens = new Map();

const model = {
  async getClient(clientId, clientSecret) {
    if (clientId !== CLIENT_ID) return null;
    // The library asks without a secret only for grants that do not need
    // client authentication (none here); refuse rather than trust it.
    if (typeof clientSecret !== 'string') return null;
    // Constant time in the secret: compare fixed-length digests.
    return crypto.timingSafeEqual(sha256(clientSecret), SECRET_DIGEST) ? CLIENT : null;
  },

  // client_credentials: the client acts for itself.
  async getUserFromClient(client) {
    return { id: `client:${client.id}` };
  },

  // Requested scope (an array, or undefined when none was sent) against
  // the client's: a subset is granted as asked, none means all of it.
  async validateScope(_user, client, scope) {
    if (!scope || scope.length === 0) return client.scope.slice();
    return scope.every((s) => client.scope.includes(s)) ? scope : false;
  },

  async saveToken(token, client, user) {
    const rec = {
      accessToken: token.accessToken,
      accessTokenExpiresAt: token.accessTokenExpiresAt,
      refreshToken: token.refreshToken,
      refreshTokenExpiresAt: token.refreshTokenExpiresAt,
      scope: token.scope,
      client,
      user,
    };
    accessTokens.set(rec.accessToken, rec);
    if (rec.refreshToken) refreshTokens.set(rec.refreshToken, rec);
    return rec;
  },

  async getAccessToken(accessToken) {
    return accessTokens.get(accessToken) ?? null;
  },

  async getRefreshToken(refreshToken) {
    return refreshTokens.get(refreshToken) ?? null;
  },

  // Rotation: the refresh grant revokes the presented token before it
  // saves the new pair. Map operations are synchronous, so of two requests
  // racing with one token exactly one gets true.
  async revokeToken(token) {
    return refreshTokens.delete(token.refreshToken);
  },
};

function sweep() {
  const now = Date.now();
  for (const [k, r] of accessTokens) if (r.accessTokenExpiresAt < now) accessTokens.delete(k);
  for (const [k, r] of refreshTokens) if (r.refreshTokenExpiresAt < now) refreshTokens.delete(k);
}
setInterval(sweep, 60_000).unref();

const oauth = new OAuth2Server({
  model,
  accessTokenLifetime: AT_TTL,
  refreshTokenLifetime: RT_TTL,
  alwaysIssueNewRefreshToken: true,
  allowExtendedTokenAttributes: false,
});

// ---- the refresh token pool -------------------------------------------------

// What the authorization code grant leaves behind, for USER: an access
// token and a refresh token made by the library, saved through the model.
class PoolGrantType extends AbstractGrantType {
  async handle(client, user, scope) {
    return this.model.saveToken({
      accessToken: await this.generateAccessToken(client, user, scope),
      accessTokenExpiresAt: this.getAccessTokenExpiresAt(),
      refreshToken: await this.generateRefreshToken(client, user, scope),
      refreshTokenExpiresAt: this.getRefreshTokenExpiresAt(),
      scope,
    }, client, user);
  }
}

async function mintPool(n) {
  const grant = new PoolGrantType({
    model,
    accessTokenLifetime: AT_TTL,
    refreshTokenLifetime: RT_TTL,
    alwaysIssueNewRefreshToken: true,
  });
  const out = [];
  for (let i = 0; i < n; i += 1) {
    const t = await grant.handle(CLIENT, USER, SCOPES.slice());
    out.push(t.refreshToken);
  }
  const file = path.join(WORKDIR, 'refresh_tokens.txt');
  fs.writeFileSync(`${file}.tmp`, out.length ? `${out.join('\n')}\n` : '');
  fs.renameSync(`${file}.tmp`, file);
}

// ---- HTTP -------------------------------------------------------------------

function send(res, status, headers, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function oauthError(err) {
  const e = err instanceof OAuthError ? err : new ServerError(err);
  if (!(err instanceof OAuthError)) console.error('server.mjs:', err);
  return { status: e.code || 500, body: { error: e.name, error_description: e.message } };
}

async function token(req, res, raw) {
  const url = new URL(req.url, 'http://localhost');
  const request = new Request({
    method: req.method,
    headers: req.headers,
    query: Object.fromEntries(url.searchParams),
    body: Object.fromEntries(new URLSearchParams(raw)),
  });
  const response = new Response();
  try {
    await oauth.token(request, response);
    send(res, response.status, response.headers, response.body);
  } catch (err) {
    // Errors inside the token handler have already set response.headers
    // (WWW-Authenticate on 401); errors before it (method, content type)
    // have not.
    const { status, body } = oauthError(err);
    send(res, status, { ...response.headers, 'cache-control': 'no-store' }, body);
  }
}

function handle(req, res) {
  const p = req.url.split('?', 1)[0];
  if (p === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
    send(res, 200, {}, { status: 'ok' });
    return;
  }
  if (p !== '/token') {
    req.resume();
    send(res, 404, {}, { error: 'not_found' });
    return;
  }
  if (req.method !== 'POST') {
    req.resume();
    send(res, 405, { allow: 'POST' }, { error: 'invalid_request', error_description: 'method must be POST' });
    return;
  }
  const chunks = [];
  let size = 0;
  let over = false;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) over = true;
    else chunks.push(c);
  });
  req.on('end', () => {
    if (over) {
      send(res, 413, { connection: 'close' }, { error: 'invalid_request', error_description: 'body too large' });
      return;
    }
    token(req, res, Buffer.concat(chunks).toString('utf8')).catch((err) => {
      console.error('server.mjs:', err);
      if (!res.headersSent) send(res, 500, {}, { error: 'server_error' });
    });
  });
  req.on('error', () => res.destroy());
}

function writeReady(obj) {
  const tmp = path.join(WORKDIR, 'ready.json.tmp');
  fs.writeFileSync(tmp, JSON.stringify(obj));
  fs.renameSync(tmp, path.join(WORKDIR, 'ready.json'));
}

try {
  await mintPool(POOL);
  const server = http.createServer(handle);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(PORT, '127.0.0.1', resolve);
  });
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
      server.close();
      server.closeAllConnections();
      process.exit(0);
    });
  }
  writeReady({ pids: [process.pid], refresh: true });
} catch (err) {
  console.error('server.mjs:', err);
  process.exit(1);
}
