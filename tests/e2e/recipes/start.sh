# start.sh: starts latchkeyd as a test double from a bash script and stops
# it when the script exits.
#
#   source start.sh
#   lk_start --fixtures fixtures.json [more latchkeyd flags]
#   curl -s "$LK_ISSUER/_control/tokens"
#
# lk_start sets LK_ISSUER (http://127.0.0.1:PORT) and LK_PID. LATCHKEYD
# names the binary (default: latchkeyd on PATH); LK_START_TIMEOUT is how
# many seconds it may take to start (default 10).

lk_start() {
  LK_DIR=$(mktemp -d)
  "${LATCHKEYD:-latchkeyd}" --ephemeral --test-double \
    --listen 127.0.0.1:0 --ready-file "$LK_DIR/ready.json" "$@" \
    >/dev/null 2>"$LK_DIR/latchkeyd.log" &
  LK_PID=$!
  trap lk_stop EXIT
  # The ready file appears whole (it is renamed into place) once requests
  # can be served; give up after the timeout or when the server exits.
  for _ in $(seq $(( ${LK_START_TIMEOUT:-10} * 10 ))); do
    if [[ -s "$LK_DIR/ready.json" ]]; then
      LK_ISSUER=$(jq -r .issuer "$LK_DIR/ready.json")
      return 0
    fi
    kill -0 "$LK_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "latchkeyd did not start:" >&2
  cat "$LK_DIR/latchkeyd.log" >&2
  return 1
}

# Stops the server (SIGTERM: it removes its database and exits 0) and
# returns its exit status.
lk_stop() {
  local rc=0
  if [[ -n "${LK_PID:-}" ]]; then
    kill "$LK_PID" 2>/dev/null
    wait "$LK_PID" || rc=$?
    LK_PID=
  fi
  [[ -z "${LK_DIR:-}" ]] || rm -rf "$LK_DIR"
  return $rc
}
