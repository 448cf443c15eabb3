#!/usr/bin/env bash
# Installs, from Debian's packages, the tools the test suite drives: chromium (browser
# tests), promtool/amtool/prometheus/alertmanager (alert rules and the end-to-end alert
# test), python3-cryptography (the PITR scripts run as the postgres user with Debian's
# python3), tesseract-ocr + tesseract-ocr-eng + fonts-dejavu-core (OCR and its tests),
# LibreOffice's Writer/Calc/Impress without a GUI (renditions of Office files, issue #15),
# nodejs + npm and then, from the npm registry, the packages pinned in
# tests/browser/package-lock.json (axe-core, injected by the page audit). Idempotent and
# quiet: nothing is installed when everything is present.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
missing=()
command -v chromium >/dev/null || missing+=(chromium)
/usr/bin/python3 -c "import cryptography" 2>/dev/null || missing+=(python3-cryptography)
command -v npm >/dev/null || missing+=(nodejs npm)
# OCR of scans (documents.extraction) and the font the OCR tests draw their scans with.
command -v tesseract >/dev/null || missing+=(tesseract-ocr)
[ -f /usr/share/tesseract-ocr/5/tessdata/eng.traineddata ] || [ -f /usr/share/tesseract-ocr/4.00/tessdata/eng.traineddata ] \
  || missing+=(tesseract-ocr-eng)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
# PDF renditions of Office/OpenDocument files (documents.office): headless LibreOffice, one package per module.
[ -f /usr/lib/libreoffice/program/libswlo.so ] || missing+=(libreoffice-writer-nogui)
[ -f /usr/lib/libreoffice/program/libsclo.so ] || missing+=(libreoffice-calc-nogui)
[ -f /usr/lib/libreoffice/program/libsdlo.so ] || missing+=(libreoffice-impress-nogui)
command -v unshare >/dev/null && command -v setpriv >/dev/null || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
bash "$here/install-monitoring-tools.sh"
# axe-core for tests/browser/test_page_audit.py, exactly as locked (npm ci) unless already there.
browser_dir="$here/../tests/browser"
if ! cmp -s "$browser_dir/package-lock.json" "$browser_dir/node_modules/.package-lock.json.installed" 2>/dev/null; then
  npm ci --prefix "$browser_dir" --no-audit --no-fund --loglevel=error >/dev/null
  cp "$browser_dir/package-lock.json" "$browser_dir/node_modules/.package-lock.json.installed"
fi
