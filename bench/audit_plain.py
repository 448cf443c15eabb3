"""What the audit benches compare the trail with (issue #16), and how they count CPU time. Bench-only.

- `PLAIN_TABLE`: a table with the audit table's columns, indexes and foreign key, and
  none of its triggers; nothing seals it.
- `plain_insert`: the same arguments as `audit.record`, one INSERT of the same column
  values into that table: no validation, no content hash, no trigger, no sealer, no
  metrics or log line after commit. What an application without a tamper-evident trail
  would write.
- `record_into_plain_table`: the shipped `audit.record()` (validation, hash, metrics,
  log line) writing into that table instead: the difference from the real trail is then
  only the table's trigger and the sealer.
- `plain_audit(kind)`: while it is open, `documents.services.access.record` (what the
  document views call) does one of the two. Installed only when a bench-only view first
  asks for it (bench/documents_urls.py), never under the production URLconf.

CPU time: `process_cpu_seconds(pid)` reads user + system time from /proc, so a bench can
charge a request or transaction with its client's and its PostgreSQL backend's CPU —
figures that hold still on a shared machine where wall-clock throughput mostly measures
the queue for the cores.
"""

import contextvars
import json
import os
import platform
import time
from contextlib import contextmanager
from functools import wraps
from pathlib import Path

PLAIN_TABLE = "bench_plain_auditevent"
KINDS = ("insert", "record")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_kind = contextvars.ContextVar("bench_plain_audit", default=None)
_COLUMNS = (
    "time, action, outcome, actor_id, actor_repr, target_type, target_id, target_repr, "
    "request_id, masked_ip, user_agent, data, hash"
)
_INSERT = f"INSERT INTO {PLAIN_TABLE} ({_COLUMNS}) VALUES ({', '.join(['%s'] * 13)})"


def create_plain_table(cursor) -> None:
    """The audit table's shape, indexes and foreign key (DEFERRABLE INITIALLY DEFERRED, as Django
    creates it); LIKE copies no triggers. Idempotent."""
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {PLAIN_TABLE} (LIKE audit_auditevent INCLUDING ALL)")
    cursor.execute(
        "SELECT 1 FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
        [PLAIN_TABLE],
    )
    if cursor.fetchone() is None:
        cursor.execute(
            f"ALTER TABLE {PLAIN_TABLE} ADD FOREIGN KEY (actor_id) REFERENCES accounts_user (id) "
            "DEFERRABLE INITIALLY DEFERRED"
        )


def plain_insert(action, *, outcome="success", actor=None, target=None, target_repr=None, request=None, data=None):
    """One INSERT of the columns audit.record would write, computed the plain way."""
    from django.db import connection
    from django.utils import timezone

    from audit.services import mask_ip

    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    meta = request.META if request is not None else {}
    row = (
        timezone.now(),
        str(action),
        str(outcome),
        actor.pk if authenticated else None,
        str(getattr(actor, "name", "")) if authenticated else "",
        target._meta.label_lower if target is not None else "",
        str(target.pk) if target is not None else "",
        (target_repr if target_repr is not None else str(target))[:255] if target is not None else "",
        str(getattr(request, "request_id", "") or "")[:128],
        mask_ip(meta.get("REMOTE_ADDR")),
        meta.get("HTTP_USER_AGENT", "")[:256],
        json.dumps(data or {}),
        "",
    )
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, row)


def record_into_plain_table(*args, **kwargs):
    """The shipped audit.record() with its model pointed at the plain table for this one call.

    Swapping the model's table is safe only where one request runs at a time per process
    (gunicorn's sync workers, as deployed; the bench processes): bench use only.
    """
    from audit import record
    from audit.models import AuditEvent

    table = AuditEvent._meta.db_table
    AuditEvent._meta.db_table = PLAIN_TABLE
    try:
        return record(*args, **kwargs)
    finally:
        AuditEvent._meta.db_table = table


_REPLACEMENTS = {"insert": plain_insert, "record": record_into_plain_table}


def _install() -> None:
    """Route documents.services.access.record through the context variable (once per process)."""
    from documents.services import access

    if getattr(access.record, "bench_plain_audit", False):
        return
    real = access.record

    @wraps(real)
    def record(*args, **kwargs):
        kind = _kind.get()
        return (_REPLACEMENTS[kind] if kind else real)(*args, **kwargs)

    record.bench_plain_audit = True
    access.record = record


@contextmanager
def plain_audit(kind: str):
    """Within the block, the document views' audit events go to the plain table (`kind`: see KINDS)."""
    if kind not in _REPLACEMENTS:
        raise ValueError(f"Unknown plain audit kind {kind!r}; one of {KINDS}.")
    _install()
    token = _kind.set(kind)
    try:
        yield
    finally:
        _kind.reset(token)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (0 if it is gone). /proc, 10 ms ticks."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def write_result(root: Path, name: str, figures: dict) -> Path:
    """var/bench/<name>.json: the figures with when, where and the load average at the end."""
    out = root / "var" / "bench" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    header = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "host": platform.node()}
    header |= {"cpus": os.cpu_count(), "load_average_end": os.getloadavg()}
    out.write_text(json.dumps({**header, **figures}, indent=2))
    return out


def backend_pid(cursor) -> int:
    cursor.execute("SELECT pg_backend_pid()")
    return cursor.fetchone()[0]


def seal_loop(environ: dict, interval: float, start, stop, results) -> None:
    """As the beat task: seal every `interval` seconds until `stop` is set (a spawned process).

    Puts {"worst_lag_s": the oldest unsealed event's age seen before each run,
    "cpu_s": this process's and its PostgreSQL backend's CPU seconds while sealing}.
    """
    import logging
    import time

    os.environ.update(environ)
    import django

    logging.disable(logging.INFO)
    django.setup()
    from django.db import connection

    from audit.sealer import audit_seal
    from audit.selectors import unsealed_stats

    with connection.cursor() as cursor:
        backend = backend_pid(cursor)
    audit_seal()  # what is left over, before the clock starts
    if start is not None:
        start.wait()
    cpu = time.process_time(), process_cpu_seconds(backend)
    worst = 0.0
    while not stop.wait(interval):
        worst = max(worst, unsealed_stats().age_seconds())
        audit_seal()
    used = time.process_time() - cpu[0] + process_cpu_seconds(backend) - cpu[1]
    connection.close()
    results.put({"worst_lag_s": worst, "cpu_s": used})
