#!/usr/bin/env bash
# oidc_curl.sh: the OpenID Connect code flow with curl and jq: discovery,
# /authorize with a nonce and PKCE (S256), /token, the ID token's claims,
# /userinfo. It needs a client whose auto_approve_as names a user (the test
# double, docs/test-double.md): /authorize then answers with the redirect
# at once, without a login page. It prints the ID token's claims and the
# userinfo answer, one JSON line each.
#
#   ISSUER=http://127.0.0.1:8080 CLIENT_ID=web \
#   REDIRECT_URI=http://127.0.0.1:3000/callback bash oidc_curl.sh
#
# It decodes the ID token without checking its signature, which is fine
# for looking at it; an application validates it with a library (the
# openid-client and authlib recipes).
set -euo pipefail
ISSUER=${ISSUER:-http://127.0.0.1:8080}
CLIENT_ID=${CLIENT_ID:-web}
REDIRECT_URI=${REDIRECT_URI:-http://127.0.0.1:3000/callback}

# 1. Discovery: every endpoint comes from the provider's document.
config=$(curl -s --fail "$ISSUER/.well-known/openid-configuration")
endpoint() { jq -r --arg k "$1" '.[$k]' <<<"$config"; }

# 2. /authorize: with auto_approve_as the answer is the redirect.
verifier=$(openssl rand -base64 48 | tr -d '=+/\n' | cut -c1-64)
challenge=$(printf %s "$verifier" | openssl dgst -sha256 -binary |
  basenc --base64url | tr -d =)
nonce=$(openssl rand -hex 16)
location=$(curl -s --fail -o /dev/null -w '%{redirect_url}' -G \
  --data-urlencode response_type=code --data-urlencode "client_id=$CLIENT_ID" \
  --data-urlencode "redirect_uri=$REDIRECT_URI" \
  --data-urlencode "scope=openid email profile" --data-urlencode state=xyz \
  --data-urlencode "nonce=$nonce" --data-urlencode "code_challenge=$challenge" \
  --data-urlencode code_challenge_method=S256 "$(endpoint authorization_endpoint)")
code=$(sed -E 's/.*[?&]code=([^&]*).*/\1/' <<<"$location")

# 3. /token: a public client sends its client_id and the PKCE verifier.
tokens=$(curl -s --fail -d grant_type=authorization_code \
  --data-urlencode "client_id=$CLIENT_ID" --data-urlencode "code=$code" \
  --data-urlencode "redirect_uri=$REDIRECT_URI" \
  --data-urlencode "code_verifier=$verifier" "$(endpoint token_endpoint)")

# 4. The ID token's claims (base64url JSON between the two dots).
jq -c --arg nonce "$nonce" '.id_token | split(".")[1] | gsub("-"; "+") |
  gsub("_"; "/") | @base64d | fromjson | {id_token: ., nonce: $nonce}' \
  <<<"$tokens"

# 5. /userinfo with the access token.
access_token=$(jq -r .access_token <<<"$tokens")
curl -s --fail -H "Authorization: Bearer $access_token" \
  "$(endpoint userinfo_endpoint)" | jq -c '{userinfo: .}'
