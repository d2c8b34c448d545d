#!/bin/bash
# profile.sh BUILD_DIR [CONNS]: where latchkeyd's CPU goes per library
# while it serves client_credentials at CONNS connections (default 16).
# Starts BUILD_DIR/latchkeyd on a fresh database, drives it with wrk for
# 6 s, samples it with `perf record` (timer samples: hardware counters are
# often missing in VMs) for 3 s of that, and prints each library's share
# of the samples and the requests per second and CPU per request of the
# run. Needs perf and wrk. Used for the cost breakdown in
# docs/performance.md.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/serve.sh
. "$HERE/serve.sh"
C=${2:-16}
PID= W=
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$W"' EXIT
serve "$1"
drive "$C" 6 "$W/wrk"
sleep 2
t0=$(awk '{print $14 + $15}' "/proc/$PID/stat")
perf record -e cpu-clock -F 999 -p "$PID" -o "$W/perf.data" -- sleep 3 \
  >/dev/null 2>&1
t1=$(awk '{print $14 + $15}' "/proc/$PID/stat")
wait "$WRK"
rps=$(awk '/Requests\/sec/ {print $2}' "$W/wrk")
echo "$rps requests/s; latchkeyd CPU $(( (t1 - t0) * 1000 / $(getconf CLK_TCK) / 3 )) ms per s"
echo "share of latchkeyd's CPU samples per library:"
perf report -i "$W/perf.data" --sort dso --stdio 2>/dev/null |
  awk '/^ +[0-9.]+%/ {printf "  %7s  %s\n", $1, $2}' | head -12
