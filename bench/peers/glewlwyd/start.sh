#!/bin/sh
# Starts the glewlwyd peer for `make bench`.
#
#   bench/peers/glewlwyd/start.sh PORT WORKDIR [REFRESH_POOL_SIZE]
#
# Installs Debian's glewlwyd package if dpkg-query says it is missing (needs
# root), makes a private instance in WORKDIR: a fresh SQLite database from
# the package's dbconfig install script, an ES256 (P-256) signing key, a
# config file based on the packaged /etc/glewlwyd/glewlwyd.conf (port,
# 127.0.0.1, database path, console log at WARNING level), starts glewlwyd
# on 127.0.0.1:PORT in the background (output to WORKDIR/server.log),
# waits until it answers, then setup.py configures it through the admin
# API, mints REFRESH_POOL_SIZE (default 500) refresh tokens into
# WORKDIR/refresh_tokens.txt and writes WORKDIR/peer.json.
#
# Environment:
#   GLEWLWYD_FAST=1             lower the database client module's PBKDF2
#                               iterations ("pbkdf2-iterations", packaged
#                               default 150000) before the client is created
#   GLEWLWYD_FAST_ITERATIONS=N  the count GLEWLWYD_FAST uses (default 1000)
#
# Quiet on success; on failure prints why on stderr, exits non-zero and
# leaves no process behind.
set -eu

# shellcheck disable=SC2034  # PEER is read by common.sh
PEER=glewlwyd
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/../common.sh
. "$HERE/../common.sh"

start_args "$@"
FAST=0
if [ "${GLEWLWYD_FAST:-0}" = 1 ]; then
  FAST=${GLEWLWYD_FAST_ITERATIONS:-1000}
  case $FAST in ''|*[!0-9]*|0) die "GLEWLWYD_FAST_ITERATIONS must be a positive number: $FAST" ;; esac
fi

PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || die "python3 not found"
for c in curl openssl; do
  command -v "$c" >/dev/null 2>&1 || die "$c not found"
done

mkdir -p "$WORKDIR"
WORKDIR=$(cd "$WORKDIR" && pwd)
LOG=$WORKDIR/server.log

# --- install (idempotent) -------------------------------------------------
if ! dpkg-query -W -f='${Status}' glewlwyd 2>/dev/null | grep -q "install ok installed"; then
  [ "$(id -u)" -eq 0 ] ||
    die "glewlwyd is not installed; run: sudo apt-get install -y --no-install-recommends glewlwyd"
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
           --no-install-recommends glewlwyd; } >"$WORKDIR/apt.log" 2>&1; then
    log_tail "$WORKDIR/apt.log"
    die "apt-get install glewlwyd failed (log: $WORKDIR/apt.log)"
  fi
fi
SCHEMA=/usr/share/dbconfig-common/data/glewlwyd/install/sqlite3
[ -r "$SCHEMA" ] || die "missing $SCHEMA (glewlwyd package incomplete?)"
command -v glewlwyd >/dev/null 2>&1 || die "glewlwyd binary not found"
command -v sqlite3 >/dev/null 2>&1 || die "sqlite3 not found (a dependency of the glewlwyd package)"

refuse_running "$WORKDIR" "$WORKDIR/glewlwyd.conf" "$PORT"

# --- fresh instance -------------------------------------------------------
rm -f "$WORKDIR/glewlwyd.db" "$WORKDIR/glewlwyd.db-journal" \
  "$WORKDIR/refresh_tokens.txt" "$WORKDIR/peer.json"
sqlite3 "$WORKDIR/glewlwyd.db" <"$SCHEMA" >"$WORKDIR/schema.log" 2>&1 || {
  log_tail "$WORKDIR/schema.log"
  die "could not initialise $WORKDIR/glewlwyd.db"
}
if [ "$FAST" != 0 ]; then
  # The database client module instance the install script creates: set its
  # PBKDF2 iteration count before glewlwyd loads it, so the client secret
  # created below is hashed (and so verified) with FAST iterations.
  sqlite3 "$WORKDIR/glewlwyd.db" "UPDATE g_client_module_instance
    SET gcmi_parameters = json_set(gcmi_parameters, '\$.\"pbkdf2-iterations\"', $FAST)
    WHERE gcmi_module = 'database' AND gcmi_name = 'database';" ||
    die "could not set pbkdf2-iterations"
fi

umask 077
openssl ecparam -name prime256v1 -genkey -noout -out "$WORKDIR/key.pem" 2>/dev/null ||
  die "openssl could not generate a P-256 key"
openssl ec -in "$WORKDIR/key.pem" -pubout -out "$WORKDIR/pub.pem" 2>/dev/null ||
  die "openssl could not write the public key"
umask 022

# Based on the packaged /etc/glewlwyd/glewlwyd.conf: same module paths,
# hash algorithm, cookie, session and admin settings; changed: port,
# bind address, external_url, log to the console (server.log) at WARNING,
# the database (SQLite in WORKDIR). Static files (webapp) stay off, as
# packaged. use_secure_connection is left out (TLS off is the default):
# this version rejects the packaged "use_secure_connection=false" line
# when the certificate files it names do not exist.
cat >"$WORKDIR/glewlwyd.conf" <<EOF
port=$PORT
bind_address="127.0.0.1"
external_url="http://127.0.0.1:$PORT"
login_url="login.html"
api_prefix="api"
allow_origin="*"
allow_methods="GET, POST, PUT, DELETE, OPTIONS"
allow_headers="Origin, X-Requested-With, Content-Type, Accept, Bearer, Authorization, DPoP"
expose_headers="Content-Encoding, Authorization"
log_mode="console"
log_level="WARNING"
cookie_secure=0
cookie_same_site="empty"
session_expiration=2419200
session_key="GLEWLWYD2_SESSION_ID"
admin_session_authentication="cookie"
profile_session_authentication="cookie"
allow_multiple_user_per_session=true
login_api_enabled=true
plugin_api_run_enabled=""
add_x_frame_option_header_deny=true
max_post_size=16778240
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path="/usr/lib/glewlwyd/user"
client_module_path="/usr/lib/glewlwyd/client"
user_auth_scheme_module_path="/usr/lib/glewlwyd/scheme"
plugin_module_path="/usr/lib/glewlwyd/plugin"
hash_algorithm="SHA512"
database =
{
  type = "sqlite3"
  path = "$WORKDIR/glewlwyd.db"
};
EOF

# --- start ----------------------------------------------------------------
cd "$WORKDIR"
nohup glewlwyd --config-file="$WORKDIR/glewlwyd.conf" </dev/null >"$LOG" 2>&1 &
PID=$!
started "$PID"

await_ready "$PID" "http://127.0.0.1:$PORT/config" || case $? in
  1) fail "glewlwyd exited during start-up" ;;
  *) fail "not answering after 60 s" ;;
esac

"$PY" "$HERE/setup.py" "$PORT" "$WORKDIR" "$POOL" "$PID" "$FAST" ||
  fail "set-up through the admin API failed"
alive "$PID" || fail "glewlwyd exited during set-up"
