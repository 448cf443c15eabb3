#!/usr/bin/env bash
# Installs, from Debian's packages, the tools the test suite drives: chromium (browser
# tests), promtool/amtool/prometheus/alertmanager (alert rules and the end-to-end alert
# test), python3-cryptography (the PITR scripts run as the postgres user with Debian's
# python3). Idempotent and quiet: nothing is installed when everything is present.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
missing=()
command -v chromium >/dev/null || missing+=(chromium)
/usr/bin/python3 -c "import cryptography" 2>/dev/null || missing+=(python3-cryptography)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
bash "$here/install-monitoring-tools.sh"
