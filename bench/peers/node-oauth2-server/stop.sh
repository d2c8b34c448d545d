#!/bin/sh
# Stops the node-oauth2-server peer started by start.sh in WORKDIR: SIGTERM
# to the pid it recorded, then SIGKILL after 5 s. No error if it is already
# gone.
#
#   bench/peers/node-oauth2-server/stop.sh WORKDIR
set -eu
# shellcheck disable=SC2034  # PEER is read by common.sh
PEER=node-oauth2-server
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/../common.sh
. "$HERE/../common.sh"

[ $# -eq 1 ] || die "usage: $0 WORKDIR"
stop_recorded "$1" server.mjs
