"""Reading the audit trail, and checking that nobody rewrote it."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Model, QuerySet

from audit.chain import GENESIS_HASH, compute_hash
from audit.models import AuditChainHead, AuditEvent

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


@dataclass(frozen=True)
class BrokenLink:
    id: int
    time: datetime | None  # None when the event itself is gone (field "head" / "saved_head")
    # "prev_hash": the link to the previous event; "hash": the event's own content;
    # "head": the chain's head row names an event the chain no longer reaches;
    # "saved_head": a head hash noted down earlier is no longer in the chain.
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
        if self.field == "saved_head":
            return (
                f"the saved head {self.expected} is not in the chain, which ends at event {self.id} "
                f"with hash {self.stored} (events up to the saved head were removed or replaced)"
            )
        what = "does not follow the previous event" if self.field == "prev_hash" else "was altered"
        return (
            f"event {self.id} at {self.time.isoformat()} {what}: "
            f"expected {self.field} {self.expected}, stored {self.stored}"
        )


@dataclass(frozen=True)
class ChainVerification:
    ok: bool
    checked: int
    head: str  # hash of the last event checked: note it down, `audit_verify --saved-head` checks it later
    first_broken: BrokenLink | None = None


def _events_in_chain_order() -> Iterator[AuditEvent]:
    # iterator(): a server-side cursor on PostgreSQL, so memory stays flat on millions of rows.
    return AuditEvent.objects.order_by("id").iterator(chunk_size=STREAM_CHUNK)


def audit_chain_verify(*, saved_head: str | None = None) -> ChainVerification:
    """Walk the chain from the first event; stop at the first broken link.

    The chain must also reach the event its head row records (read before the walk, so
    events appended meanwhile are simply walked too) and, if given, contain `saved_head`:
    a hash noted down earlier, which the database alone cannot rewrite.
    """
    head = AuditChainHead.objects.filter(pk=1).values_list("last_event_id", "last_hash").first()
    head_id, head_hash = head or (0, GENESIS_HASH)
    expected_prev, checked, last_id = GENESIS_HASH, 0, 0
    saved_head_seen = saved_head in (None, GENESIS_HASH)
    for event in _events_in_chain_order():
        checked += 1
        if event.prev_hash != expected_prev:
            broken = BrokenLink(event.pk, event.time, "prev_hash", expected_prev, event.prev_hash)
            return ChainVerification(ok=False, checked=checked, head=expected_prev, first_broken=broken)
        recomputed = compute_hash(event)
        if recomputed != event.hash:
            broken = BrokenLink(event.pk, event.time, "hash", recomputed, event.hash)
            return ChainVerification(ok=False, checked=checked, head=expected_prev, first_broken=broken)
        if event.pk == head_id and event.hash != head_hash:
            broken = BrokenLink(head_id, None, "head", head_hash, event.hash)
            return ChainVerification(ok=False, checked=checked, head=expected_prev, first_broken=broken)
        saved_head_seen = saved_head_seen or event.hash == saved_head
        expected_prev, last_id = event.hash, event.pk
    if last_id < head_id or (head is None and checked):
        # The newest events are gone: what is left links up, but does not reach the recorded head.
        broken = BrokenLink(head_id, None, "head", head_hash if head else "", expected_prev)
        return ChainVerification(ok=False, checked=checked, head=expected_prev, first_broken=broken)
    if not saved_head_seen:
        broken = BrokenLink(last_id, None, "saved_head", saved_head, expected_prev)
        return ChainVerification(ok=False, checked=checked, head=expected_prev, first_broken=broken)
    return ChainVerification(ok=True, checked=checked, head=expected_prev)


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
