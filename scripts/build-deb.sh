#!/bin/sh
# build-deb.sh BUILD_DIR [JOBS]: latchkey_VERSION_ARCH.deb in BUILD_DIR,
# built for /usr by CPack (cmake/package.cmake). `make deb` runs it after
# checking the build dependencies; tests/e2e/test_package.py runs it too.
# Prints the package's path last.
set -eu
build=$1
jobs=${2:-2}
src=$(cd "$(dirname "$0")/.." && pwd)

cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_INSTALL_PREFIX=/usr -DLATCHKEY_TESTS=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target latchkeyd latchkey \
      latchkey_completion >/dev/null
rm -f "$build"/latchkey_*.deb
(cd "$build" && cpack -G DEB >/dev/null)
ls "$build"/latchkey_*.deb
