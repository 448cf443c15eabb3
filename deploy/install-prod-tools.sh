#!/bin/sh
# Install what `make prod` (deploy/prod-stack.sh) runs besides DocuID itself, from
# Debian's packages: nginx (TLS front), openssl (the self-signed certificate), curl
# and psql (readiness checks, creating the database),
# Prometheus and Alertmanager (deploy/install-monitoring-tools.sh) and the standard
# exporters (node, PostgreSQL, Redis), tesseract-ocr for the worker's OCR, and headless
# LibreOffice (Writer, Calc, Impress) with the DejaVu fonts for the worker's PDF renditions. Idempotent and quiet: nothing is installed
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
# The Celery worker OCRs scans (documents.extraction): tesseract and its English data.
command -v tesseract >/dev/null 2>&1 || missing="$missing tesseract-ocr tesseract-ocr-eng"
# The worker renders Office/OpenDocument files to PDF (documents.office, issue #15).
[ -f /usr/lib/libreoffice/program/libswlo.so ] || missing="$missing libreoffice-writer-nogui"
[ -f /usr/lib/libreoffice/program/libsclo.so ] || missing="$missing libreoffice-calc-nogui"
[ -f /usr/lib/libreoffice/program/libsdlo.so ] || missing="$missing libreoffice-impress-nogui"
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$missing fonts-dejavu-core"
[ -z "$missing" ] && exit 0

# shellcheck disable=SC2086  # $missing is a list of package names
sh "$here/apt-install-stopped.sh" $missing
for binary in nginx openssl curl psql prometheus-node-exporter prometheus-postgres-exporter prometheus-redis-exporter; do
    if ! command -v "$binary" >/dev/null 2>&1; then
        echo "install-prod-tools: packages installed but $binary is still not on PATH" >&2
        exit 1
    fi
done
