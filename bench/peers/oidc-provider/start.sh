#!/bin/sh
# Starts the node oidc-provider peer for `make bench`.
#
#   bench/peers/oidc-provider/start.sh PORT WORKDIR [REFRESH_POOL_SIZE]
#
# Installs the oidc-provider version pinned in package.json/package-lock.json
# into WORKDIR/node_modules (from the npm registry; skipped when WORKDIR
# already has it), starts server.mjs on 127.0.0.1:PORT in the background
# (output to WORKDIR/server.log), waits until it answers, and writes
# WORKDIR/refresh_tokens.txt (REFRESH_POOL_SIZE tokens, default 500, minted
# in-process at start-up) and WORKDIR/peer.json.
#
# Environment:
#   PEER_WORKERS=N   N >= 2 runs N node cluster workers behind a primary;
#                    client_credentials only (refresh.supported is false:
#                    the in-memory store is per process). Default 1.
#   PEER_STORE_SIZE  in-memory store capacity in entries (default 1000000).
#
# Quiet on success; on failure prints why on stderr, exits non-zero and
# leaves no process behind.
set -eu

# shellcheck disable=SC2034  # PEER is read by common.sh
PEER=oidc-provider
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/../common.sh
. "$HERE/../common.sh"

start_args "$@"
WORKERS=${PEER_WORKERS:-1}
case $WORKERS in ''|*[!0-9]*|0) die "PEER_WORKERS must be a positive number: $WORKERS" ;; esac

need_node 20 "oidc-provider 9"

mkdir -p "$WORKDIR"
WORKDIR=$(cd "$WORKDIR" && pwd)
LOG=$WORKDIR/server.log

refuse_running "$WORKDIR" server.mjs "$PORT"

# --- install (idempotent) -------------------------------------------------
npm_install "$WORKDIR" oidc-provider

# --- start ----------------------------------------------------------------
CLIENT_ID=bench-client
CLIENT_SECRET=$(node -p 'require("crypto").randomBytes(24).toString("base64url")')
rm -f "$WORKDIR/ready.json" "$WORKDIR/refresh_tokens.txt" "$WORKDIR/peer.json"

cd "$WORKDIR"
env -u DEBUG -u NODE_OPTIONS NODE_ENV=production \
  PEER_PORT="$PORT" PEER_WORKDIR="$WORKDIR" PEER_POOL_SIZE="$POOL" \
  PEER_WORKERS="$WORKERS" PEER_CLIENT_ID="$CLIENT_ID" \
  PEER_CLIENT_SECRET="$CLIENT_SECRET" \
  nohup node server.mjs </dev/null >"$LOG" 2>&1 &
PID=$!
echo "$PID" >"$WORKDIR/server.pid"

fail() {
  pids=""
  [ -f "$WORKDIR/ready.json" ] &&
    pids=$(node -p 'require(process.argv[1]).pids.join(" ")' "$WORKDIR/ready.json" 2>/dev/null || :)
  stop_pids "" "$PID"
  # shellcheck disable=SC2086  # a list of pids
  stop_pids server.mjs $pids
  rm -f "$WORKDIR/server.pid"
  log_tail "$LOG"
  die "$* (log: $LOG)"
}

trap 'fail "interrupted"' HUP INT TERM

await_ready "$PID" "http://127.0.0.1:$PORT/jwks" "$WORKDIR/ready.json" ||
  case $? in
    1) fail "server exited during start-up" ;;
    *) fail "not ready after 60 s" ;;
  esac

PIDS=$(node -p 'require(process.argv[1]).pids.join(" ")' "$WORKDIR/ready.json")
echo "$PIDS" >"$WORKDIR/server.pid"
REFRESH=$(node -p 'String(require(process.argv[1]).refresh)' "$WORKDIR/ready.json")
if [ "$REFRESH" = true ]; then
  GOT=$(wc -l <"$WORKDIR/refresh_tokens.txt" | tr -d ' ')
  [ "$GOT" = "$POOL" ] || fail "minted $GOT refresh tokens, wanted $POOL"
fi

# --- peer.json ------------------------------------------------------------
# shellcheck disable=SC2016  # the single-quoted text is JavaScript
PEER_VERSION=$VERSION PEER_PIDS=$PIDS PEER_REFRESH=$REFRESH PEER_PORT=$PORT \
PEER_WORKDIR=$WORKDIR PEER_CLIENT_ID=$CLIENT_ID PEER_CLIENT_SECRET=$CLIENT_SECRET \
PEER_WORKERS=$WORKERS PEER_STORE_SIZE=${PEER_STORE_SIZE:-1000000} \
node -e '
const fs = require("fs");
const e = process.env;
const base = `http://127.0.0.1:${e.PEER_PORT}`;
const pids = e.PEER_PIDS.split(" ").map(Number);
const refresh = e.PEER_REFRESH === "true";
const workers = Number(e.PEER_WORKERS);
const client = { client_id: e.PEER_CLIENT_ID, client_secret: e.PEER_CLIENT_SECRET };
const notes = [
  `oidc-provider ${e.PEER_VERSION} on Node.js ${process.version}, NODE_ENV=production.`,
  workers === 1
    ? "One node process (single-threaded: uses at most about one core)."
    : `node cluster: a primary (pid ${pids[0]}) distributing connections to ${workers} workers; measure all pids.`,
  "Storage: oidc-provider memory adapter (in-memory, nothing persisted, lost on restart) on an LRU of " +
    `${e.PEER_STORE_SIZE} entries instead of its default 1000.`,
  "Access tokens: JWT (typ at+jwt) signed ES256 with a P-256 key generated at start, aud = the default resource; " +
    "not stored (oidc-provider saves no record of JWT access tokens).",
  refresh
    ? "Refresh tokens: opaque, stored in memory with one Grant each; rotated on every use (rotateRefreshToken: true); " +
      "a rotated token presented again is refused and its grant revoked. The pool is minted in-process at start-up " +
      "through provider.Grant/provider.RefreshToken, as the authorization code flow would leave them."
    : "Refresh: not offered in cluster mode (per-process in-memory store; would need a shared adapter).",
  "Client authentication: client_secret_basic, secret compared in constant time (no hashing).",
  "Introspection: not enabled (JWT access tokens are not stored, so it could not answer for them).",
  "Runtime: oidc-provider 9 prints an \"Unsupported runtime\" notice on Node.js 20 (it asks for 22 LTS); it runs.",
];
const peer = {
  name: "oidc-provider",
  version: e.PEER_VERSION,
  pid: pids[0],
  ...(pids.length > 1 ? { pids } : {}),
  token_url: `${base}/token`,
  client_id: client.client_id,
  client_secret: client.client_secret,
  scope: "read write",
  auth: "basic",
  access_token_format: "jwt-es256",
  stores_access_tokens: false,
  refresh: refresh
    ? { supported: true, rotates: true, tokens_file: `${e.PEER_WORKDIR}/refresh_tokens.txt`, ...client }
    : { supported: false, rotates: true, tokens_file: null, client_id: null, client_secret: null },
  jwks_url: `${base}/jwks`,
  metadata_url: `${base}/.well-known/openid-configuration`,
  introspect_url: null,
  introspect_client: null,
  health_url: `${base}/jwks`,
  workers,
  notes: notes.join(" "),
};
const out = `${e.PEER_WORKDIR}/peer.json`;
fs.writeFileSync(`${out}.tmp`, JSON.stringify(peer, null, 2) + "\n");
fs.renameSync(`${out}.tmp`, out);
' || fail "could not write peer.json"
