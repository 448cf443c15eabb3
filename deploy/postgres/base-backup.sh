#!/usr/bin/env bash
# Take an encrypted base backup into $DOCUID_PITR_DIR/base/<UTC time>.tar.aes (run daily, e.g. after
# `manage.py backup`). Connection from libpq variables (PGHOST, PGPORT, PGUSER) as a replication user.
set -euo pipefail
. "$(dirname "$0")/pitr-common.sh"
label="$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$DOCUID_PITR_DIR/base"
dest="$DOCUID_PITR_DIR/base/$label.tar.aes"
tmp="$dest.partial"
trap 'rm -f "$tmp"' EXIT
# -Ft to stdout: one tar of the data directory; -X fetch puts the WAL needed for consistency inside it.
"$(pg_bin pg_basebackup)" -D - -Ft -X fetch --checkpoint=fast --no-password | encrypt > "$tmp"
sync "$tmp"
mv "$tmp" "$dest"
trap - EXIT
echo "base backup $dest"
