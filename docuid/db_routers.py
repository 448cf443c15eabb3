"""Reads on a PostgreSQL streaming replica, opted into explicitly; everything else on the primary.

Why explicit: routing every read to a replica would also route the reads that decide
something (a session, a password check, whether a grant still holds), and a replica
lags. A grant revoked a second ago must not show a document, so only the code that
wraps itself in `replica_reads()` reads the replica — the list and search pages and
reports, whose results are then re-checked against the primary where access matters
(documents.replica). Without DATABASE_REPLICA_URL nothing changes: every read and
write goes to "default".

The replica is skipped (reads go to the primary, never an error page):
- for a person who wrote in the last DOCUID_READ_YOUR_WRITES_SECONDS (`pin_primary`,
  set by docuid.read_your_writes for the whole request), so they see what they wrote;
- when it cannot be reached (then not tried again for DOCUID_REPLICA_DOWN_SECONDS);
- when its replay lags more than DOCUID_REPLICA_MAX_LAG_SECONDS (asked at most every
  DOCUID_REPLICA_LAG_CHECK_SECONDS per process, exported as docuid_db_replica_lag_seconds).
"""

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.utils.connection import ConnectionDoesNotExist
from prometheus_client import Gauge

logger = logging.getLogger(__name__)

REPLICA = "replica"
T = TypeVar("T")

_reading_replica: ContextVar[bool] = ContextVar("docuid_reading_replica", default=False)
_pinned: ContextVar[bool] = ContextVar("docuid_pinned_to_primary", default=False)

replica_lag_seconds = Gauge(
    "docuid_db_replica_lag_seconds",
    "Replay lag of the PostgreSQL read replica as last measured (0 when caught up; -1 when unreachable).",
    multiprocess_mode="mostrecent",  # every process measures the same replica; -1 must not hide under max
)


class _Health:
    """Per-process memory of the replica's state, so a request pays no probe at all most of the time."""

    down_until = 0.0
    lag_checked_at = 0.0
    lag = 0.0


_health = _Health()


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def pin_primary(pinned: bool = True):
    """Send this context's replica reads to the primary (read-your-writes); returns the reset token."""
    return _pinned.set(pinned)


def primary_pinned() -> bool:
    return _pinned.get()


def unpin(token) -> None:
    _pinned.reset(token)


def mark_replica_down(reason: str) -> None:
    """After a failed replica query: use the primary for DOCUID_REPLICA_DOWN_SECONDS."""
    _health.down_until = time.monotonic() + settings.DOCUID_REPLICA_DOWN_SECONDS
    replica_lag_seconds.set(-1)
    logger.warning("read replica unavailable, reading the primary", extra={"reason": reason[:200]})
    with suppress(DatabaseError, ConnectionDoesNotExist):
        connections[REPLICA].close()


def _measure_lag() -> float:
    # Caught up when everything received has been replayed (an idle primary sends nothing, so the
    # last replayed transaction's age alone would look like lag); otherwise that age.
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(
            "SELECT CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0"
            " ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
        )
        return float(cursor.fetchone()[0])


def replica_usable() -> bool:
    """Whether replica reads may go to the replica now (configured, reachable, not lagging too far)."""
    if not replica_configured() or _pinned.get():
        return False
    now = time.monotonic()
    if now < _health.down_until:
        return False
    if now - _health.lag_checked_at >= settings.DOCUID_REPLICA_LAG_CHECK_SECONDS:
        try:
            _health.lag = _measure_lag()
        except DatabaseError as exc:
            mark_replica_down(type(exc).__name__)
            return False
        _health.lag_checked_at = now
        replica_lag_seconds.set(_health.lag)
    return _health.lag <= settings.DOCUID_REPLICA_MAX_LAG_SECONDS


@contextmanager
def replica_reads() -> Iterator[str]:
    """Route the reads inside this block to the replica when it is usable; yields the alias chosen.

    Only for code that evaluates its querysets inside the block (a lazy queryset read
    later follows the router of that moment) and that tolerates data a few seconds old.
    """
    alias = REPLICA if replica_usable() else DEFAULT_DB_ALIAS
    token = _reading_replica.set(alias == REPLICA)
    try:
        yield alias
    finally:
        _reading_replica.reset(token)


def read_from_replica(read: Callable[[], T]) -> tuple[T, str]:
    """`read()` on the replica when usable, again on the primary if the replica fails midway.

    Returns the result and the alias that answered it, so the caller knows whether to
    re-check what it read against the primary.
    """
    with replica_reads() as alias:
        if alias == DEFAULT_DB_ALIAS:
            return read(), alias
        try:
            return read(), alias
        except DatabaseError as exc:
            mark_replica_down(type(exc).__name__)
    return read(), DEFAULT_DB_ALIAS


class ReplicaRouter:
    """Reads inside `replica_reads()` go to the replica; all writes and migrations to the primary."""

    def db_for_read(self, model, **hints) -> str | None:
        return REPLICA if _reading_replica.get() else None

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        # Both aliases hold the same rows (one is a copy of the other).
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        return db != REPLICA
