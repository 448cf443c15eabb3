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

sh "$(dirname "$0")/apt-install-stopped.sh" prometheus prometheus-alertmanager

if ! have_all; then
    echo "install-monitoring-tools: packages installed but promtool/amtool/prometheus-alertmanager still not on PATH" >&2
    exit 1
fi
