// resource_discovery.mjs: a client that knows only a protected resource's
// URL, as RFC 9728 has it, driven by oauth4webapi 3.x against the real
// latchkeyd, for tests/e2e/test_resource_metadata.py. It calls the
// resource with a token it does not know to be bad and reads
// resource_metadata from the challenge (section 5.1), fetches the
// metadata from the well-known URL oauth4webapi derives from the resource
// (resourceDiscoveryRequest, section 3.1) and checks its resource
// (processResourceDiscoveryResponse, section 3.3), discovers the first
// of its authorization_servers, gets a DPoP-bound token there with
// client_credentials, and calls the resource with it.
//
//   RESOURCE=http://127.0.0.1:8080/resource CLIENT_ID=svc \
//   CLIENT_SECRET=... node resource_discovery.mjs
//
// Prints one JSON object with what each step found; exits 1 with the
// error on stderr when a step throws.
import * as oauth from "oauth4webapi";

// latchkeyd's tests run on loopback http.
const insecure = { [oauth.allowInsecureRequests]: true };

async function challenge(resource) {
  try {
    await oauth.protectedResourceRequest("not-a-token", "GET", resource,
      undefined, undefined, insecure);
  } catch (e) {
    if (e instanceof oauth.WWWAuthenticateChallengeError)
      return { status: e.status, challenges: e.cause };
    throw e;
  }
  throw new Error("the resource took a made-up token");
}

async function main(env) {
  const resource = new URL(env.RESOURCE);
  const refused = await challenge(resource);
  const discovery = await oauth.resourceDiscoveryRequest(resource, insecure);
  const metadataUrl = discovery.url;
  const rs = await oauth.processResourceDiscoveryResponse(resource,
    discovery);
  const issuer = new URL(rs.authorization_servers[0]);
  const as = await oauth.processDiscoveryResponse(issuer,
    await oauth.discoveryRequest(issuer, insecure));
  const client = { client_id: env.CLIENT_ID };
  const alg = rs.dpop_signing_alg_values_supported.includes("ES256")
    ? "ES256" : rs.dpop_signing_alg_values_supported[0];
  const dpop = oauth.DPoP(client, await oauth.generateKeyPair(alg));
  const tokens = await oauth.processClientCredentialsResponse(as, client,
    await oauth.clientCredentialsGrantRequest(as, client,
      oauth.ClientSecretBasic(env.CLIENT_SECRET), {},
      { ...insecure, DPoP: dpop }));
  const answer = await oauth.protectedResourceRequest(tokens.access_token,
    "GET", new URL(rs.resource), undefined, undefined,
    { ...insecure, DPoP: dpop });
  return {
    refused, metadata_url: metadataUrl, metadata: rs, alg,
    token_type: tokens.token_type,
    resource_status: answer.status, resource: await answer.json(),
  };
}

main(process.env).then(
  (out) => console.log(JSON.stringify(out)),
  (e) => {
    console.error(e && e.stack ? e.stack : String(e));
    if (e && e.cause) console.error(JSON.stringify(e.cause));
    process.exit(1);
  });
