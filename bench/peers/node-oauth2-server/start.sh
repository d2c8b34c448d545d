#!/bin/sh
# Starts the node-oauth2-server peer (@node-oauth/oauth2-server with an
# in-memory model on node:http) for `make bench`.
#
#   bench/peers/node-oauth2-server/start.sh PORT WORKDIR [REFRESH_POOL_SIZE]
#
# Installs the @node-oauth/oauth2-server version pinned in
# package.json/package-lock.json into WORKDIR/node_modules (from the npm
# registry; skipped when WORKDIR already has it), starts server.mjs on
# 127.0.0.1:PORT in the background (output to WORKDIR/server.log), waits
# until it answers, and writes WORKDIR/refresh_tokens.txt (REFRESH_POOL_SIZE
# tokens, default 500, minted in-process at start-up) and WORKDIR/peer.json.
#
# One node process (single-threaded). Quiet on success; on failure prints
# why on stderr, exits non-zero and leaves no process behind.
set -eu

# shellcheck disable=SC2034  # PEER is read by common.sh
PEER=node-oauth2-server
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/../common.sh
. "$HERE/../common.sh"

start_args "$@"

need_node 16 "@node-oauth/oauth2-server 5"

mkdir -p "$WORKDIR"
WORKDIR=$(cd "$WORKDIR" && pwd)
LOG=$WORKDIR/server.log
PKG=@node-oauth/oauth2-server

refuse_running "$WORKDIR" server.mjs "$PORT"

# --- install (idempotent) -------------------------------------------------
npm_install "$WORKDIR" "$PKG"

# --- start ----------------------------------------------------------------
CLIENT_ID=bench-client
CLIENT_SECRET=$(node -p 'require("crypto").randomBytes(24).toString("base64url")')
rm -f "$WORKDIR/ready.json" "$WORKDIR/refresh_tokens.txt" "$WORKDIR/peer.json"

cd "$WORKDIR"
env -u DEBUG -u NODE_OPTIONS NODE_ENV=production \
  PEER_PORT="$PORT" PEER_WORKDIR="$WORKDIR" PEER_POOL_SIZE="$POOL" \
  PEER_CLIENT_ID="$CLIENT_ID" PEER_CLIENT_SECRET="$CLIENT_SECRET" \
  nohup node server.mjs </dev/null >"$LOG" 2>&1 &
PID=$!
started "$PID"

await_ready "$PID" "http://127.0.0.1:$PORT/health" "$WORKDIR/ready.json" ||
  case $? in
    1) fail "server exited during start-up" ;;
    *) fail "not ready after 60 s" ;;
  esac

GOT=$(wc -l <"$WORKDIR/refresh_tokens.txt" | tr -d ' ')
[ "$GOT" = "$POOL" ] || fail "minted $GOT refresh tokens, wanted $POOL"

# --- peer.json ------------------------------------------------------------
# shellcheck disable=SC2016  # the single-quoted text is JavaScript
PEER_VERSION=$VERSION PEER_PID=$PID PEER_PORT=$PORT PEER_WORKDIR=$WORKDIR \
PEER_CLIENT_ID=$CLIENT_ID PEER_CLIENT_SECRET=$CLIENT_SECRET \
node -e '
const fs = require("fs");
const e = process.env;
const base = `http://127.0.0.1:${e.PEER_PORT}`;
const client = { client_id: e.PEER_CLIENT_ID, client_secret: e.PEER_CLIENT_SECRET };
const notes = [
  `@node-oauth/oauth2-server ${e.PEER_VERSION} on Node.js ${process.version}, NODE_ENV=production, ` +
    "served by node:http (no framework) through the library Request/Response classes.",
  "One node process (single-threaded: uses at most about one core).",
  "Storage: an in-memory model, JavaScript Maps (nothing persisted, lost on restart, never evicted under a benchmark).",
  "Access tokens: opaque (the library default, 32 random bytes in hex), no signature; " +
    "each one stored in a Map before the answer (in memory only).",
  "Refresh tokens: opaque, stored in a Map, rotated on every use (alwaysIssueNewRefreshToken: true, the default): " +
    "revokeToken deletes the presented token and a token presented again is refused (invalid_grant). " +
    "The pool is minted in-process at start-up for a fixed user through a grant type built on the library AbstractGrantType.",
  "Client authentication: client_secret_basic, secret compared in constant time (SHA-256 digests, timingSafeEqual; no slow hash).",
  "No introspection, JWKS or metadata endpoints (the library has none); GET /health for readiness.",
];
const peer = {
  name: "node-oauth2-server",
  version: e.PEER_VERSION,
  pid: Number(e.PEER_PID),
  token_url: `${base}/token`,
  client_id: client.client_id,
  client_secret: client.client_secret,
  scope: "read write",
  auth: "basic",
  access_token_format: "opaque",
  stores_access_tokens: true,
  refresh: { supported: true, rotates: true, tokens_file: `${e.PEER_WORKDIR}/refresh_tokens.txt`, ...client },
  jwks_url: null,
  metadata_url: null,
  introspect_url: null,
  introspect_client: null,
  health_url: `${base}/health`,
  workers: 1,
  notes: notes.join(" "),
};
const out = `${e.PEER_WORKDIR}/peer.json`;
fs.writeFileSync(`${out}.tmp`, JSON.stringify(peer, null, 2) + "\n");
fs.renameSync(`${out}.tmp`, out);
' || fail "could not write peer.json"
