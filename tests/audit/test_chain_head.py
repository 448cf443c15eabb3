"""Removing the newest audit events is caught, on SQLite as on PostgreSQL (issue #12 F12).

The attack: with the database in hand, delete the last events. What is left of a
hash chain still links up; only something kept outside the event rows shows the
tail gone. The head row (audit/migrations/0004) is that, and a head hash noted
down outside the database (`audit_verify --saved-head`) backs it up.
"""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from audit import record
from audit.actions import Action
from audit.models import AppendOnlyError, AuditChainHead, AuditEvent
from audit.selectors import audit_chain_verify
from tests.audit.conftest import HEAD_TABLE, TABLE, triggers_bypassed

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain():
    return [record(Action.DOCUMENT_VIEW, data={"n": n}) for n in range(15)]


@pytest.fixture
def no_test_escape_hatch(settings):
    """SQLite's triggers as in production: the test runner's DELETE allowance off."""
    settings.DOCUID_AUDIT_ALLOW_TRUNCATE = False


def verify(*args) -> str:
    out = io.StringIO()
    call_command("audit_verify", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def refused(sql: str, params: list) -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError:
        return True
    return False


# --- the head follows the chain ---------------------------------------------------------


def test_the_head_records_the_newest_event_after_each_append(chain):
    head = AuditChainHead.objects.get()
    assert (head.last_event_id, head.last_hash) == (chain[-1].pk, chain[-1].hash)
    newest = record(Action.DOCUMENT_VIEW)
    head.refresh_from_db()
    assert (head.last_event_id, head.last_hash) == (newest.pk, newest.hash)
    assert newest.prev_hash == chain[-1].hash


def test_an_untouched_chain_verifies_against_its_head(chain):
    result = audit_chain_verify()
    assert result.ok and result.checked == 15 and result.head == chain[-1].hash


# --- the attack -------------------------------------------------------------------------------


def test_deleting_the_newest_events_through_the_base_manager_is_caught(chain):
    # As reported: AuditEvent._base_manager.filter(pk__gt=last - 10).delete(), triggers out of the way.
    with triggers_bypassed():
        deleted, _ = AuditEvent._base_manager.filter(pk__gt=chain[-1].pk - 10).delete()
    assert deleted == 10
    result = audit_chain_verify()
    assert not result.ok
    assert result.first_broken.field == "head" and result.first_broken.id == chain[-1].pk
    with pytest.raises(CommandError) as failure:
        verify()
    message = str(failure.value)
    assert "BROKEN after 5 good events" in message
    assert f"event {chain[-1].pk}, the newest event recorded in the chain's head, is missing" in message
    assert f"the chain ends at hash {chain[4].hash}" in message


def test_deleting_the_newest_event_with_raw_sql_is_caught(chain):
    with triggers_bypassed() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [chain[-1].pk])
    assert audit_chain_verify().first_broken.field == "head"


def test_an_event_appended_after_the_tail_was_deleted_does_not_hide_the_gap(chain):
    with triggers_bypassed():
        AuditEvent._base_manager.filter(pk__gt=chain[-1].pk - 3).delete()
    newest = record(Action.DOCUMENT_VIEW)  # the application carries on after the deleted head
    broken = audit_chain_verify().first_broken
    assert (broken.id, broken.field) == (newest.pk, "prev_hash")
    assert (broken.expected, broken.stored) == (chain[-4].hash, chain[-1].hash)


def test_rewinding_the_head_too_is_caught_by_a_saved_head(chain):
    saved = audit_chain_verify().head
    with triggers_bypassed(TABLE, HEAD_TABLE) as cursor:
        AuditEvent._base_manager.filter(pk__gt=chain[-1].pk - 10).delete()
        cursor.execute(
            f"UPDATE {HEAD_TABLE} SET last_event_id = %s, last_hash = %s",
            [chain[4].pk, chain[4].hash],
        )
    assert audit_chain_verify().ok  # inside the database, a full rewrite is consistent...
    with pytest.raises(CommandError, match=f"the saved head {saved} is not in the chain"):
        verify("--saved-head", saved)  # ...but not with the head noted down before


def test_a_saved_head_still_in_the_chain_verifies(chain):
    saved = audit_chain_verify().head
    record(Action.DOCUMENT_VIEW)
    assert verify("--saved-head", saved.upper()).startswith("Audit chain OK: 16 events verified")


def test_a_saved_head_that_is_not_a_hash_is_explained():
    with pytest.raises(CommandError, match="64 hex digits"):
        verify("--saved-head", "yesterday")


def test_a_missing_head_row_is_reported(chain):
    with triggers_bypassed(HEAD_TABLE) as cursor:
        cursor.execute(f"DELETE FROM {HEAD_TABLE}")
    assert "head row is missing" in audit_chain_verify().first_broken.describe()


# --- the database refuses it, on both databases --------------------------------------------


def test_a_raw_delete_of_events_is_refused_on_any_database(chain, no_test_escape_hatch):
    assert refused(f"DELETE FROM {TABLE} WHERE id > %s", [chain[-1].pk - 10])
    assert AuditEvent.objects.count() == 15


def test_a_raw_update_of_an_event_is_refused_on_any_database(chain):
    assert refused(f"UPDATE {TABLE} SET outcome = 'failure' WHERE id = %s", [chain[3].pk])
    assert refused(f"UPDATE {TABLE} SET actor_id = NULL, target_repr = 'x' WHERE id = %s", [chain[3].pk])


def test_the_head_cannot_be_moved_back_or_removed(chain, no_test_escape_hatch):
    assert refused(f"UPDATE {HEAD_TABLE} SET last_event_id = %s, last_hash = %s", [chain[4].pk, chain[4].hash])
    assert refused(f"UPDATE {HEAD_TABLE} SET last_hash = %s", [chain[4].hash])
    assert refused(f"DELETE FROM {HEAD_TABLE}", [])
    assert AuditChainHead.objects.get().last_event_id == chain[-1].pk
    with pytest.raises(AppendOnlyError):
        AuditChainHead.objects.all().delete()


def test_sqlite_triggers_exist_after_all_migrations():
    # Django's SQLite schema editor rebuilds a table to alter it, dropping its triggers silently.
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            names = {row[0] for row in cursor.fetchall()}
        assert {
            "audit_auditevent_no_update",
            "audit_auditevent_no_delete",
            "audit_chainhead_forward_only",
            "audit_chainhead_no_delete",
        } <= names
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
            names = {row[0] for row in cursor.fetchall()}
        assert {"audit_auditevent_no_update_delete", "audit_chainhead_forward_only", "audit_chainhead_no_truncate"} <= (
            names
        )
