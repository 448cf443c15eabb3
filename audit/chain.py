"""The hash chain: each event's hash covers the previous hash and the event's stored fields.

A changed, inserted or removed row breaks the chain at that row; `audit_verify`
finds it. The serialisation is part of the stored record's meaning: changing it
invalidates every existing chain, so it is versioned by never changing it.
"""

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64

# Every stored field except `id` (assigned by the database after hashing; order
# is carried by prev_hash) and `actor` (the foreign key is SET_NULL when a user is
# deleted — the one change the trail allows; actor_repr keeps who it was).
HASHED_FIELDS = (
    "time",
    "action",
    "outcome",
    "actor_repr",
    "target_type",
    "target_id",
    "target_repr",
    "request_id",
    "masked_ip",
    "user_agent",
    "data",
    "prev_hash",
)


def _canonical_json_value(value: Any) -> Any:
    # PostgreSQL's jsonb stores numbers as numeric, so 1e16 comes back as the
    # integer 10000000000000000 and 2.0 may come back as 2: integral floats are
    # hashed as integers so the hash survives the round trip.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _canonical_json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_canonical_json_value(item) for item in value]
    return value


def format_time(value: datetime) -> str:
    """ISO 8601 in UTC with microseconds, whatever the database returned."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_bytes(event) -> bytes:
    """Sorted-key, whitespace-free JSON of the hashed fields of `event`."""
    fields = {name: getattr(event, name) for name in HASHED_FIELDS}
    fields["time"] = format_time(fields["time"])
    fields["data"] = _canonical_json_value(fields["data"])
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def compute_hash(event) -> str:
    """SHA-256 over the previous hash and the canonical event (prev_hash is in both; harmless)."""
    digest = hashlib.sha256()
    digest.update(event.prev_hash.encode())
    digest.update(canonical_bytes(event))
    return digest.hexdigest()


# The two fields that PostgreSQL fills in under the chain lock (audit.services): the
# event is serialised around them, and the database splices them in and hashes.
_SERVER_FILLED = ("prev_hash", "time")


def canonical_parts(event) -> tuple[str, str, str]:
    """`canonical_bytes(event)` as text in three parts around `prev_hash`'s and `time`'s values.

    canonical_bytes(event) == (head + prev_hash + mid + format_time(time) + tail).encode().
    Keys are sorted, so both are top-level keys after "data", and every value after
    them is a JSON string (whose quotes are escaped): the last occurrence of each
    empty-valued key is the top-level one.
    """
    fields = {name: getattr(event, name) for name in HASHED_FIELDS}
    fields.update(dict.fromkeys(_SERVER_FILLED, ""))
    fields["data"] = _canonical_json_value(fields["data"])
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    before_time, _, tail = text.rpartition('"time":""')
    head, _, mid = before_time.rpartition('"prev_hash":""')
    return head + '"prev_hash":"', '"' + mid + '"time":"', '"' + tail
