#!/bin/sh
# Install what `make prod` (deploy/prod-stack.sh) runs besides DocuID itself, from
# Debian's packages: nginx (TLS front), openssl (the self-signed certificate), curl
# and psql (readiness checks, creating the database),
# Prometheus and Alertmanager (deploy/install-monitoring-tools.sh) and the standard
# exporters (node, PostgreSQL, Redis). Idempotent and quiet: nothing is installed
# when every binary is already on PATH. Needs root (as in CI).
#
# Debian starts the daemons of these packages when they are installed; the stack
# runs its own copies under var/prod/, so a temporary policy-rc.d (unless one
# exists already, as in Docker images) keeps the packaged services stopped.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"

sh "$here/install-monitoring-tools.sh"

missing=""
command -v nginx >/dev/null 2>&1 || missing="$missing nginx-light"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v psql >/dev/null 2>&1 || missing="$missing postgresql-client"
command -v prometheus-node-exporter >/dev/null 2>&1 || missing="$missing prometheus-node-exporter"
command -v prometheus-postgres-exporter >/dev/null 2>&1 || missing="$missing prometheus-postgres-exporter"
command -v prometheus-redis-exporter >/dev/null 2>&1 || missing="$missing prometheus-redis-exporter"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "install-prod-tools: missing$missing; re-run as root (sudo $0)" >&2
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
# shellcheck disable=SC2086  # $missing is a list of package names
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-prod-tools: apt-get failed (output above)" >&2
    exit 1
fi
for binary in nginx openssl curl psql prometheus-node-exporter prometheus-postgres-exporter prometheus-redis-exporter; do
    if ! command -v "$binary" >/dev/null 2>&1; then
        echo "install-prod-tools: packages installed but $binary is still not on PATH" >&2
        exit 1
    fi
done
