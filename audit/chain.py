"""The hashes of the audit trail: legacy per-event chain, content hashes, Merkle leaves and roots, batches.

Events written before migration audit/0005 form a chain: each event's hash covers
the previous hash and the event's stored fields (compute_hash). Since 0005 an event's
hash covers only its own fields (content_hash) and the sealer chains batches of them
(merkle_root, batch_hash). Every serialisation here is part of the stored records'
meaning: changing one invalidates what is stored, so each is versioned by never
changing it (a new one gets a new prefix).
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


# --- Sealed batches (migration audit/0005) ----------------------------------------------
#
# Since 0005 an event is inserted without a link to its predecessor: `hash` is a hash of
# its own content only, so appending takes no lock. The sealer later takes committed
# events in (txid, id) order and hashes each run into a batch: a Merkle root over the
# batch's events and a hash chain over the batches (certificate-transparency style).

# Fields of the content hash: HASHED_FIELDS without prev_hash. A prefix keeps a
# content hash from ever equalling a legacy chain hash of the same bytes.
CONTENT_FIELDS = tuple(name for name in HASHED_FIELDS if name != "prev_hash")
_CONTENT_PREFIX = b"docuid.audit.event.v2\n"
_LEAF_PREFIX = b"\x00"  # RFC 6962 domain separation: a leaf can never pass for an interior node
_NODE_PREFIX = b"\x01"


def content_bytes(event) -> bytes:
    """Sorted-key, whitespace-free JSON of the content fields of `event` (no id, no position)."""
    fields = {name: getattr(event, name) for name in CONTENT_FIELDS}
    fields["time"] = format_time(fields["time"])
    fields["data"] = _canonical_json_value(fields["data"])
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def content_hash(event) -> str:
    """The hash stored with a new event at insert: its content only, no predecessor."""
    return hashlib.sha256(_CONTENT_PREFIX + content_bytes(event)).hexdigest()


def leaf_hash(position: int, event_id: int, event_content_hash: str) -> bytes:
    """A Merkle leaf binds the event's content to its id and its position in the sealed trail."""
    return hashlib.sha256(_LEAF_PREFIX + f"{position}:{event_id}:{event_content_hash}".encode()).digest()


def merkle_root(leaves: list[bytes]) -> str:
    """RFC 6962 Merkle tree hash of `leaves` (already leaf-hashed), as hex.

    Bottom-up: pair neighbours, carry an odd last node up unchanged; this builds
    the same tree as RFC 6962's split at the largest power of two below n.
    """
    if not leaves:
        return hashlib.sha256(b"").hexdigest()
    level = list(leaves)
    while len(level) > 1:
        paired = [hashlib.sha256(_NODE_PREFIX + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0].hex()


BATCH_FIELDS = (
    "seq",
    "first_position",
    "last_position",
    "last_txid",
    "last_event_id",
    "event_count",
    "merkle_root",
    "prev_hash",
    "sealed_at",
)


def batch_hash(batch) -> str:
    """SHA-256 over the batch's canonical fields, its predecessor's hash among them."""
    fields = {name: getattr(batch, name) for name in BATCH_FIELDS}
    fields["sealed_at"] = format_time(fields["sealed_at"])
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(b"docuid.audit.batch.v2\n" + text.encode()).hexdigest()
