"""Helpers for the audit tests: tampering behind the application's back."""

import pytest
from django.db import connection

from audit.models import AuditEvent

TABLE = AuditEvent._meta.db_table
ROW_TRIGGER = "audit_auditevent_no_update_delete"


def raw_sql_bypassing_trigger(sql: str, params: list) -> None:
    """Run raw SQL as an attacker with table-owner rights would: trigger disabled on PostgreSQL."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Deferred FK checks of rows inserted in this test would block ALTER TABLE; run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER {ROW_TRIGGER}")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER {ROW_TRIGGER}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


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
