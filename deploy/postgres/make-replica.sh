#!/usr/bin/env bash
# Make a PostgreSQL streaming replica (hot standby) of a running primary in DATADIR.
#
#   PGHOST=primary PGPORT=5432 PGUSER=replicator make-replica.sh DATADIR [SLOT]
#
# Connection from libpq variables, as a role with REPLICATION (and a pg_hba.conf
# "replication" line on the primary). pg_basebackup copies the primary while it runs,
# streams the WAL written meanwhile (-X stream) and writes standby.signal and
# primary_conninfo (-R), so the copy starts as a replica that follows the primary.
# With SLOT, a physical replication slot of that name is created: the primary keeps the
# WAL the replica has not received yet (watch its disk if the replica stays down).
# The replica's own settings (hot standby, feedback) come from docuid-replica.conf: copied into
# DOCUID_REPLICA_CONF_DIR when set (Debian: /etc/postgresql/15/<cluster>/conf.d), else included
# at the end of DATADIR/postgresql.conf. Start it with pg_ctl / pg_ctlcluster.
set -euo pipefail
dest="${1:?usage: make-replica.sh DATADIR [SLOT]}"
slot="${2:-}"
pg_bin() { if [ -n "${PGBIN:-}" ]; then echo "$PGBIN/$1"; else echo "$1"; fi; }
if [ -e "$dest" ] && [ -n "$(ls -A "$dest")" ]; then
    echo "refusing: $dest exists and is not empty" >&2
    exit 2
fi
args=(-D "$dest" -X stream -R --checkpoint=fast --no-password)
if [ -n "$slot" ]; then
    args+=(-C -S "$slot")
fi
"$(pg_bin pg_basebackup)" "${args[@]}"
chmod 700 "$dest"
conf="$(cd "$(dirname "$0")" && pwd)/docuid-replica.conf"
if [ -n "${DOCUID_REPLICA_CONF_DIR:-}" ]; then
    # Debian's clusters keep their configuration in /etc/postgresql/15/<name>/ (include_dir conf.d).
    cp "$conf" "$DOCUID_REPLICA_CONF_DIR/docuid-replica.conf"
elif [ -f "$dest/postgresql.conf" ]; then
    printf "\ninclude '%s'\n" "$conf" >> "$dest/postgresql.conf"
else
    echo "note: include $conf in the replica's configuration (or set DOCUID_REPLICA_CONF_DIR)" >&2
fi
echo "replica $dest (following ${PGHOST:-local}:${PGPORT:-5432}${slot:+, slot $slot})"
