#!/bin/sh
# Installs the Debian 12 packages Latchkey needs to build, run and test.
# clang-14 and libclang-rt-14-dev (libFuzzer and the sanitizer runtimes)
# build tests/fuzz; llvm-14 has llvm-symbolizer for readable reports.
# Packages named as arguments are installed too (scripts/install-test-deps.sh
# adds what only the tests need). Idempotent: asks apt only for what is
# missing. Run as root (CI is root);
# otherwise it prints the command to run and fails.
set -eu

PKGS="build-essential cmake pkg-config
libmicrohttpd-dev libsqlite3-dev libjansson-dev libjwt-dev libssl-dev
libargon2-dev libinih-dev libcmocka-dev libpq-dev libgnutls28-dev libcurl4-openssl-dev
curl jq openssl sqlite3 python3 python3-jwt python3-cryptography python3-requests
clang-14 libclang-rt-14-dev llvm-14 valgrind systemd e2fsprogs $*"

missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "latchkey: missing Debian packages:$missing" >&2
  echo "latchkey: run: sudo apt-get install -y$missing" >&2
  exit 1
fi
echo "latchkey: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
