#!/bin/sh
# Stops the glewlwyd peer started by start.sh in WORKDIR: SIGTERM, then
# SIGKILL after 5 s. No error if it is already gone.
#
#   bench/peers/glewlwyd/stop.sh WORKDIR
set -eu
# shellcheck disable=SC2034  # PEER is read by common.sh
PEER=glewlwyd
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/../common.sh
. "$HERE/../common.sh"

[ $# -eq 1 ] || die "usage: $0 WORKDIR"
[ -d "$1" ] || exit 0
WORKDIR=$(cd "$1" && pwd)
stop_recorded "$WORKDIR" "$WORKDIR/glewlwyd.conf"
