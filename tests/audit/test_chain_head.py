"""Removing sealed audit events or batches is caught, on SQLite as on PostgreSQL (issue #12 F12, issue #16).

The attack: with the database in hand, delete the last events, or the last batches
and their events. A batch's Merkle root shows an event gone from it; what is left of
the batch chain still links up, so only something kept outside shows the newest
batches gone: the head row (audit/migrations/0004, 0005), backed by a head hash noted
down outside the database (`audit_verify --saved-head`). The legacy per-event chain
(events written before 0005) is still verified, and the first batch follows it.
"""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from audit import record
from audit.actions import Action
from audit.chain import GENESIS_HASH
from audit.models import AppendOnlyError, AuditBatch, AuditChainHead, AuditEvent
from audit.selectors import audit_chain_verify
from tests.audit.conftest import BATCH_TABLE, HEAD_TABLE, TABLE, seal_all, triggers_bypassed

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain():
    """15 events sealed in three batches of five (positions 1-15)."""
    events = [record(Action.DOCUMENT_VIEW, data={"n": n}) for n in range(15)]
    seal_all(batch_size=5)
    return [AuditEvent.objects.get(pk=event.pk) for event in events]


def batches() -> list[AuditBatch]:
    return list(AuditBatch.objects.order_by("seq"))


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


# --- the head follows the batches ----------------------------------------------------


def test_the_head_records_the_newest_batch_after_each_seal(chain):
    head = AuditChainHead.objects.get()
    newest = batches()[-1]
    assert (head.last_batch_seq, head.last_batch_hash) == (3, newest.hash)
    assert (head.last_event_id, head.last_hash) == (0, GENESIS_HASH)  # no legacy chain in a new database
    record(Action.DOCUMENT_VIEW)
    seal_all()
    head.refresh_from_db()
    assert head.last_batch_seq == 4 and AuditBatch.objects.get(seq=4).prev_hash == newest.hash


def test_an_untouched_trail_verifies_against_its_head(chain):
    result = audit_chain_verify()
    assert result.ok and result.checked == 15 and result.batches == 3 and result.head == batches()[-1].hash


# --- the attack -------------------------------------------------------------------------------


def test_deleting_the_newest_events_through_the_base_manager_is_caught(chain):
    # As reported: AuditEvent._base_manager.filter(pk__gt=last - 10).delete(), triggers out of the way.
    with triggers_bypassed():
        deleted, _ = AuditEvent._base_manager.filter(pk__gt=chain[-1].pk - 10).delete()
    assert deleted == 10
    broken = audit_chain_verify().first_broken
    assert (broken.field, broken.id) == ("batch_events", 2)
    with pytest.raises(CommandError) as failure:
        verify()
    message = str(failure.value)
    assert "BROKEN after 5 good events" in message
    assert (
        f"sealed batch 2 does not hold exactly its events: expected 5 events ending at event {chain[9].pk}" in message
    )


def test_deleting_the_newest_event_with_raw_sql_is_caught(chain):
    with triggers_bypassed() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [chain[-1].pk])
    broken = audit_chain_verify().first_broken
    assert (broken.field, broken.id, broken.stored) == ("batch_events", 3, f"4 events ending at event {chain[13].pk}")


def test_deleting_the_newest_batches_and_their_events_is_caught_by_the_head(chain):
    with triggers_bypassed(TABLE, BATCH_TABLE) as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE id >= %s", [chain[5].pk])
        cursor.execute(f"DELETE FROM {BATCH_TABLE} WHERE seq > 1")
    broken = audit_chain_verify().first_broken
    assert (broken.field, broken.id) == ("batch_head", 3)
    assert "batch 3, the newest batch recorded in the trail's head, is missing" in broken.describe()


def test_a_removed_middle_batch_is_caught(chain):
    with triggers_bypassed(BATCH_TABLE) as cursor:
        cursor.execute(f"DELETE FROM {BATCH_TABLE} WHERE seq = 2")
    broken = audit_chain_verify().first_broken
    assert broken.id == 3 and broken.field.startswith("batch")


def test_rewinding_the_head_too_is_caught_by_a_saved_head(chain):
    saved = audit_chain_verify().head
    first = batches()[0]
    with triggers_bypassed(TABLE, BATCH_TABLE, HEAD_TABLE) as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE id >= %s", [chain[5].pk])
        cursor.execute(f"DELETE FROM {BATCH_TABLE} WHERE seq > 1")
        cursor.execute(f"UPDATE {HEAD_TABLE} SET last_batch_seq = 1, last_batch_hash = %s", [first.hash])
    assert audit_chain_verify().ok  # inside the database, a full rewrite is consistent...
    with pytest.raises(CommandError, match=f"the saved head {saved} is not in the chain"):
        verify("--saved-head", saved)  # ...but not with the head noted down before


def test_a_saved_head_still_in_the_trail_verifies(chain):
    saved = audit_chain_verify().head
    record(Action.DOCUMENT_VIEW)
    seal_all()
    assert verify("--saved-head", saved.upper()).startswith("Audit chain OK: 16 events verified")


def test_a_saved_head_that_is_not_a_hash_is_explained():
    with pytest.raises(CommandError, match="64 hex digits"):
        verify("--saved-head", "yesterday")


def test_a_missing_head_row_is_reported(chain):
    with triggers_bypassed(HEAD_TABLE) as cursor:
        cursor.execute(f"DELETE FROM {HEAD_TABLE}")
    assert "head row is missing" in audit_chain_verify().first_broken.describe()


# --- the legacy chain (events written before migration 0005) still verifies -----------------


def test_a_legacy_chain_verifies_and_the_first_batch_follows_its_head(legacy_chain):
    record(Action.DOCUMENT_VIEW)
    seal_all()
    result = audit_chain_verify()
    assert result.ok and result.checked == 4 and result.batches == 1
    assert AuditBatch.objects.get(seq=1).prev_hash == legacy_chain[-1].hash


def test_a_tampered_legacy_event_is_still_caught(legacy_chain, tamper):
    tamper(legacy_chain[1].pk, outcome="failure")
    broken = audit_chain_verify().first_broken
    assert (broken.id, broken.field) == (legacy_chain[1].pk, "hash")


def test_removing_the_legacy_chain_tail_is_caught(legacy_chain):
    record(Action.DOCUMENT_VIEW)
    seal_all()
    with triggers_bypassed() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [legacy_chain[-1].pk])
    assert audit_chain_verify().first_broken.field == "head"


# --- the database refuses it, on both databases --------------------------------------------


def test_a_raw_delete_of_events_is_refused_on_any_database(chain, no_test_escape_hatch):
    assert refused(f"DELETE FROM {TABLE} WHERE id > %s", [chain[-1].pk - 10])
    assert AuditEvent.objects.count() == 15


def test_a_raw_update_of_an_event_is_refused_on_any_database(chain):
    assert refused(f"UPDATE {TABLE} SET outcome = 'failure' WHERE id = %s", [chain[3].pk])
    assert refused(f"UPDATE {TABLE} SET actor_id = NULL, target_repr = 'x' WHERE id = %s", [chain[3].pk])


def test_the_head_cannot_be_moved_back_or_removed(chain, no_test_escape_hatch):
    first = batches()[0]
    assert refused(f"UPDATE {HEAD_TABLE} SET last_batch_seq = 1, last_batch_hash = %s", [first.hash])
    assert refused(f"UPDATE {HEAD_TABLE} SET last_batch_hash = %s", [first.hash])
    assert refused(f"UPDATE {HEAD_TABLE} SET last_batch_seq = 9, last_hash = %s", [first.hash])  # legacy part frozen
    assert refused(f"DELETE FROM {HEAD_TABLE}", [])
    assert AuditChainHead.objects.get().last_batch_seq == 3
    with pytest.raises(AppendOnlyError):
        AuditChainHead.objects.all().delete()


def test_a_batch_cannot_be_changed_or_removed(chain, no_test_escape_hatch):
    assert refused(f"UPDATE {BATCH_TABLE} SET merkle_root = %s WHERE seq = 2", ["0" * 64])
    assert refused(f"UPDATE {BATCH_TABLE} SET sealed_at = sealed_at WHERE seq = 2", [])
    assert refused(f"DELETE FROM {BATCH_TABLE} WHERE seq = 3", [])
    assert AuditBatch.objects.count() == 3
    with pytest.raises(AppendOnlyError):
        AuditBatch.objects.filter(seq=3).delete()
    with pytest.raises(AppendOnlyError):
        AuditBatch.objects.filter(seq=3).update(merkle_root="0" * 64)
    batch = AuditBatch.objects.get(seq=3)
    with pytest.raises(AppendOnlyError):
        batch.save()


def test_no_event_is_ever_updated_sealed_or_not(chain):
    # Sealing never touches an event (migration 0006): the trigger has no exception for it.
    event = record(Action.DOCUMENT_VIEW)
    for target in (chain[3], event):
        assert refused(f"UPDATE {TABLE} SET txid = 1 WHERE id = %s", [target.pk])
        assert refused(f"UPDATE {TABLE} SET hash = %s WHERE id = %s", ["0" * 64, target.pk])


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
            "audit_batch_no_update",
            "audit_batch_no_delete",
        } <= names
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
            names = {row[0] for row in cursor.fetchall()}
        assert {
            "audit_auditevent_no_update_delete",
            "audit_auditevent_stamp",
            "audit_chainhead_forward_only",
            "audit_chainhead_no_truncate",
            "audit_batch_no_update_delete",
            "audit_batch_no_truncate",
        } <= names
