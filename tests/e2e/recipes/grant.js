// grant.js: a common axios request interceptor, which gets a
// client credentials token with node openid-client's client.grant() (the
// openid-client 5.x API: Issuer, Client, TokenSet) and renews it when it has
// less than 10 seconds left.
//
// authenticator() returns the interceptor unchanged: pass it to
// axios.interceptors.request.use(). Run this file to call API_URL twice with
// one token; it uses fetch(), so openid-client is its only dependency.
'use strict';
const { Issuer } = require('openid-client');

const authenticator = (client_id, client_secret, token_endpoint) => {
  let tokenSet = null;
  const issuer = new Issuer({
    issuer: '',
    token_endpoint,
  });
  const client = new issuer.Client({
    client_id,
    client_secret,
  });
  return async (config) => {
    if (tokenSet == null || (tokenSet.expires_in ?? 0) < 10) {
      tokenSet = await client.grant({
        grant_type: 'client_credentials',
      });
    }
    config.headers.Authorization = `Bearer ${tokenSet.access_token}`;
    return config;
  };
};

module.exports = { authenticator };

if (require.main === module) {
  const env = process.env;
  const authenticate = authenticator(
    env.CLIENT_ID || 'svc',
    env.CLIENT_SECRET || 'svc-secret',
    env.TOKEN_ENDPOINT ||
      'http://127.0.0.1:8080/users-auth/protocol/openid-connect/token',
  );
  (async () => {
    for (let i = 0; i < 2; i++) {
      const config = await authenticate({ headers: {} });
      const r = await fetch(env.API_URL || 'http://127.0.0.1:8080/resource',
        { headers: config.headers });
      console.log(JSON.stringify({ status: r.status, body: await r.json() }));
    }
  })().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
