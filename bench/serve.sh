# shellcheck shell=bash disable=SC2034  # sets variables for the sourcing script
# serve.sh: sourced by syscalls.sh and profile.sh. serve BUILD_DIR starts
# BUILD_DIR/latchkeyd on a fresh database in a new directory $W with one
# client, bench, and sets S (its secret), PORT and PID; the caller's trap
# stops it. drive CONNS SECONDS OUT then runs wrk's client_credentials
# load on it in the background (its output in OUT) and sets WRK to wrk's
# pid. Needs wrk.
serve() {
  B=$(cd "$1" && pwd)
  W=$(mktemp -d)
  S=$("$B/latchkey" --db "$W/lk.db" client add bench --id bench --json |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$B/latchkeyd" --db "$W/lk.db" --listen "127.0.0.1:$PORT" >/dev/null 2>"$W/log" &
  PID=$!
  sleep 0.5
}

drive() {
  LK_BENCH_LUA="$HERE/lua" LK_BENCH_THREADS=2 wrk -t2 -c"$1" -d"$2"s \
    -s "$HERE/lua/token.lua" "http://127.0.0.1:$PORT/token" -- \
    "Basic $(printf 'bench:%s' "$S" | base64 -w0)" \
    "grant_type=client_credentials" jwt >"$3" &
  WRK=$!
}
