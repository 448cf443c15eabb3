"""Sealing the audit trail: committed events, in the order they became final, into hash-linked batches.

Appending an event is a plain INSERT (audit.services.audit_record), so nothing
orders concurrent writers at insert time. The sealer does, afterwards, like a
certificate-transparency log merging its queue within a maximum merge delay:

1. On PostgreSQL it takes a *horizon*: the oldest transaction id still running
   in this database (other than its own), or one past its own id if none is. Every event
   whose inserting transaction (`txid`, stamped by a trigger) is below the horizon
   is final: committed and visible, or rolled back and gone. Nothing can still
   commit "before" it: a transaction running now or started later has an id at or
   above the horizon. So events are sealed in the order they became final and a
   sealed prefix never gets an event inserted into it. A long transaction holds
   the horizon back (its own and every later event wait), never lets anything slip.
   SQLite has one writer at a time (BEGIN IMMEDIATE): every event the sealer can
   see is committed, and nobody writes while it runs.
2. The final events after the newest batch's last one, in (txid, id) order (SQLite:
   id), become the next positions; each run of up to AUDIT_SEAL_BATCH_MAX of them
   becomes an AuditBatch with the RFC 6962 Merkle root of its events (leaf:
   position, id, content hash), the (txid, id) of its last event and the previous
   batch's hash. The head row moves to the newest batch in the same transaction.
   No event is updated: every event sorting before a sealed one is final, and every
   event still to come sorts after it (a later transaction has a higher id), so
   "the next event_count events after the previous batch" names a batch's events
   for ever.

Only one sealer works at a time (a transaction-scoped advisory lock on
PostgreSQL, the write lock on SQLite); a second one returns at once.
"""

import hashlib
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.chain import GENESIS_HASH, batch_hash, leaf_hash, merkle_root
from audit.models import AuditBatch, AuditChainHead, AuditEvent

logger = logging.getLogger("docuid.audit")

# Only sealers take this lock: writers of the trail never wait for it.
SEAL_LOCK_KEY = int.from_bytes(hashlib.sha256(b"docuid.audit.sealer").digest()[:8], "big", signed=True)

# The horizon: the oldest transaction of *this database* still running other than ours,
# or one past our own id if none is. Transaction ids are cluster-wide, so
# pg_snapshot_xmin(pg_current_snapshot()) would also wait for every other database's long
# transactions (a report in another database held a test cluster's sealing back for
# minutes); and a snapshot's xmax is one past the newest *completed* id, not the next one
# to be assigned, so running ids can lie above it. Instead the sealer takes its own id
# first (it writes anyway), then reads every backend's current id: an id below ours was
# assigned before ours, so its transaction is either seen running (and holds the horizon
# back) or had ended when it was looked at (its commit is visible to the sealer's next
# statement); any id assigned later is above ours. Prepared (two-phase) transactions count
# too. Events of our own transaction are sealed with it: they commit or roll back together.
_PG_OWN_XID = "SELECT pg_stat_clear_snapshot(), pg_current_xact_id()::text::bigint"
_PG_RUNNING_XIDS = """
SELECT backend_xid::text::bigint FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL
UNION ALL
SELECT transaction::text::bigint FROM pg_prepared_xacts WHERE database = current_database()
"""
_EPOCH = 1 << 32


def _full_xid(xid32: int, near: int) -> int:
    """The 64-bit id of a running 32-bit xid (pg_stat_activity's), near `near` (running ids are within 2^31)."""
    delta = (xid32 - near % _EPOCH + (_EPOCH >> 1)) % _EPOCH - (_EPOCH >> 1)
    return near + delta


@dataclass(frozen=True)
class SealResult:
    batches: int
    events: int
    horizon_txid: int | None = None
    busy: bool = False  # another sealer held the lock: this run did nothing


def _take_lock_and_horizon(cursor) -> tuple[bool, int | None]:
    if connection.vendor != "postgresql":
        return True, None
    cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])
    if not cursor.fetchone()[0]:
        return False, None
    cursor.execute(_PG_OWN_XID)
    own_xid = cursor.fetchone()[1]
    cursor.execute(_PG_RUNNING_XIDS)
    return True, min([own_xid + 1, *(_full_xid(row[0], own_xid) for row in cursor.fetchall())])


def _head() -> AuditChainHead:
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None:
        return head
    # No head row: a new database (or a test database emptied between tests). The legacy
    # chain, if any, ends at its newest event.
    legacy = AuditEvent.objects.filter(prev_hash__isnull=False).order_by("-id").values_list("id", "hash").first()
    last_id, last_hash = legacy or (0, GENESIS_HASH)
    return AuditChainHead.objects.create(pk=1, last_event_id=last_id, last_hash=last_hash)


def _legacy_end() -> str:
    """The first batch follows the legacy chain (events before migration 0005) where it ends."""
    legacy = AuditEvent.objects.filter(prev_hash__isnull=False).order_by("-id").values_list("hash", flat=True)
    return legacy.first() or GENESIS_HASH


_NEXT_PG = """
SELECT id, hash, txid FROM audit_auditevent
WHERE prev_hash IS NULL AND (txid, id) > (%s, %s) AND txid < %s
ORDER BY txid, id LIMIT %s
"""
_NEXT_SQLITE = """
SELECT id, hash, txid FROM audit_auditevent
WHERE prev_hash IS NULL AND id > %s
ORDER BY id LIMIT %s
"""


def _next_events(cursor, after: tuple[int | None, int], horizon: int | None, limit: int) -> list[tuple]:
    """The next final events in sealing order after `after` (the last sealed event's txid, id)."""
    if horizon is None:
        cursor.execute(_NEXT_SQLITE, [after[1], limit])
    else:
        cursor.execute(_NEXT_PG, [after[0] if after[0] is not None else -1, after[1], horizon, limit])
    return cursor.fetchall()


def audit_seal(*, max_batches: int | None = None, batch_size: int | None = None) -> SealResult:
    """Seal every final, unsealed event (up to max_batches batches); return what was done.

    Runs in its own transaction (or a savepoint of the caller's): the batches and the
    head commit together or not at all.
    """
    batch_size = batch_size or settings.AUDIT_SEAL_BATCH_MAX
    max_batches = max_batches or settings.AUDIT_SEAL_MAX_BATCHES_PER_RUN
    sealed_batches = sealed_events = 0
    with transaction.atomic(), connection.cursor() as cursor:
        acquired, horizon = _take_lock_and_horizon(cursor)
        if not acquired:
            return SealResult(0, 0, busy=True)
        head = _head()
        seq = head.last_batch_seq
        prev_hash = head.last_batch_hash if seq else _legacy_end()
        newest = AuditBatch.objects.filter(seq=seq).values_list("last_position", "last_txid", "last_event_id").first()
        position, *after = newest or (0, None, 0)
        while sealed_batches < max_batches:
            rows = _next_events(cursor, tuple(after), horizon, batch_size)
            if not rows:
                break
            first = position + 1
            leaves = [leaf_hash(first + index, event_id, digest) for index, (event_id, digest, _) in enumerate(rows)]
            batch = AuditBatch(
                seq=seq + 1,
                first_position=first,
                last_position=position + len(rows),
                last_txid=rows[-1][2],
                last_event_id=rows[-1][0],
                event_count=len(rows),
                merkle_root=merkle_root(leaves),
                prev_hash=prev_hash,
                sealed_at=timezone.now(),
                horizon_txid=horizon,
            )
            batch.hash = batch_hash(batch)
            batch.save()
            seq, prev_hash, position, after = batch.seq, batch.hash, batch.last_position, [rows[-1][2], rows[-1][0]]
            sealed_batches += 1
            sealed_events += len(rows)
        if sealed_batches:
            AuditChainHead.objects.filter(pk=1).update(last_batch_seq=seq, last_batch_hash=prev_hash)
    if sealed_batches:
        logger.info(
            "audit sealed %s events in %s batches, up to batch %s",
            sealed_events,
            sealed_batches,
            seq,
            extra={"events": sealed_events, "batches": sealed_batches, "batch_seq": seq},
        )
    return SealResult(sealed_batches, sealed_events, horizon)
