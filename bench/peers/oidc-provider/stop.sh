#!/bin/sh
# Stops the oidc-provider peer started by start.sh in WORKDIR: SIGTERM to
# every pid it recorded (in cluster mode the primary and its workers), then
# SIGKILL after 5 s. No error if it is already gone.
#
#   bench/peers/oidc-provider/stop.sh WORKDIR
set -eu
# shellcheck disable=SC2034  # PEER is read by common.sh
PEER=oidc-provider
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/../common.sh
. "$HERE/../common.sh"

[ $# -eq 1 ] || die "usage: $0 WORKDIR"
stop_recorded "$1" server.mjs
