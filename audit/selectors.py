"""Reading the audit trail, and checking that nobody rewrote it."""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from audit.chain import GENESIS_HASH, batch_hash, compute_hash, content_hash, leaf_hash, merkle_root
from audit.models import AuditBatch, AuditChainHead, AuditEvent

STREAM_CHUNK = 2000


def audit_events_by_actor(*, actor) -> QuerySet[AuditEvent]:
    """What a person did, newest first (audit_actor_time_idx)."""
    return AuditEvent.objects.filter(actor=actor).order_by("-time", "-id")


def audit_events_for_target(*, target: Model) -> QuerySet[AuditEvent]:
    """Everything done to one object, newest first (audit_target_time_idx)."""
    return AuditEvent.objects.filter(target_type=target._meta.label_lower, target_id=str(target.pk)).order_by(
        "-time", "-id"
    )


def audit_events_for_export(
    *, since: datetime | None = None, until: datetime | None = None, action: str | None = None
) -> QuerySet[AuditEvent]:
    """Events in chain order; `since` inclusive, `until` exclusive."""
    events = AuditEvent.objects.all()
    if since is not None:
        events = events.filter(time__gte=since)
    if until is not None:
        events = events.filter(time__lt=until)
    if action:
        events = events.filter(action=action)
    return events.order_by("id")


def sealed_cursor(*, using: str = DEFAULT_DB_ALIAS) -> tuple[int | None, int]:
    """(txid, id) of the newest batch's last event: every event after it in sealing order is unsealed."""
    newest = AuditBatch.objects.using(using).order_by("-seq").values_list("last_txid", "last_event_id").first()
    return newest or (None, 0)


def _in_sealing_order(using: str) -> QuerySet[AuditEvent]:
    # Events outside the legacy chain, in the sealer's order: (txid, id) on PostgreSQL; on SQLite
    # txid is empty and the order is id (audit_seal_order_idx either way).
    return AuditEvent.objects.using(using).filter(prev_hash__isnull=True).order_by("txid", "id")


def unsealed_events(*, using: str = DEFAULT_DB_ALIAS) -> QuerySet[AuditEvent]:
    """Events the sealer has not sealed yet: those after the newest batch's last event in sealing order."""
    txid, event_id = sealed_cursor(using=using)
    events = _in_sealing_order(using)
    if txid is None:
        return events.filter(id__gt=event_id)
    # An event without a txid on PostgreSQL (inserted with the trigger disabled) is never sealed: it
    # stays here, so the gauges and audit_verify report it instead of overlooking it.
    return events.filter(Q(txid__gt=txid) | Q(txid=txid, id__gt=event_id) | Q(txid__isnull=True))


@dataclass(frozen=True)
class UnsealedStats:
    count: int
    oldest_id: int | None
    oldest_time: datetime | None

    def age_seconds(self, now: datetime | None = None) -> float:
        if self.oldest_time is None:
            return 0.0
        return max(0.0, ((now or timezone.now()) - self.oldest_time).total_seconds())


def unsealed_stats(*, using: str = DEFAULT_DB_ALIAS, older_than: datetime | None = None) -> UnsealedStats:
    """How many events wait for the sealer, and the oldest of them (by time): two index reads."""
    events = unsealed_events(using=using)
    if older_than is not None:
        events = events.filter(time__lt=older_than)
    oldest = events.order_by("time", "id").values_list("id", "time").first()
    if oldest is None:
        return UnsealedStats(0, None, None)
    return UnsealedStats(events.count(), oldest[0], oldest[1])


@dataclass(frozen=True)
class BrokenLink:
    id: int  # the event's id; for the batch checks (fields starting with "batch"), the batch's seq
    time: datetime | None  # None when the event itself is gone (field "head" / "saved_head") or for a batch
    # Legacy chain (events before migration 0005):
    # "prev_hash": the link to the previous event; "hash": the event's own content;
    # "head": the head row names an event (or batch) the trail no longer reaches;
    # "saved_head": a head hash noted down earlier is no longer in the trail.
    # Sealed batches: "hash" (an event's content, as above); "batch_events": the next
    # event_count events in sealing order do not end at the batch's last event (an event
    # removed, added or moved);
    # "batch_merkle_root"; "batch_prev_hash" (the batch chain); "batch_hash" (the batch row);
    # "batch_outside": an event carries a position no batch covers.
    field: str
    expected: str
    stored: str

    def describe(self) -> str:
        if self.field == "head" and not self.expected:
            return f"the chain's head row is missing (removed behind the application's back); it ends at {self.stored}"
        if self.field == "head":
            return (
                f"event {self.id}, the newest event recorded in the chain's head, is missing or altered: "
                f"expected hash {self.expected}, the chain ends at hash {self.stored} "
                "(its newest events were removed or replaced)"
            )
        if self.field == "batch_head":
            return (
                f"batch {self.id}, the newest batch recorded in the trail's head, is missing or altered: "
                f"expected hash {self.expected}, the batches end at hash {self.stored} "
                "(the newest batches were removed or replaced)"
            )
        if self.field == "saved_head":
            return (
                f"the saved head {self.expected} is not in the chain, which ends at hash {self.stored} "
                "(events or batches up to the saved head were removed or replaced)"
            )
        if self.field == "batch_events":
            return (
                f"sealed batch {self.id} does not hold exactly its events: expected {self.expected}, "
                f"found {self.stored} (a sealed event was removed, added or moved)"
            )
        if self.field.startswith("batch_"):
            what = {
                "batch_merkle_root": "Merkle root does not match its events",
                "batch_prev_hash": "does not follow the previous batch",
                "batch_hash": "row was altered",
            }[self.field]
            return f"sealed batch {self.id} {what}: expected {self.expected}, stored {self.stored}"
        what = "does not follow the previous event" if self.field == "prev_hash" else "was altered"
        return (
            f"event {self.id} at {self.time.isoformat()} {what}: "
            f"expected {self.field} {self.expected}, stored {self.stored}"
        )


@dataclass(frozen=True)
class ChainVerification:
    intact: bool  # every legacy link, sealed event and batch checks out
    checked: int  # events verified: the legacy chain's and the sealed ones
    head: str  # hash of the newest batch (or legacy event) checked: `audit_verify --saved-head` checks it later
    first_broken: BrokenLink | None = None
    batches: int = 0
    unsealed: UnsealedStats = UnsealedStats(0, None, None)
    overdue: UnsealedStats = UnsealedStats(0, None, None)  # unsealed for longer than AUDIT_SEAL_MAX_DELAY

    @property
    def ok(self) -> bool:
        return self.intact and not self.overdue.count


def _legacy_chain(using: str) -> Iterator[AuditEvent]:
    # iterator(): a server-side cursor on PostgreSQL, so memory stays flat on millions of rows.
    return (
        AuditEvent.objects.using(using).filter(prev_hash__isnull=False).order_by("id").iterator(chunk_size=STREAM_CHUNK)
    )


def _sealed_events(using: str) -> Iterator[AuditEvent]:
    return _in_sealing_order(using).iterator(chunk_size=STREAM_CHUNK)


@dataclass
class _Walk:
    checked: int = 0
    head: str = GENESIS_HASH
    hashes_seen: bool = False  # the saved head, if any, was met


def _verify_legacy(walk: _Walk, head_row, saved_head: str | None, using: str) -> BrokenLink | None:
    """The per-event chain of events written before migration 0005: each links to the previous hash."""
    head_id, head_hash = (head_row.last_event_id, head_row.last_hash) if head_row else (0, GENESIS_HASH)
    last_id = 0
    for event in _legacy_chain(using):
        walk.checked += 1
        if event.prev_hash != walk.head:
            return BrokenLink(event.pk, event.time, "prev_hash", walk.head, event.prev_hash)
        recomputed = compute_hash(event)
        if recomputed != event.hash:
            return BrokenLink(event.pk, event.time, "hash", recomputed, event.hash)
        if event.pk == head_id and event.hash != head_hash:
            return BrokenLink(head_id, None, "head", head_hash, event.hash)
        walk.hashes_seen = walk.hashes_seen or event.hash == saved_head
        walk.head, last_id = event.hash, event.pk
    if last_id < head_id or (head_row is None and walk.checked):
        # The newest events are gone: what is left links up, but does not reach the recorded head.
        return BrokenLink(head_id, None, "head", head_hash if head_row else "", walk.head)
    return None


def _verify_batch(batch: AuditBatch, events: list[AuditEvent], walk: _Walk, prev_seq: int, prev_last: int):
    """`events`: the next batch.event_count events in sealing order (fewer if the trail ends first)."""
    if batch.seq != prev_seq + 1 or batch.first_position != prev_last + 1:
        # A batch removed (its events then fall into the next one) or renumbered.
        return BrokenLink(batch.seq, None, "batch_prev_hash", f"batch {prev_seq + 1} from position {prev_last + 1}",
                          f"batch {batch.seq} from position {batch.first_position}")  # fmt: skip
    expected_end = (batch.last_txid, batch.last_event_id)
    found_end = (events[-1].txid, events[-1].pk) if events else None
    count_ok = len(events) == batch.event_count == batch.last_position - batch.first_position + 1
    if not count_ok or found_end != expected_end:
        expected = f"{batch.event_count} events ending at event {batch.last_event_id}"
        found = f"{len(events)} events ending at event {found_end[1]}" if events else "no events"
        return BrokenLink(batch.seq, None, "batch_events", expected, found)
    leaves = []
    for position, event in enumerate(events, start=batch.first_position):
        walk.checked += 1
        recomputed = content_hash(event)
        if recomputed != event.hash:
            return BrokenLink(event.pk, event.time, "hash", recomputed, event.hash)
        leaves.append(leaf_hash(position, event.pk, recomputed))
    root = merkle_root(leaves)
    if root != batch.merkle_root:
        return BrokenLink(batch.seq, None, "batch_merkle_root", root, batch.merkle_root)
    if batch.prev_hash != walk.head:
        return BrokenLink(batch.seq, None, "batch_prev_hash", walk.head, batch.prev_hash)
    recomputed = batch_hash(batch)
    if recomputed != batch.hash:
        return BrokenLink(batch.seq, None, "batch_hash", recomputed, batch.hash)
    return None


def _verify_batches(walk: _Walk, head_row, saved_head: str | None, using: str) -> tuple[BrokenLink | None, int]:
    """Every sealed batch in seq order, each against the next event_count events in sealing order."""
    head_seq = head_row.last_batch_seq if head_row else 0
    head_hash = head_row.last_batch_hash if head_row else ""
    events = _sealed_events(using)
    prev_seq = prev_last = count = 0
    for batch in AuditBatch.objects.using(using).order_by("seq").iterator(chunk_size=STREAM_CHUNK):
        members = list(itertools.islice(events, max(batch.event_count, 0)))
        broken = _verify_batch(batch, members, walk, prev_seq, prev_last)
        if broken is not None:
            return broken, count
        if batch.seq == head_seq and batch.hash != head_hash:
            return BrokenLink(head_seq, None, "batch_head", head_hash, batch.hash), count
        walk.hashes_seen = walk.hashes_seen or batch.hash == saved_head
        walk.head, prev_seq, prev_last, count = batch.hash, batch.seq, batch.last_position, count + 1
    if head_row is None and count:
        return BrokenLink(0, None, "head", "", walk.head), count
    if prev_seq < head_seq:
        return BrokenLink(head_seq, None, "batch_head", head_hash, walk.head), count
    return None, count


def audit_chain_verify(
    *, saved_head: str | None = None, using: str = DEFAULT_DB_ALIAS, now: datetime | None = None
) -> ChainVerification:
    """Verify the whole trail; stop at the first broken link. Also count events left unsealed too long.

    1. The legacy chain (events before migration 0005) from the first event: each links
       to the previous hash, and it reaches the event the head row records.
    2. Every sealed batch in order: its events are the next event_count in sealing order
       and end at its recorded last event; each event's content hash, the Merkle root,
       the link to the previous batch (the first links to the legacy chain's end), the
       batch's own hash; the batches reach the head row's newest batch.
    3. `saved_head` (a head noted down earlier, outside the database) is a batch or legacy hash met on the way.
    4. Unsealed events older than AUDIT_SEAL_MAX_DELAY are reported (the sealer is behind or stopped).
    The head row is read before the walk, so batches sealed meanwhile are simply walked too.
    """
    head_row = AuditChainHead.objects.using(using).filter(pk=1).first()
    walk = _Walk(hashes_seen=saved_head in (None, GENESIS_HASH))
    broken = _verify_legacy(walk, head_row, saved_head, using)
    batches = 0
    if broken is None:
        broken, batches = _verify_batches(walk, head_row, saved_head, using)
    if broken is None and not walk.hashes_seen:
        broken = BrokenLink(0, None, "saved_head", saved_head, walk.head)
    now = now or timezone.now()
    unsealed = unsealed_stats(using=using)
    overdue = unsealed_stats(using=using, older_than=now - timedelta(seconds=settings.AUDIT_SEAL_MAX_DELAY))
    return ChainVerification(
        intact=broken is None,
        checked=walk.checked,
        head=walk.head,
        first_broken=broken,
        batches=batches,
        unsealed=unsealed,
        overdue=overdue,
    )


def audit_trail_head(*, using: str = DEFAULT_DB_ALIAS) -> str:
    """The hash a backup manifest records: the newest batch's, else the legacy chain's newest event's."""
    newest = AuditBatch.objects.using(using).order_by("-seq").values_list("hash", flat=True).first()
    if newest:
        return newest
    legacy = AuditEvent.objects.using(using).filter(prev_hash__isnull=False).order_by("-id")
    return legacy.values_list("hash", flat=True).first() or GENESIS_HASH


def document_reads_since(*, since: datetime) -> tuple[int, int]:
    """(succeeded, failed in storage) opens and downloads since `since`: one query on audit_action_time_idx."""
    from django.db.models import Count, Q

    from audit.actions import Action, Outcome

    counts = AuditEvent.objects.filter(
        action__in=[Action.DOCUMENT_OPEN, Action.DOCUMENT_DOWNLOAD], time__gte=since
    ).aggregate(
        succeeded=Count("id", filter=Q(outcome=Outcome.SUCCESS)),
        failed=Count("id", filter=Q(outcome=Outcome.FAILURE, data__reason="storage_error")),
    )
    return counts["succeeded"], counts["failed"]
