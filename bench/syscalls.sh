#!/bin/bash
# syscalls.sh BUILD_DIR [CONNS]: system calls per client_credentials request.
# Starts BUILD_DIR/latchkeyd on a fresh database, drives it with wrk at
# CONNS connections (default 16), attaches `strace -c -f` for 2 s and
# divides each count by the requests it saw (one send per response).
# Needs strace and wrk. Used for the table in docs/performance.md.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/serve.sh
. "$HERE/serve.sh"
C=${2:-16}
PID= W=
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$W"' EXIT
serve "$1"
drive "$C" 4 /dev/null
sleep 1
timeout 2 strace -c -f -p "$PID" -o "$W/strace" 2>/dev/null || true
wait "$WRK"
# One response per request: the send calls count the requests (recvfrom
# also counts the reads that found nothing yet, EAGAIN).
n=$(awk '$NF=="sendmsg" || $NF=="sendto" || $NF=="writev" {c += $4} END {print c+0}' \
  "$W/strace")
[ "$n" -gt 0 ] || { echo "syscalls.sh: no responses seen" >&2; exit 1; }
echo "$n requests seen; system calls per request:"
awk -v n="$n" 'NR>2 && NF>=5 && $NF ~ /^[a-z_0-9]+$/ && $NF != "total" {printf "  %-12s %5.2f\n", $NF, $4/n}' \
  "$W/strace" | sort -k2 -rn
awk -v n="$n" '$NF=="total" {printf "  %-12s %5.2f\n", "all", $4/n}' "$W/strace"
