#!/bin/sh
# apt-get install PACKAGE... quietly (its output shown only on failure), keeping the daemons
# Debian would start on install stopped: DocuID's stack and the tests run their own copies.
# A temporary policy-rc.d does that, unless one exists already (as in Docker images).
#
#   deploy/apt-install-stopped.sh prometheus prometheus-alertmanager     # as root
set -eu
[ "$#" -gt 0 ] || exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "$(basename "$0"): missing $*; re-run as root (sudo $0 $*)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
policy=/usr/sbin/policy-rc.d
created_policy=0
cleanup() {
    rm -f "$log"
    if [ "$created_policy" -eq 1 ]; then
        rm -f "$policy"
    fi
}
trap cleanup EXIT
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    created_policy=1
fi
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "$(basename "$0"): apt-get failed (output above)" >&2
    exit 1
fi
