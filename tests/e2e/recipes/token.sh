#!/usr/bin/env bash
# token.sh: a bash token() function often seen in scripts (curl + jq),
# with two fixes. The usual version compares with [[ a < 30 ]], which compares strings
# ("5" < "30" is false), and kept its cache in variables that $(token) sets
# in a subshell and so loses: every call fetched a new token. Here the
# comparison is arithmetic and the cache is a file only this user can read.
#
# Source it for token(), or run it to call API_URL twice with one token.

client_id="${CLIENT_ID:-svc}"
client_secret="${CLIENT_SECRET:-svc-secret}"
token_endpoint="${TOKEN_ENDPOINT:-http://127.0.0.1:8080/users-auth/protocol/openid-connect/token}"
_token_cache="${TOKEN_CACHE:-$(mktemp)}"

# Unix seconds; a test may redefine it to follow the server's clock.
now() { date '+%s'; }

# Prints an access token: the cached one while it has 30 seconds or more
# left, otherwise a new one from the token endpoint.
token() {
  local expires_at=0 access_token=""
  if [[ -s "$_token_cache" ]]; then
    { read -r expires_at && read -r access_token; } <"$_token_cache"
  fi
  if (( expires_at - $(now) < 30 )); then
    local json_response expires_in
    json_response=$(curl -s --show-error --fail \
      --data-urlencode "client_id=$client_id" \
      --data-urlencode "client_secret=$client_secret" \
      -d grant_type=client_credentials \
      "$token_endpoint") || return 1
    expires_in=$(jq -r '.expires_in' <<<"$json_response")
    access_token=$(jq -r '.access_token' <<<"$json_response")
    expires_at=$(( $(now) + expires_in ))
    (umask 077 && printf '%s\n%s\n' "$expires_at" "$access_token" \
      >"$_token_cache")
  fi
  echo "$access_token"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -eu -o pipefail
  [[ -n "${TOKEN_CACHE:-}" ]] || trap 'rm -f "$_token_cache"' EXIT
  for _ in 1 2; do
    curl \
      -H "Authorization: Bearer $(token)" \
      -H "Accept: application/json" \
      -s --show-error --fail \
      "${API_URL:-http://127.0.0.1:8080/resource}" | jq -c .
  done
fi
