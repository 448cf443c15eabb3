#!/usr/bin/env bash
# archive_command = '.../archive-wal.sh %p %f': encrypt one WAL segment into $DOCUID_PITR_DIR/wal/.
# Exit 0 only once the segment is durably stored; PostgreSQL retries otherwise and keeps the segment.
set -euo pipefail
. "$(dirname "$0")/pitr-common.sh"
src="$1"
name="$2"
dest="$DOCUID_PITR_DIR/wal/$name.aes"
mkdir -p "$DOCUID_PITR_DIR/wal"
if [ -e "$dest" ]; then
    # Already archived (a retry after a crash): fine if identical, never overwrite a different one.
    if decrypt < "$dest" | cmp -s - "$src"; then exit 0; fi
    echo "archive-wal: $dest exists with different content; refusing to overwrite" >&2
    exit 1
fi
tmp="$dest.partial.$$"
trap 'rm -f "$tmp"' EXIT
encrypt < "$src" > "$tmp"
sync "$tmp"
mv "$tmp" "$dest"
trap - EXIT
