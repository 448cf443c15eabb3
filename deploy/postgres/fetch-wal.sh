#!/usr/bin/env bash
# restore_command = '.../fetch-wal.sh %f %p': decrypt one archived WAL file to where recovery wants it.
# A missing file exits non-zero, which recovery reads as "end of the archive".
set -euo pipefail
. "$(dirname "$0")/pitr-common.sh"
name="$1"
dest="$2"
src="$DOCUID_PITR_DIR/wal/$name.aes"
[ -f "$src" ] || exit 1
decrypt < "$src" > "$dest.partial"
mv "$dest.partial" "$dest"
