"""audit.chain.canonical_parts: the serialisation PostgreSQL completes must be canonical_bytes exactly."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from audit.chain import canonical_bytes, canonical_parts, format_time
from audit.models import AuditEvent

AWKWARD = 'say "time":"" and "prev_hash":"" \\ Zoë ✓ 𝄞 \u2028 \x7f'


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"time": "", "prev_hash": ""},
        {"nested": {"time": "", "prev_hash": "", "list": [{"time": ""}]}},
        {"text": AWKWARD, "numbers": [2.0, 1e16, -0.5, 3], "flags": [True, None]},
    ],
)
@pytest.mark.parametrize("moment", [datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), datetime(2026, 12, 31, 23, 59, 59)])
def test_the_parts_around_prev_hash_and_time_rebuild_the_canonical_bytes(data, moment):
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone(timedelta(hours=-5)))
    event = AuditEvent(
        time=moment,
        action="document.view",
        outcome="success",
        actor_repr=AWKWARD,
        target_type="documents.document",
        target_id="7",
        target_repr=AWKWARD,
        request_id="r1",
        masked_ip="203.0.113.x",
        user_agent=AWKWARD,
        data=data,
        prev_hash="ab" * 32,
    )
    head, mid, tail = canonical_parts(event)
    assert (head + event.prev_hash + mid + format_time(event.time) + tail).encode() == canonical_bytes(event)
