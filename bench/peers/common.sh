# Shared helpers for bench/peers/*/start.sh and stop.sh. Sourced, not run.
# POSIX sh. The sourcing script sets PEER (its name) before sourcing.

die() {
  echo "bench peer ${PEER:-?}: $*" >&2
  exit 1
}

# start_args "$@": a start.sh's PORT WORKDIR [REFRESH_POOL_SIZE], checked,
# into PORT, WORKDIR and POOL (500 by default).
start_args() {
  if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    die "usage: $0 PORT WORKDIR [REFRESH_POOL_SIZE]"
  fi
  PORT=$1
  WORKDIR=$2
  POOL=${3:-500}
  case $PORT in ''|*[!0-9]*) die "PORT must be a number: $PORT" ;; esac
  case $POOL in ''|*[!0-9]*) die "REFRESH_POOL_SIZE must be a number: $POOL" ;; esac
}

# True if something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
  _rc=0
  curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" 2>/dev/null || _rc=$?
  [ "$_rc" -ne 7 ]   # 7: connection refused, the port is free
}

# True if pid $1 exists and is not a zombie. For a child just started: its
# command line can read empty while it execs, so start-up waits use this.
alive() {
  _st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$_st" ] && [ "$_st" != Z ]
}

# True if pid $1 is alive and its command line contains $2 (for pids read
# from a file, which may have been reused since). An empty $2 matches any
# live process: for the script's own child, which cannot have been reused.
pid_is() {
  [ -n "$1" ] && alive "$1" || return 1
  [ -z "$2" ] && return 0
  { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -q -- "$2"
}

# stop_pids MATCH PID...: SIGTERM each pid whose command line contains MATCH
# (any live pid if MATCH is empty),
# wait up to 5 s for all of them, then SIGKILL what is left. Never fails.
stop_pids() {
  _match=$1
  shift
  _live=""
  for _p in "$@"; do
    if pid_is "$_p" "$_match"; then
      kill -TERM "$_p" 2>/dev/null || :
      _live="$_live $_p"
    fi
  done
  [ -z "$_live" ] && return 0
  # shellcheck disable=SC2086  # lists of pids
  await_gone 50 "$_match" $_live && return 0
  for _p in $_left; do
    kill -KILL "$_p" 2>/dev/null || :
  done
  # Reap: give the kernel a moment so a following start finds the port free.
  # shellcheck disable=SC2086
  await_gone 20 "$_match" $_left || :
  return 0
}

# await_gone TENTHS MATCH PID...: waits up to TENTHS tenths of a second
# until no pid is pid_is MATCH; false with the ones left in $_left.
await_gone() {
  _tenths=$1
  _m=$2
  shift 2
  _i=0
  while :; do
    _left=""
    for _p in "$@"; do
      pid_is "$_p" "$_m" && _left="$_left $_p"
    done
    [ -z "$_left" ] && return 0
    [ $_i -lt "$_tenths" ] || return 1
    sleep 0.1
    _i=$((_i + 1))
  done
}

# await_ready PID URL [FILE]: waits up to 60 s until URL answers 200 (and
# FILE exists, when given). 0: ready; 1: PID exited; 2: the time ran out.
await_ready() {
  _i=0
  while :; do
    alive "$1" || return 1
    if [ -z "${3:-}" ] || [ -f "$3" ]; then
      [ "$(http_status "$2")" = 200 ] && return 0
    fi
    _i=$((_i + 1))
    [ $_i -le 600 ] || return 2
    sleep 0.1
  done
}

# HTTP status of a GET, or 000 when nothing answers.
http_status() {
  curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$1" 2>/dev/null || :
}

# Last lines of a log, indented, for error messages.
log_tail() {
  [ -f "$1" ] && tail -n "${2:-20}" "$1" | sed 's/^/    /' >&2
  return 0
}

# refuse_running WORKDIR MATCH PORT: dies when WORKDIR's recorded server
# (a pid whose command line contains MATCH) still runs, or when something
# already listens on PORT.
refuse_running() {
  if [ -f "$1/server.pid" ]; then
    # shellcheck disable=SC2013  # pids separated by blanks
    for _p in $(cat "$1/server.pid"); do
      pid_is "$_p" "$2" &&
        die "already running in $1 (pid $_p); run $HERE/stop.sh $1 first"
    done
  fi
  port_in_use "$3" && die "port $3 on 127.0.0.1 is already in use"
  return 0
}

# npm_install WORKDIR PKG: copies $HERE/server.mjs into WORKDIR and, unless
# WORKDIR already has the tree package-lock.json pins, installs it there
# with `npm ci`; then sets VERSION to PKG's installed version.
npm_install() {
  cp "$HERE/server.mjs" "$1/server.mjs"
  if ! cmp -s "$HERE/package-lock.json" "$1/package-lock.json" ||
     [ ! -f "$1/node_modules/$2/package.json" ]; then
    cp "$HERE/package.json" "$HERE/package-lock.json" "$1/"
    if ! (cd "$1" && npm ci --no-audit --no-fund --loglevel=error \
            >"$1/npm.log" 2>&1); then
      log_tail "$1/npm.log"
      rm -f "$1/package-lock.json"   # so the next run retries
      die "npm ci failed in $1 (log: $1/npm.log)"
    fi
  fi
  # shellcheck disable=SC2034  # VERSION is the sourcing script's
  VERSION=$(node -p 'require(process.argv[1]).version' \
    "$1/node_modules/$2/package.json")
}

# stop_recorded WORKDIR MATCH: stop.sh's whole job: stops every pid
# recorded in WORKDIR/server.pid whose command line contains MATCH, then
# forgets them. Nothing recorded: nothing to do.
stop_recorded() {
  [ -f "$1/server.pid" ] || return 0
  # shellcheck disable=SC2046
  stop_pids "$2" $(cat "$1/server.pid")
  rm -f "$1/server.pid"
}

# need_node MAJOR WHAT: dies unless node (at least MAJOR), npm and curl are
# installed; WHAT names what needs that version.
need_node() {
  command -v node >/dev/null 2>&1 || die "node not found (bench/install-deps.sh installs it)"
  command -v npm >/dev/null 2>&1 || die "npm not found (bench/install-deps.sh installs it)"
  command -v curl >/dev/null 2>&1 || die "curl not found"
  _major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$_major" -ge "$1" ] || die "$2 needs Node.js >= $1, found $(node -v)"
}

# started PID: records PID in $WORKDIR/server.pid and defines fail(), which
# stops it, forgets it, shows the end of $LOG and dies with its message;
# fail() also runs when the script is interrupted.
started() {
  _started=$1
  echo "$_started" >"$WORKDIR/server.pid"
  trap 'fail "interrupted"' HUP INT TERM
}

fail() {
  stop_pids "" "$_started"
  rm -f "$WORKDIR/server.pid"
  log_tail "$LOG"
  die "$* (log: $LOG)"
}
