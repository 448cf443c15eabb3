#!/bin/sh
# Install the monitoring tools the deploy tests need (promtool, amtool and the
# Alertmanager binary) from Debian's own packages. Idempotent and quiet: it
# does nothing when all three are already on PATH, and only prints on error.
#
#   sudo deploy/install-monitoring-tools.sh     # or as root in CI
#
# Debian ships Alertmanager as `prometheus-alertmanager` (package and binary);
# promtool comes with the `prometheus` package, amtool with the Alertmanager one.
# (.ci/run installs the same tools with deploy/install-ci-tools.sh.)
set -eu

have_all() {
    command -v promtool >/dev/null 2>&1 \
        && command -v amtool >/dev/null 2>&1 \
        && command -v prometheus-alertmanager >/dev/null 2>&1
}

if have_all; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-monitoring-tools: promtool/amtool missing; re-run as root (sudo $0)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
# Debian's packages start prometheus and prometheus-alertmanager when they are
# installed; only the binaries are wanted here, so a temporary policy-rc.d
# (unless one exists already, as in Docker images) keeps the daemons stopped.
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

if ! { apt-get update -qq \
        && apt-get install -y -qq --no-install-recommends \
            prometheus prometheus-alertmanager; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-monitoring-tools: apt-get failed (output above)" >&2
    exit 1
fi

if ! have_all; then
    echo "install-monitoring-tools: packages installed but promtool/amtool/prometheus-alertmanager still not on PATH" >&2
    exit 1
fi
