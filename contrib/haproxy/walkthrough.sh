#!/bin/sh
# contrib/haproxy/walkthrough.sh: runs docs/scale-out.md's "Three instances
# behind a load balancer" on this machine, start to end, printing each
# command before its output: a throwaway PostgreSQL cluster
# (tests/pg/cluster.py, fsync on), `latchkey migrate`, a client, three
# latchkeyd on 127.0.0.1:8081-8083 with one --issuer, haproxy on
# 127.0.0.1:8080 with contrib/haproxy/latchkey.cfg, a token from the
# balancer introspected through it, and where the requests went.
#
#     contrib/haproxy/walkthrough.sh [BUILD_DIR]     (default: build)
#
# Owns everything it starts (the cluster, three latchkeyd, haproxy, a
# directory under /tmp) and stops and removes it on exit, Ctrl-C included.
# Needs Debian's postgresql (server binaries only) and haproxy, and ports
# 8080-8083 free. Secrets stay in a 0600 file in that directory and are
# never printed; tokens are shown shortened.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
BIN=$(cd "$BUILD" && pwd)
PGPORT=${LK_WALK_PGPORT:-55480}
for tool in haproxy curl jq; do
  command -v "$tool" >/dev/null || { echo "walkthrough: needs $tool" >&2; exit 1; }
done
for port in 8080 8081 8082 8083; do
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    echo "walkthrough: port $port is in use" >&2
    exit 1
  fi
done

W=$(mktemp -d /tmp/lk-walk.XXXXXX)
chmod 755 "$W"   # the postgres user runs the cluster inside it
PIDS=""
cleanup() {
  for pid in $PIDS; do kill "$pid" 2>/dev/null || true; done
  for pid in $PIDS; do wait "$pid" 2>/dev/null || true; done
  python3 tests/pg/cluster.py stop "$W/pg" >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n$ %s\n' "$*"; }
# served ENDPOINT: names the instances whose count of 200s for ENDPOINT
# (their own /metrics) grew since the last call.
served() {
  for i in 1 2 3; do
    n=$(curl -s "http://127.0.0.1:808$i/metrics" |
      sed -n "s/^latchkey_http_requests_total{endpoint=\"$1\",status=\"200\"} //p")
    n=${n:-0}
    eval "old=\${seen_${1}_$i:-0}"
    # shellcheck disable=SC2154
    [ "$n" -gt "$old" ] && echo "($1 answered by the instance on 127.0.0.1:808$i)"
    eval "seen_${1}_$i=$n"
  done
}
ready() {  # URL: waits up to 10 s for a 200
  i=0
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ]; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "walkthrough: $1 never ready" >&2; exit 1; }
    sleep 0.1
  done
}

# 1. PostgreSQL: a throwaway cluster on a unix socket in $W/pg.
say python3 tests/pg/cluster.py start "$W/pg" --port "$PGPORT" --durable-commits --fsync
python3 tests/pg/cluster.py start "$W/pg" --port "$PGPORT" --durable-commits --fsync
ADMIN="postgresql:///postgres?host=$W/pg&port=$PGPORT&user=postgres"
say psql "'$ADMIN'" -c "'CREATE DATABASE latchkey'"
psql -X -q -d "$ADMIN" -c "CREATE DATABASE latchkey"
export LATCHKEY_DB="postgresql:///latchkey?host=$W/pg&port=$PGPORT&user=postgres"
say export LATCHKEY_DB="'$LATCHKEY_DB'"

# 2. The schema and a client, with the CLI, once for all instances.
say latchkey migrate
"$BIN/latchkey" migrate
say latchkey client add billing --grant client_credentials --scope invoices:read --json '>' "$W/billing.json"
(umask 077; "$BIN/latchkey" client add billing --grant client_credentials \
  --scope invoices:read --json >"$W/billing.json")
ID=$(jq -r .client_id "$W/billing.json")
SECRET=$(jq -r .client_secret "$W/billing.json")
echo "client_id $ID (its secret is in $W/billing.json, not shown)"

# 3. Three instances, one issuer: the balancer's URL.
for i in 1 2 3; do
  say latchkeyd --listen 127.0.0.1:808$i --issuer http://127.0.0.1:8080 '&'
  "$BIN/latchkeyd" --listen "127.0.0.1:808$i" --issuer http://127.0.0.1:8080 \
    >"$W/lk$i.out" 2>"$W/lk$i.log" &
  PIDS="$PIDS $!"
done
for i in 1 2 3; do ready "http://127.0.0.1:808$i/readyz"; done
grep -h "database postgresql" "$W/lk1.log" "$W/lk2.log" "$W/lk3.log"

# 4. haproxy with the config of contrib/, round robin, checks on /readyz.
say haproxy -c -f contrib/haproxy/latchkey.cfg
haproxy -c -f contrib/haproxy/latchkey.cfg
say haproxy -db -f contrib/haproxy/latchkey.cfg '&'
haproxy -db -f contrib/haproxy/latchkey.cfg >"$W/haproxy.log" 2>&1 &
PIDS="$PIDS $!"
ready http://127.0.0.1:8080/readyz
say curl -s http://127.0.0.1:8080/readyz
curl -s http://127.0.0.1:8080/readyz; echo

# 5. A token from the balancer, introspected through it; round robin
# sends the two requests to different instances.
served token >/dev/null
served introspect >/dev/null
say curl -s -u "$ID:\$SECRET" -d grant_type=client_credentials http://127.0.0.1:8080/token
TOKEN_JSON=$(curl -s -u "$ID:$SECRET" -d grant_type=client_credentials \
  http://127.0.0.1:8080/token)
ACCESS=$(printf '%s' "$TOKEN_JSON" | jq -r .access_token)
printf '%s\n' "$TOKEN_JSON" | jq -c '.access_token |= .[0:16] + "..."'
served token
say curl -s -u "$ID:\$SECRET" -d token=\$ACCESS http://127.0.0.1:8080/introspect
curl -s -u "$ID:$SECRET" --data-urlencode "token=$ACCESS" \
  http://127.0.0.1:8080/introspect | jq -c .
served introspect

# 6. Six more tokens, then where the requests went: each instance's own
# /metrics (token and introspection requests answered).
say 'for n in 1 2 3 4 5 6; do curl -s -o /dev/null -u "$ID:$SECRET" -d grant_type=client_credentials http://127.0.0.1:8080/token; done'
for n in 1 2 3 4 5 6; do
  curl -s -o /dev/null -u "$ID:$SECRET" -d grant_type=client_credentials \
    http://127.0.0.1:8080/token
done
for i in 1 2 3; do
  say "curl -s http://127.0.0.1:808$i/metrics | grep -E 'endpoint=\"(token|introspect)\",status'"
  curl -s "http://127.0.0.1:808$i/metrics" |
    grep -E '^latchkey_http_requests_total\{endpoint="(token|introspect)",status' || true
done
say psql "\$LATCHKEY_DB" -c "'SELECT count(*) FROM access_tokens'"
psql -X -q -A -t -d "$LATCHKEY_DB" -c "SELECT count(*) FROM access_tokens"
echo
echo "walkthrough: done; stopping haproxy, the three latchkeyd and PostgreSQL"
