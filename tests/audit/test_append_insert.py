"""audit.record()'s precompiled INSERT (issue #16 bench): the same row the ORM wrote, one query, values as parameters."""

import json
from datetime import UTC

import pytest
from django.db import connection, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from audit import record
from audit.actions import Action, Outcome
from audit.chain import content_hash
from audit.models import AuditEvent
from audit.selectors import audit_chain_verify
from tests.audit.conftest import seal_all
from tests.factories import UserFactory

HOSTILE = "x'); DELETE FROM audit_auditevent; -- 100% %s %(name)s \\ \u00e9\u200b"


@pytest.mark.django_db(transaction=True)
def test_the_stored_row_is_the_returned_event_and_its_hash_holds():
    actor = UserFactory(name="Ada Lovelace")
    target = UserFactory()
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.77", HTTP_USER_AGENT="Agent/1.0")
    data = {"version": 3, "nested": {"list": [1, 2.5, "three", None, True]}, "note": HOSTILE}
    with transaction.atomic():
        event = record(
            Action.DOCUMENT_OPEN, outcome=Outcome.FAILURE, actor=actor, target=target, request=request, data=data
        )
    assert event.pk is not None and not event._state.adding
    stored = AuditEvent.objects.get(pk=event.pk)
    for field in ("action", "outcome", "actor_id", "actor_repr", "target_type", "target_id", "target_repr"):
        assert getattr(stored, field) == getattr(event, field), field
    assert (stored.masked_ip, stored.user_agent, stored.data) == ("203.0.113.x", "Agent/1.0", data)
    assert stored.time == event.time and stored.time.tzinfo is not None
    assert stored.time.astimezone(UTC) == event.time.astimezone(UTC)
    assert stored.prev_hash is None
    # The hash was made before the insert; it must hold for what the database gives back.
    assert stored.hash == event.hash == content_hash(stored)
    if connection.vendor == "postgresql":
        assert stored.txid is not None  # stamped by the trigger, never by the caller
    seal_all()
    assert audit_chain_verify().intact


@pytest.mark.django_db(transaction=True)
def test_hostile_text_is_a_value_never_sql():
    with transaction.atomic():
        first = record(Action.DOCUMENT_VIEW, target_repr=HOSTILE, data={HOSTILE[:40]: HOSTILE})
        second = record(Action.DOCUMENT_VIEW, target_repr=HOSTILE[::-1])
    assert AuditEvent.objects.filter(pk__in=[first.pk, second.pk]).count() == 2
    stored = AuditEvent.objects.get(pk=first.pk)
    assert stored.target_repr == HOSTILE and stored.data == {HOSTILE[:40]: HOSTILE}
    assert json.loads(json.dumps(stored.data)) == stored.data


@pytest.mark.django_db
def test_one_event_is_one_query():
    actor = UserFactory()
    with CaptureQueriesContext(connection) as queries:
        record(Action.DOCUMENT_VIEW, actor=actor, target=actor, data={"via": "test"})
    inserts = [q["sql"] for q in queries.captured_queries]
    assert len(inserts) == 1 and inserts[0].startswith("INSERT INTO") and "RETURNING" in inserts[0]
