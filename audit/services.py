"""Writing the audit trail: `audit_record` is the only way an event is created."""

import ipaddress
import json
import logging
import re
from decimal import Decimal
from functools import cache, partial
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Model
from django.http import HttpRequest
from django.utils import timezone

from audit import metrics
from audit.actions import Action, Outcome
from audit.chain import content_hash
from audit.export import write_csv, write_jsonl
from audit.models import AuditEvent
from audit.selectors import STREAM_CHUNK, audit_events_for_export
from docuid.request_context import current_request_id

logger = logging.getLogger("docuid.audit")

USER_AGENT_MAX = 256
DATA_MAX_BYTES = 64 * 1024

# The trail is kept for years, exported to auditors and can never be edited or
# purged (no update or delete path, a trigger on PostgreSQL): a secret written
# into it could never be taken back. So keys that name a secret are refused at
# the door. A flag about a secret (requires_password: true) is not a secret.
_SECRET_KEY_RE = re.compile(r"(?i)(passw|secret|token|api[_-]?key|authorization|cookie|private[_-]?key)")
_CONTROL_CHARS_RE = re.compile(r"[\x00-\x1f\x7f]")
_LOG_LEVELS = {Outcome.SUCCESS: logging.INFO, Outcome.FAILURE: logging.WARNING, Outcome.ERROR: logging.ERROR}
# Django's Choices.values rebuilds its list on every access (~25 µs for both, per event): taken once.
_ACTIONS = frozenset(Action.values)
_OUTCOMES = frozenset(Outcome.values)


def mask_ip(raw: str | None) -> str:
    """Keep the network, drop the host: IPv4 /24 as 203.0.113.x, IPv6 /48 as 2001:db8:1::/48."""
    try:
        address = ipaddress.ip_address((raw or "").strip())
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv4Address):
        return ".".join(str(address).split(".")[:3]) + ".x"
    return str(ipaddress.ip_network(f"{address}/48", strict=False))


def _clean_text(value: str, limit: int) -> str:
    # PostgreSQL text cannot hold NUL; control characters in a header are noise at best.
    return _CONTROL_CHARS_RE.sub(" ", value)[:limit]


def _check_keys(value: Any, path: str = "data") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if _SECRET_KEY_RE.search(str(key)) and not isinstance(item, bool | None):
                raise ValueError(
                    f"Audit {path} key {key!r} looks like a secret; the audit trail never stores secrets "
                    "(it cannot be edited afterwards). Record a fact about it instead, e.g. a boolean or an id."
                )
            _check_keys(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_keys(item, f"{path}[{index}]")


def _strip_nul(value: Any) -> Any:
    # jsonb rejects \u0000; a NUL in a user-supplied file name must not turn the action into a 500.
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_strip_nul(key): _strip_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_strip_nul(item) for item in value]
    return value


def normalize_data(data: dict | None) -> dict:
    """Return `data` as it will read back from the database, or raise ValueError."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"Audit data must be a dict, not {type(data).__name__}.")
    _check_keys(data)
    try:
        text = json.dumps(data, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Audit data must be JSON-serialisable: {exc}") from None
    if len(text.encode()) > DATA_MAX_BYTES:
        raise ValueError(f"Audit data is larger than {DATA_MAX_BYTES} bytes; record a summary, not the payload.")
    # The round trip turns tuples into lists and int keys into strings, as the database would.
    normalized = _strip_nul(json.loads(text))
    _check_floats(normalized)
    return normalized


def _check_floats(value) -> None:
    # PostgreSQL's jsonb keeps the decimal text: it reads 1e23 back as 10**23, while
    # the chain hashes int(1e23) = 99999999999999991611392, so the untouched event
    # would later look tampered with. Such values must be ints or strings.
    if isinstance(value, float) and value.is_integer() and Decimal(repr(value)) != int(value):
        raise ValueError("Audit data holds a float too large to store exactly; record it as an int or a string.")
    if isinstance(value, dict):
        for item in value.values():
            _check_floats(item)
    elif isinstance(value, list):
        for item in value:
            _check_floats(item)


def _actor_fields(actor) -> tuple[Model | None, str]:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None, ""
    if actor.pk is None:
        raise ValueError("The audit actor must be a saved user.")
    masked = getattr(actor, "masked_phone", "")
    name = getattr(actor, "name", "") or actor.get_username()
    return actor, _clean_text(f"{name} ({masked})" if masked else name, 255)


def _target_fields(target: Model | None, target_repr: str | None) -> tuple[str, str, str]:
    if target is None:
        return "", "", _clean_text(target_repr or "", 255)
    if target.pk is None:
        raise ValueError("The audit target must be a saved object.")
    text = target_repr if target_repr is not None else str(target)
    return target._meta.label_lower, str(target.pk)[:64], _clean_text(text, 255)


def _request_fields(request: HttpRequest | None) -> tuple[str, str, str]:
    request_id = getattr(request, "request_id", None) if request is not None else None
    request_id = request_id or current_request_id()
    if request_id == "-":  # the context variable's "no request" value
        request_id = ""
    if request is None:
        return request_id[:128], "", ""
    meta = request.META
    return (
        request_id[:128],
        mask_ip(meta.get("REMOTE_ADDR")),
        _clean_text(meta.get("HTTP_USER_AGENT", ""), USER_AGENT_MAX),
    )


@cache
def _insert_fields() -> tuple:
    # Every stored column but the id: what Model.save(force_insert=True) sends.
    return tuple(field for field in AuditEvent._meta.concrete_fields if not field.primary_key)


_insert_sql: dict[tuple[str, str], str] = {}


def _insert(event: AuditEvent) -> None:
    """One INSERT ... RETURNING id, its SQL built once per database vendor and table.

    What event.save(force_insert=True) sends, without the ORM compiling that statement for
    every event: the insert compiler was ~0.2 ms of CPU, half of audit_record's own time
    and the main reason the audited transactions scaled worse than plain inserts
    (bench/README.md, "Audit"). Values go through each field's get_db_prep_save, as the
    ORM does (JSON, time zones). Nothing listens to an event's model signals; none are sent.
    """
    alias = router.db_for_write(AuditEvent)
    connection = connections[alias]
    fields = _insert_fields()
    key = connection.vendor, AuditEvent._meta.db_table
    sql = _insert_sql.get(key)
    if sql is None:
        # The model's own table and column names, quoted; the values are parameters.
        quote = connection.ops.quote_name
        table, columns = quote(AuditEvent._meta.db_table), ", ".join(quote(f.column) for f in fields)
        returning, values = quote(AuditEvent._meta.pk.column), ", ".join(["%s"] * len(fields))
        sql = _insert_sql[key] = f"INSERT INTO {table} ({columns}) VALUES ({values}) RETURNING {returning}"  # noqa: S608
    params = [field.get_db_prep_save(getattr(event, field.attname), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        event.pk = cursor.fetchone()[0]
    event._state.adding, event._state.db = False, alias


def _after_commit(*, action: str, outcome: str, data: dict, log_extra: dict) -> None:
    metrics.count_event(action, outcome, data)
    logger.log(_LOG_LEVELS[outcome], "audit %s %s", action, outcome, extra=log_extra)


def audit_record(
    action: Action | str,
    *,
    outcome: Outcome | str = Outcome.SUCCESS,
    actor=None,
    target: Model | None = None,
    target_repr: str | None = None,
    request: HttpRequest | None = None,
    data: dict | None = None,
) -> AuditEvent:
    """Append one event to the trail in the caller's transaction (or its own): one plain INSERT, no lock.

    The event carries a hash of its own content; the sealer (audit.sealer.audit_seal,
    every few seconds) chains it once the caller's transaction has committed. An event
    of a transaction that rolls back is gone with it, as before.
    """
    if action not in _ACTIONS:
        raise ValueError(f"Unknown audit action {action!r}; add it to audit.actions.Action.")
    if outcome not in _OUTCOMES:
        raise ValueError(f"Unknown audit outcome {outcome!r}; use audit.actions.Outcome.")
    action, outcome = Action(action), Outcome(outcome)
    data = normalize_data(data)
    actor, actor_repr = _actor_fields(actor)
    target_type, target_id, target_repr = _target_fields(target, target_repr)
    request_id, masked_ip, user_agent = _request_fields(request)

    event = AuditEvent(
        time=timezone.now(),
        action=action.value,
        outcome=outcome.value,
        actor=actor,
        actor_repr=actor_repr,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr,
        request_id=request_id,
        masked_ip=masked_ip,
        user_agent=user_agent,
        data=data,
    )
    # Field checks only: the actor's existence is enforced by the database (foreign key).
    event.full_clean(
        exclude={"actor", "prev_hash", "hash", "txid"},
        validate_unique=False,
        validate_constraints=False,
    )
    event.hash = content_hash(event)
    _insert(event)
    transaction.on_commit(
        partial(
            _after_commit,
            action=event.action,
            outcome=event.outcome,
            data=data,
            log_extra={
                "action": event.action,
                "outcome": event.outcome,
                "target_type": target_type,
                "target_id": target_id,
                "actor_id": actor.pk if actor is not None else None,
                "audit_event_id": event.pk,
                "request_id": request_id or None,
            },
        ),
        robust=True,  # the event is committed; a metrics hiccup must not fail the caller now
    )
    return event


def audit_export(
    *,
    out,
    fmt: str,
    since=None,
    until=None,
    action: str | None = None,
    destination: str = "stdout",
) -> int:
    """Stream the selected events to `out` and record that they were exported; return the count."""
    writers = {"csv": write_csv, "jsonl": write_jsonl}
    if fmt not in writers:
        raise ValueError(f"Unknown export format {fmt!r}; use csv or jsonl.")
    events = audit_events_for_export(since=since, until=until, action=action).iterator(chunk_size=STREAM_CHUNK)
    criteria = {
        "format": fmt,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "action": action,
        "destination": destination,
    }
    try:
        count = writers[fmt](events, out)
    except Exception as exc:
        # An export that died half-way still happened (part of the trail left the system).
        audit_record(Action.OPS_AUDIT_EXPORT, outcome=Outcome.ERROR, data={**criteria, "error": type(exc).__name__})
        raise
    audit_record(Action.OPS_AUDIT_EXPORT, data={**criteria, "count": count})
    return count
