#!/bin/bash
# syscalls.sh BUILD_DIR [CONNS]: system calls per client_credentials request.
# Starts BUILD_DIR/latchkeyd on a fresh database, drives it with wrk at
# CONNS connections (default 16), attaches `strace -c -f` for 2 s and
# divides each count by the requests it saw (one send per response).
# Needs strace and wrk. Used for the table in docs/performance.md.
set -euo pipefail
B=$(cd "$1" && pwd); C=${2:-16}
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$W"' EXIT
S=$("$B/latchkey" --db "$W/lk.db" client add bench --id bench --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$B/latchkeyd" --db "$W/lk.db" --listen "127.0.0.1:$PORT" >/dev/null 2>"$W/log" &
PID=$!
sleep 0.5
LK_BENCH_LUA="$HERE/lua" LK_BENCH_THREADS=2 wrk -t2 -c"$C" -d4s \
  -s "$HERE/lua/token.lua" "http://127.0.0.1:$PORT/token" -- \
  "Basic $(printf 'bench:%s' "$S" | base64 -w0)" \
  "grant_type=client_credentials" jwt >/dev/null &
WRK=$!
sleep 1
timeout 2 strace -c -f -p "$PID" -o "$W/strace" 2>/dev/null || true
wait "$WRK"
# One response per request: the send calls count the requests (recvfrom
# also counts the reads that found nothing yet, EAGAIN).
n=$(awk '$NF=="sendmsg" || $NF=="sendto" || $NF=="writev" {c += $4} END {print c+0}' \
  "$W/strace")
[ "$n" -gt 0 ] || { echo "syscalls.sh: no responses seen" >&2; exit 1; }
echo "$n requests seen; system calls per request:"
awk -v n="$n" 'NR>2 && NF>=5 && $NF ~ /^[a-z_0-9]+$/ {printf "  %-12s %5.2f\n", $NF, $4/n}' \
  "$W/strace" | sort -k2 -rn
awk -v n="$n" '$NF=="total" {printf "  %-12s %5.2f\n", "all", $4/n}' "$W/strace"
