"""Helpers for the audit tests: tampering behind the application's back."""

from contextlib import contextmanager

import pytest
from django.db import connection

from audit.models import AuditBatch, AuditChainHead, AuditEvent

TABLE = AuditEvent._meta.db_table
HEAD_TABLE = AuditChainHead._meta.db_table


@contextmanager
def triggers_bypassed(*tables: str):
    """As an attacker with the tables' owner rights would: PostgreSQL's triggers disabled, SQLite's dropped.

    SQLite has no rights at all: whoever can write the file can drop a trigger and put it back.
    """
    tables = tables or (TABLE,)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Deferred FK checks of rows inserted in this test would block ALTER TABLE; run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            yield cursor
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            placeholders = ", ".join(["%s"] * len(tables))
            cursor.execute(
                f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({placeholders})",
                list(tables),
            )
            triggers = cursor.fetchall()
            for name, _ in triggers:
                cursor.execute(f"DROP TRIGGER {name}")
            yield cursor
            for _, sql in triggers:
                cursor.execute(sql)


def raw_sql_bypassing_trigger(sql: str, params: list) -> None:
    """Run raw SQL on the events as an attacker with table-owner rights would (triggers bypassed)."""
    with triggers_bypassed() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def tamper():
    def run(event_id: int, **columns) -> None:
        assignments = ", ".join(f"{column} = %s" for column in columns)
        raw_sql_bypassing_trigger(f"UPDATE {TABLE} SET {assignments} WHERE id = %s", [*columns.values(), event_id])

    return run


@pytest.fixture
def delete_raw():
    def run(event_id: int) -> None:
        raw_sql_bypassing_trigger(f"DELETE FROM {TABLE} WHERE id = %s", [event_id])

    return run


BATCH_TABLE = AuditBatch._meta.db_table


def seal_all(timeout: float = 30.0, **kwargs) -> int:
    """Seal until no unsealed event is left; return how many events were sealed.

    On PostgreSQL the sealer waits for every older transaction of the *cluster* to end
    (transaction ids are cluster-wide), so a test run beside other databases' work may
    need a few tries; in production the beat task simply seals them next time.
    """
    import time

    from audit.sealer import audit_seal
    from audit.selectors import unsealed_events

    sealed, deadline = 0, time.monotonic() + timeout
    while True:
        sealed += audit_seal(**kwargs).events
        if not unsealed_events().exists():
            return sealed
        if time.monotonic() > deadline:
            holders = ""
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pid, backend_xid, state, left(query, 80) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
                    )
                    holders = f"; transactions holding it back: {cursor.fetchall()}"
            raise AssertionError(f"events still unsealed after {timeout} s{holders}")
        time.sleep(0.05)


@pytest.fixture
def legacy_chain():
    """Three events chained as before migration 0005 (per-event prev_hash), with the head row naming the last."""
    from django.utils import timezone

    from audit.chain import GENESIS_HASH, compute_hash

    events, prev = [], GENESIS_HASH
    for n in range(3):
        event = AuditEvent(
            time=timezone.now(), action="document.view", outcome="success", data={"legacy": n}, prev_hash=prev
        )
        event.hash = compute_hash(event)
        event.save(force_insert=True)
        events.append(event)
        prev = event.hash
    with triggers_bypassed(HEAD_TABLE) as cursor:  # as migration 0004 left it: the head at the newest event
        cursor.execute(f"DELETE FROM {HEAD_TABLE}")
    AuditChainHead.objects.create(pk=1, last_event_id=events[-1].pk, last_hash=prev)
    return events


def sealed_order() -> list[AuditEvent]:
    """The sealed events by position (1, 2, ...): the first N in sealing order, N = the newest batch's last position."""
    newest = AuditBatch.objects.order_by("-seq").values_list("last_position", flat=True).first() or 0
    return list(AuditEvent.objects.filter(prev_hash__isnull=True).order_by("txid", "id")[:newest])


@pytest.fixture
def raw_insert():
    """Insert a forged event row as an attacker with table-owner rights would (triggers bypassed, txid chosen)."""

    def run(*, txid, time, hash) -> None:
        raw_sql_bypassing_trigger(
            f"INSERT INTO {TABLE} (time, action, outcome, actor_repr, target_type, target_id, target_repr, "
            "request_id, masked_ip, user_agent, data, hash, txid) "
            "VALUES (%s, 'document.view', 'success', '', '', '', '', '', '', '', '{}', %s, %s)",
            [time, hash, txid],
        )

    return run
