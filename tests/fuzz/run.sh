#!/bin/sh
# tests/fuzz/run.sh [SECONDS_PER_TARGET]
#
# Builds the libFuzzer targets (clang, -DLATCHKEY_FUZZ=ON) in $FUZZ_BUILD
# (default build-fuzz, relative to the repository) and runs each for
# SECONDS_PER_TARGET seconds (default 10), one after the other, on a copy
# of its seed corpus in tests/fuzz/corpus/<target>/ (the committed corpus
# never changes). Exits non-zero if any target crashes, leaks, trips ASan
# or UBSan, times out or runs out of memory; the input that did it is kept
# in $FUZZ_BUILD/fuzz-artifacts/<target>/ and the end of the log is shown.
#
# Reproduce a finding:  $FUZZ_BUILD/tests/fuzz/<target> <artifact file>
# Fuzz longer:          tests/fuzz/run.sh 3600
# Other settings:       FUZZ_CC (compiler), FUZZ_TARGETS (names to run),
#                       FUZZ_TMPDIR (the targets' scratch files; default
#                       /dev/shm when writable), FUZZ_FLAGS (more libFuzzer
#                       flags, e.g. -use_value_profile=1), JOBS (build
#                       parallelism, default 2)
set -eu

secs=${1:-10}
case $secs in
'' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD:-build-fuzz}
case $build in /*) ;; *) build=$root/$build ;; esac

cc=${FUZZ_CC:-}
if [ -z "$cc" ]; then
  for c in clang clang-14; do
    if command -v "$c" >/dev/null 2>&1; then cc=$c; break; fi
  done
fi
if [ -z "$cc" ]; then
  echo "fuzz: no clang found (Debian 12: apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 1
fi

# Each target with the longest input worth trying: a little past the limits
# the code itself enforces (INI_MAX_LINE 200, the password buffer of 1026
# bytes, MAX_TOKEN_LEN 8192 in grants/verify.c, an assertion's 16 KiB in
# grants/client_assertion.c, a DPoP proof's 8 KiB in grants/dpop.c), well
# below what would only slow the fuzzer down.
all="fuzz_form:4096 fuzz_basic_auth:1024 fuzz_jwt:9000 fuzz_fixtures:8192
fuzz_config:4096 fuzz_cli_args:4096 fuzz_client_assertion:20000
fuzz_dpop:10000"
targets=${FUZZ_TARGETS:-}

echo "fuzz: building in $build ($cc)"
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLATCHKEY_FUZZ=ON \
  -DLATCHKEY_TESTS=OFF >/dev/null
cmake --build "$build" --target fuzz_all -j "${JOBS:-2}" >"$build/fuzz-build.log" 2>&1 || {
  tail -n 40 "$build/fuzz-build.log" >&2
  echo "fuzz: build failed (whole log: $build/fuzz-build.log)" >&2
  exit 1
}

# Readable stack traces when llvm-symbolizer is not on PATH.
if ! command -v llvm-symbolizer >/dev/null 2>&1 &&
   [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
  ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
  export ASAN_SYMBOLIZER_PATH
fi
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:symbolize=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS UBSAN_OPTIONS

# The targets' scratch files (fuzz_fixtures' SQLite store, fuzz_config's
# INI file) go to tmpfs when there is one: fsync is free there, and
# fuzz_fixtures runs about five times faster.
scratch=${FUZZ_TMPDIR:-}
if [ -z "$scratch" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  scratch=/dev/shm
fi
scratch=${scratch:-${TMPDIR:-/tmp}}

work=$(mktemp -d "${TMPDIR:-/tmp}/lk-fuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

failed=""
for entry in $all; do
  t=${entry%%:*}
  max_len=${entry#*:}
  if [ -n "$targets" ]; then
    case " $targets " in *" $t "*) ;; *) continue ;; esac
  fi
  corpus=$work/$t
  art=$build/fuzz-artifacts/$t
  log=$work/$t.log
  mkdir -p "$corpus" "$art"
  cp "$root/tests/fuzz/corpus/$t/"* "$corpus/"
  # -timeout: one input taking 10 s is a hang. -rss_limit_mb: a memory
  # blow-up is a finding, not a machine that swaps. FUZZ_FLAGS is split
  # into words on purpose.
  # shellcheck disable=SC2086
  if TMPDIR=$scratch "$build/tests/fuzz/$t" -max_total_time="$secs" -max_len="$max_len" \
       -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$art/" ${FUZZ_FLAGS:-} "$corpus" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    echo "fuzz: $t: ok, ${runs:-?} runs in ${secs}s, $cov, corpus $(find "$corpus" -type f | wc -l) inputs"
  else
    echo "fuzz: $t: FAILED; the end of its log:" >&2
    tail -n 60 "$log" >&2
    echo "fuzz: $t: the input is in $art/" >&2
    failed="$failed $t"
  fi
done

if [ -n "$failed" ]; then
  echo "fuzz: failed:$failed" >&2
  exit 1
fi
