// openid_client.js: node openid-client 5.x with Latchkey as the OpenID
// Provider: Issuer.discover, the authorization code flow with a nonce and
// PKCE (S256), client.callback (which validates the ID token: its RS256
// signature against the JWKS, iss, aud, exp, nonce and at_hash),
// client.userinfo, client.refresh (a new ID token, same sub) and
// RP-initiated logout with client.endSessionUrl.
//
// Run it against the test double with a client whose auto_approve_as names
// a user (docs/test-double.md): /authorize then answers with the redirect
// at once, so no browser is needed. It prints one JSON line per step.
//
//   ISSUER=http://127.0.0.1:8080 CLIENT_ID=web \
//   REDIRECT_URI=http://127.0.0.1:3000/callback \
//   POST_LOGOUT_REDIRECT_URI=http://127.0.0.1:3000/ node openid_client.js
//
// CLIENT_SECRET is for a confidential client; without it the client is
// public (token_endpoint_auth_method "none", PKCE only).
'use strict';
const { Issuer, generators } = require('openid-client');

// What the user's browser does with a URL of the provider: GET it and
// stop at the redirect. A test that signs in through the login page
// passes a function of its own that fills in the forms.
const browse = (url) => fetch(url, { redirect: 'manual' });

async function discover(env) {
  const issuer = await Issuer.discover(env.ISSUER);
  const client = new issuer.Client({
    client_id: env.CLIENT_ID,
    ...(env.CLIENT_SECRET ? { client_secret: env.CLIENT_SECRET }
      : { token_endpoint_auth_method: 'none' }),
    redirect_uris: [env.REDIRECT_URI],
    post_logout_redirect_uris: [env.POST_LOGOUT_REDIRECT_URI],
    response_types: ['code'],
  });
  return { issuer, client };
}

// The code flow: the TokenSet with the validated ID token.
async function signIn(client, redirectUri, scope, browser = browse, extra = {}) {
  const nonce = generators.nonce();
  const state = generators.state();
  const codeVerifier = generators.codeVerifier();
  const url = client.authorizationUrl({
    scope, nonce, state, ...extra,
    code_challenge: generators.codeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  });
  const r = await browser(url);
  const location = r.headers.get('location');
  if (!location) throw new Error(`/authorize answered ${r.status}, not a redirect`);
  const tokenSet = await client.callback(redirectUri, client.callbackParams(location),
    { nonce, state, code_verifier: codeVerifier });
  if (!tokenSet.id_token) throw new Error('the token response has no id_token');
  return tokenSet;
}

async function main(env = process.env, browser = browse) {
  const out = (step, value) => console.log(JSON.stringify({ step, ...value }));
  const { issuer, client } = await discover(env);
  out('discover', { metadata: issuer.metadata });

  const tokenSet = await signIn(client, env.REDIRECT_URI, 'openid email profile', browser);
  const header = JSON.parse(Buffer.from(tokenSet.id_token.split('.')[0], 'base64url'));
  out('callback', { header, claims: tokenSet.claims(), scope: tokenSet.scope,
    access_token: tokenSet.access_token });

  out('userinfo', { userinfo: await client.userinfo(tokenSet) });

  // refresh() checks that the new ID token has the same sub.
  const refreshed = await client.refresh(tokenSet);
  out('refresh', { claims: refreshed.claims(), new_id_token: refreshed.id_token !== tokenSet.id_token,
    new_access_token: refreshed.access_token !== tokenSet.access_token });

  const logout = client.endSessionUrl({ id_token_hint: refreshed, state: 'bye' });
  const r = await browser(logout);
  out('logout', { url: logout, status: r.status, location: r.headers.get('location') });
  return { issuer, client, tokenSet, refreshed };
}

module.exports = { discover, signIn, main, browse };

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
