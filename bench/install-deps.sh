#!/bin/sh
# Installs what `make bench` needs beyond scripts/install-deps.sh: the load
# generator (Debian's wrk), Node.js for the oidc-provider peer and haproxy
# for the PostgreSQL rows of two instances behind a balancer (--pg). The
# peers themselves are installed by bench/peers/*/start.sh at run time.
set -eu
PKGS="wrk nodejs npm haproxy"
missing=""
for p in $PKGS; do
  command -v "$p" >/dev/null 2>&1 && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "latchkey bench: missing:$missing; run: sudo apt-get install -y$missing" >&2
  exit 1
fi
echo "latchkey bench: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
