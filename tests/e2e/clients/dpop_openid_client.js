// dpop_openid_client.js: node openid-client 5.x binding tokens to a key
// with DPoP (RFC 9449), as a service using it would: Issuer.discover,
// client.grant (client_credentials) with a DPoP proof, then
// client.requestResource on /resource with the DPoP scheme and a proof
// naming the token. Prints one JSON object: the token type, the key's
// thumbprint (jose's calculateJwkThumbprint), what /resource answered,
// and what a plain Bearer call with the same token got.
//
//   ISSUER=http://127.0.0.1:8080 CLIENT_ID=svc CLIENT_SECRET=... \
//   node dpop_openid_client.js
'use strict';
const crypto = require('node:crypto');
const { Issuer } = require('openid-client');
const jose = require('jose');

async function main(env) {
  const issuer = await Issuer.discover(env.ISSUER);
  const client = new issuer.Client({
    client_id: env.CLIENT_ID, client_secret: env.CLIENT_SECRET,
  });
  const { privateKey, publicKey } = crypto.generateKeyPairSync(
    'ec', { namedCurve: 'P-256' });
  const jkt = await jose.calculateJwkThumbprint(
    publicKey.export({ format: 'jwk' }), 'sha256');
  const tokens = await client.grant({ grant_type: 'client_credentials' },
    { DPoP: privateKey });
  const url = env.ISSUER + '/resource';
  const res = await client.requestResource(url, tokens, { DPoP: privateKey });
  const bearer = await client.requestResource(url, tokens.access_token,
    { tokenType: 'Bearer' });
  return {
    token_type: tokens.token_type, jkt,
    resource_status: res.statusCode,
    resource: JSON.parse(res.body.toString()),
    bearer_status: bearer.statusCode,
    bearer_challenge: bearer.headers['www-authenticate'],
  };
}

main(process.env).then(
  (out) => process.stdout.write(JSON.stringify(out) + '\n'),
  (e) => { console.error(e); process.exit(1); });
