"""Audit events are append-only: in the ORM everywhere, in the database on PostgreSQL."""

import pytest
from django.db import DatabaseError, connection, transaction

from audit import record
from audit.actions import Action
from audit.chain import GENESIS_HASH
from audit.models import AppendOnlyError, AuditEvent
from audit.selectors import audit_chain_verify
from tests.audit.conftest import TABLE, seal_all
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def event():
    return record(Action.DOCUMENT_VIEW, data={"document_id": 1})


def test_saving_an_existing_event_again_is_refused(event):
    event.outcome = "failure"
    with pytest.raises(AppendOnlyError):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).outcome == "success"


def test_saving_a_reloaded_event_with_update_fields_is_refused(event):
    loaded = AuditEvent.objects.get(pk=event.pk)
    loaded.target_repr = "forged"
    with pytest.raises(AppendOnlyError):
        loaded.save(update_fields=["target_repr"])


def test_an_event_forged_with_an_existing_primary_key_is_refused(event):
    forged = AuditEvent(pk=event.pk, time=event.time, action=event.action, outcome="failure", hash="f" * 64)
    with pytest.raises(AppendOnlyError):
        forged.save()


def test_deleting_an_event_is_refused(event):
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_queryset_update_is_refused(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(outcome="failure")


def test_queryset_delete_is_refused(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.count() == 1


def test_bulk_update_is_refused(event):
    event.outcome = "failure"
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_update([event], ["outcome"])


def test_bulk_create_cannot_slip_events_past_the_chain(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_create([AuditEvent(action="auth.login", outcome="success", prev_hash="x", hash="y")])


def test_creating_an_event_without_audit_record_is_refused():
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.create(action="auth.login", outcome="success", prev_hash=GENESIS_HASH)


def test_a_new_event_is_not_chained_at_insert(event):
    assert event.prev_hash is None
    assert len(event.hash) == 64


def test_two_legacy_events_claiming_the_same_predecessor_cannot_be_stored(event):
    # The legacy chain's unique prev_hash made a fork impossible; it still does for rows written like it.
    with connection.cursor() as cursor, pytest.raises(DatabaseError), transaction.atomic():
        for digest in ("e" * 64, "f" * 64):
            cursor.execute(
                f"INSERT INTO {TABLE} (time, action, outcome, actor_repr, target_type, target_id, target_repr, "
                "request_id, masked_ip, user_agent, data, prev_hash, hash) "
                "VALUES (%s, 'auth.login', 'success', '', '', '', '', '', '', '', '{}', %s, %s)",
                [event.time, GENESIS_HASH, digest],
            )


# --- The PostgreSQL trigger --------------------------------------------------------


def test_postgres_rejects_a_raw_update(postgres, event):
    with connection.cursor() as cursor, pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        cursor.execute(f"UPDATE {TABLE} SET outcome = 'failure' WHERE id = %s", [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).outcome == "success"


def test_postgres_rejects_a_raw_update_that_also_clears_the_actor(postgres):
    actor = UserFactory()
    event = record(Action.AUTH_LOGIN, actor=actor)
    with connection.cursor() as cursor, pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        cursor.execute(f"UPDATE {TABLE} SET actor_id = NULL, actor_repr = 'someone else' WHERE id = %s", [event.pk])


def test_postgres_rejects_a_raw_delete(postgres, event):
    with connection.cursor() as cursor, pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_postgres_rejects_truncate(postgres, event):
    with connection.cursor() as cursor, pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        # Test sessions allow TRUNCATE (tests/settings.py) so the runner can empty tables; production does not.
        cursor.execute("SET LOCAL docuid.audit_allow_truncate = 'off'")
        # Run the deferred FK checks first, or PostgreSQL refuses for "pending trigger events" instead.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"TRUNCATE {TABLE}")
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_postgres_lets_a_deleted_user_leave_their_events_behind_with_the_chain_intact(postgres):
    actor = UserFactory(name="Ada Lovelace")
    event = record(Action.AUTH_LOGIN, actor=actor)
    actor.delete()
    event = AuditEvent.objects.get(pk=event.pk)
    assert event.actor_id is None
    assert event.actor_repr.startswith("Ada Lovelace (")
    seal_all()
    assert audit_chain_verify().ok


def test_a_deleted_user_leaves_their_events_behind_on_any_database():
    actor = UserFactory()
    event = record(Action.AUTH_LOGIN, actor=actor)
    seal_all()  # sealed first: the actor's SET NULL must pass the trigger on a sealed event too
    actor.delete()
    assert AuditEvent.objects.get(pk=event.pk).actor_id is None
    assert audit_chain_verify().ok
