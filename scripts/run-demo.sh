#!/usr/bin/env bash
# `make run`: migrates the database, makes sure a demo client exists, starts
# latchkeyd in the foreground and, once it is ready, prints a curl command
# that gets a token. Ctrl-C stops the server cleanly.
set -euo pipefail
build=${1:-build}
db=${2:-./latchkey.db}
listen=${3:-127.0.0.1:8080}
secret_file=${db%.db}-demo.secret   # git-ignored, mode 0600

latchkey() { "$build/latchkey" --db "$db" "$@"; }

latchkey migrate >/dev/null
if ! latchkey client show demo >/dev/null 2>&1; then
  out=$(latchkey client add "Demo client" --id demo --scope read --scope write --json)
  echo "registered client 'demo'"
elif [ ! -s "$secret_file" ]; then
  # The secret is stored only as a hash, so a lost one is replaced.
  out=$(latchkey client rotate-secret demo --json)
  echo "client 'demo' exists; its secret was rotated"
else
  out=""
fi
if [ -n "$out" ]; then
  (umask 077; printf '%s\n' "$out" | sed -n 's/.*"client_secret": *"\([^"]*\)".*/\1/p' >"$secret_file")
fi
secret=$(cat "$secret_file")

ready=$(mktemp)
trap 'rm -f "$ready"' EXIT
"$build/latchkeyd" --db "$db" --listen "$listen" >"$ready" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid; rm -f "$ready"' INT TERM
for _ in $(seq 100); do
  [ -s "$ready" ] && break
  kill -0 $pid 2>/dev/null || { wait $pid; exit 1; }
  sleep 0.05
done
issuer=$(sed -n 's/.*"issuer":"\([^"]*\)".*/\1/p' "$ready")

cat <<MSG

latchkeyd is serving $issuer (database $db). Get a token with:

  curl -s -u 'demo:$secret' -d grant_type=client_credentials $issuer/token

Public keys: $issuer/jwks.json   Metadata: $issuer/.well-known/oauth-authorization-server
Press Ctrl-C to stop.

MSG
wait $pid
