"""Reading the audit trail, and checking that nobody rewrote it."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Model, QuerySet

from audit.chain import GENESIS_HASH, compute_hash
from audit.models import AuditEvent

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
    time: datetime
    field: str  # "prev_hash": the link to the previous event; "hash": the event's own content
    expected: str
    stored: str

    def describe(self) -> str:
        what = "does not follow the previous event" if self.field == "prev_hash" else "was altered"
        return (
            f"event {self.id} at {self.time.isoformat()} {what}: "
            f"expected {self.field} {self.expected}, stored {self.stored}"
        )


@dataclass(frozen=True)
class ChainVerification:
    ok: bool
    checked: int
    head: str  # hash of the last event checked: note it down to detect truncation of the tail later
    first_broken: BrokenLink | None = None


def _events_in_chain_order() -> Iterator[AuditEvent]:
    # iterator(): a server-side cursor on PostgreSQL, so memory stays flat on millions of rows.
    return AuditEvent.objects.order_by("id").iterator(chunk_size=STREAM_CHUNK)


def audit_chain_verify() -> ChainVerification:
    """Walk the chain from the first event; stop at the first broken link."""
    expected_prev, checked = GENESIS_HASH, 0
    for event in _events_in_chain_order():
        checked += 1
        if event.prev_hash != expected_prev:
            broken = BrokenLink(event.pk, event.time, "prev_hash", expected_prev, event.prev_hash)
            return ChainVerification(ok=False, checked=checked, head=expected_prev, first_broken=broken)
        recomputed = compute_hash(event)
        if recomputed != event.hash:
            broken = BrokenLink(event.pk, event.time, "hash", recomputed, event.hash)
            return ChainVerification(ok=False, checked=checked, head=expected_prev, first_broken=broken)
        expected_prev = event.hash
    return ChainVerification(ok=True, checked=checked, head=expected_prev)
