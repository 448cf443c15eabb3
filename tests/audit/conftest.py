"""Helpers for the audit tests: tampering behind the application's back."""

from contextlib import contextmanager

import pytest
from django.db import connection

from audit.models import AuditChainHead, AuditEvent

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
