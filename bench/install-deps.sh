#!/bin/sh
# Installs what `make bench` needs beyond scripts/install-deps.sh: the load
# generator (Debian's wrk), Node.js for the oidc-provider and
# node-oauth2-server peers (from Debian only where the machine has none)
# and haproxy for the PostgreSQL rows of
# two instances behind a balancer (--pg). The peers themselves are
# installed by bench/peers/*/start.sh at run time. Asking apt, and what
# happens without root, is scripts/install-deps.sh's job.
set -eu
node_pkgs=""
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
  node_pkgs="nodejs npm"
# shellcheck disable=SC2086
exec "$(dirname "$0")/../scripts/install-deps.sh" wrk haproxy $node_pkgs
