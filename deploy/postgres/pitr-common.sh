# Sourced by the PITR scripts: environment, paths and the encrypt/decrypt filters.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ENV_FILE="${DOCUID_PITR_ENV_FILE:-/etc/docuid/pitr.env}"
if [ -r "$ENV_FILE" ]; then
    set -a
    # shellcheck disable=SC1090
    . "$ENV_FILE"
    set +a
fi
: "${DOCUID_PITR_DIR:?DOCUID_PITR_DIR is not set (see deploy/postgres/pitr-env.example)}"
: "${DOCUID_BACKUP_KEY:?DOCUID_BACKUP_KEY is not set (see deploy/postgres/pitr-env.example)}"
PY="${DOCUID_PYTHON:-$ROOT/.venv/bin/python}"
export PYTHONPATH="$ROOT" PYTHONDONTWRITEBYTECODE=1 DOCUID_BACKUP_KEY DOCUID_BACKUP_OLD_KEYS
pg_bin() { if [ -n "${PGBIN:-}" ]; then echo "$PGBIN/$1"; else echo "$1"; fi; }
encrypt() { "$PY" -m operations.crypto encrypt; }
decrypt() { "$PY" -m operations.crypto decrypt; }
