#!/usr/bin/env bash
# restore-to-time.sh 'YYYY-MM-DD HH:MM:SS+00' NEW_DATADIR
# Unpack the newest base backup taken before the target time into NEW_DATADIR (must not exist or be
# empty) and configure recovery to replay archived WAL up to that time, then promote. Start the
# server on NEW_DATADIR afterwards (pg_ctl start / systemctl); it stops at the target and opens.
# Run as the postgres user. Runbook: docs/runbooks/pitr.md.
set -euo pipefail
. "$(dirname "$0")/pitr-common.sh"
target="${1:?usage: restore-to-time.sh 'YYYY-MM-DD HH:MM:SS+00' NEW_DATADIR}"
datadir="${2:?usage: restore-to-time.sh 'YYYY-MM-DD HH:MM:SS+00' NEW_DATADIR}"
target_label="$(date -u -d "$target" +%Y%m%dT%H%M%SZ)"
base=""
for candidate in "$DOCUID_PITR_DIR"/base/*.tar.aes; do
    [ -e "$candidate" ] || continue
    label="$(basename "$candidate" .tar.aes)"
    if [[ ! "$label" > "$target_label" ]]; then base="$candidate"; fi
done
if [ -z "$base" ]; then
    echo "restore-to-time: no base backup in $DOCUID_PITR_DIR/base taken before $target" >&2
    exit 1
fi
if [ -d "$datadir" ] && [ -n "$(ls -A "$datadir")" ]; then
    echo "restore-to-time: $datadir is not empty; restore into a new directory" >&2
    exit 1
fi
mkdir -p "$datadir"
chmod 700 "$datadir"
echo "restoring base backup $base into $datadir"
decrypt < "$base" | tar -x -C "$datadir"
here="$(cd "$(dirname "$0")" && pwd)"
cat >> "$datadir/postgresql.auto.conf" <<CONF
# Added by restore-to-time.sh: point-in-time recovery to $target
restore_command = '$here/fetch-wal.sh %f %p'
recovery_target_time = '$target'
recovery_target_action = 'promote'
CONF
touch "$datadir/recovery.signal"
echo "configured recovery to $target; start PostgreSQL on $datadir"
