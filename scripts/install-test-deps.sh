#!/bin/sh
# Installs what `make test` needs beyond scripts/install-deps.sh: Debian's
# chromium (the browser tests in tests/browser drive it headless), Node.js
# when the machine has none, and the npm packages the tests drive against
# the real server (tests/node: playwright-core, openid-client for the
# recipes, oauth4webapi for RFC 9728 discovery) exactly as
# package-lock.json pins them, and Debian's `postgresql` (server 15:
# tests/pg/cluster.py makes a throwaway cluster per ctest run from its
# initdb, run as its `postgres` user), and Debian's
# haproxy (contrib/haproxy's walkthrough, in tests/e2e/test_contrib.py),
# and Debian's prometheus for its promtool (contrib/prometheus's alert
# rules are checked and unit-tested with it; its service is never started),
# and the relying parties of the OpenID Connect tests (docs/openid-connect.md):
# Debian's Apache httpd (apache2-bin: the server and its modules, without
# the apache2 package's service and /etc/apache2, since the tests write
# their own configuration and start it themselves) with
# libapache2-mod-auth-openidc, and python3-authlib; and python3-pytest
# (the pytest fixtures of docs/test-double.md are run by the real pytest).
# adduser (the .deb's postinst, tests/e2e/test_package.py) and groff-base
# (test_manpages renders the pages) are in Debian's base system but not
# in every minimal image.
# `make run` needs none of it. Idempotent: apt is asked only for what is missing
# (through install-deps.sh), and npm ci runs only when the lock file
# changed since the last install.
set -eu
cd "$(dirname "$0")/../tests/node"

# PostgreSQL without its main cluster and without a service
# (shared/DECISIONS.md, "CI budget"): the tests make their own clusters.
# postgresql-common's postinst reads create_main_cluster from
# createcluster.conf itself (pg_conftool does not follow its include_dir),
# and keeps an existing file (UCF_FORCE_CONFFOLD) instead of asking; a
# policy-rc.d that answers 101 ("action forbidden") keeps invoke-rc.d from
# starting anything during the install, and goes away after it.
installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}
# Also for haproxy: its package would start a service of its own; and for
# Apache's packages, which start none today, so that none ever starts here.
pg_prepare() {
  installed postgresql && installed haproxy && installed apache2-bin &&
    installed libapache2-mod-auth-openidc && installed prometheus &&
    return 0
  [ "$(id -u)" -eq 0 ] || return 0   # install-deps.sh says what to run
  conf=/etc/postgresql-common/createcluster.conf
  if ! installed postgresql; then
    mkdir -p /etc/postgresql-common
    if [ -f "$conf" ] && grep -Eq '^[#[:space:]]*create_main_cluster' "$conf"; then
      sed -i -E 's/^[#[:space:]]*create_main_cluster.*/create_main_cluster = false/' \
        "$conf"
    else
      echo "create_main_cluster = false" >>"$conf"
    fi
  fi
  export UCF_FORCE_CONFFOLD=1
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# latchkey: install-test-deps.sh, no services\nexit 101\n' \
      >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    pg_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT INT TERM
  fi
}
pg_prepare

# Node.js from Debian only where the machine has none (CI's image has one).
node_pkgs=""
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
  node_pkgs="nodejs npm"
# shellcheck disable=SC2086
../../scripts/install-deps.sh chromium postgresql haproxy adduser groff-base \
  apache2-bin libapache2-mod-auth-openidc python3-authlib python3-pytest \
  prometheus \
  $node_pkgs
[ -z "${pg_policy:-}" ] || rm -f /usr/sbin/policy-rc.d

# npm ci leaves node_modules/.package-lock.json; same versions: up to date.
if [ -f node_modules/.package-lock.json ] &&
   node -e 'const a = require("./package-lock.json").packages;
            const b = require("./node_modules/.package-lock.json").packages;
            const ok = Object.keys(a).filter((k) => k !== "")
              .every((k) => b[k] && b[k].version === a[k].version);
            process.exit(ok ? 0 : 1)'; then
  exit 0
fi
echo "latchkey: npm ci (tests/node)"
npm ci --no-audit --no-fund --loglevel=error
