"""audit.record(): what an event holds, what it refuses, how it is hashed, logs and counts."""

import logging

import pytest
from django.db import connection, transaction
from django.test import RequestFactory
from prometheus_client import REGISTRY

from audit import record
from audit.actions import Action, Outcome
from audit.chain import content_hash
from audit.models import AuditEvent
from audit.selectors import audit_chain_verify, unsealed_events
from audit.services import mask_ip
from docuid.request_context import request_id_var
from tests.audit.conftest import seal_all
from tests.factories import UserFactory


def auth_count(outcome: str) -> float:
    return REGISTRY.get_sample_value("docuid_auth_attempts_total", {"outcome": outcome})


def audit_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "docuid.audit"]


# --- What an event holds -------------------------------------------------------------


@pytest.mark.django_db
def test_the_actor_is_kept_as_name_and_masked_phone_never_the_raw_number():
    actor = UserFactory(name="Grace Hopper", phone_number="+13125550199")
    event = record(Action.AUTH_LOGIN, actor=actor)
    assert event.actor == actor
    assert event.actor_repr == "Grace Hopper (+1******0199)"
    assert "3125550199" not in event.actor_repr


@pytest.mark.django_db
def test_an_anonymous_user_is_recorded_as_no_actor():
    from django.contrib.auth.models import AnonymousUser

    event = record(Action.AUTH_REQUEST, actor=AnonymousUser(), outcome=Outcome.FAILURE)
    assert event.actor is None
    assert event.actor_repr == ""


@pytest.mark.django_db
def test_the_target_is_kept_as_type_id_and_text():
    target = UserFactory(name="Alan Turing", phone_number="+13125550142")
    event = record(Action.USER_DEACTIVATED, target=target)
    assert (event.target_type, event.target_id) == ("accounts.user", str(target.pk))
    assert event.target_repr == "Alan Turing (+1******0142)"


@pytest.mark.django_db
def test_a_target_given_only_as_text_is_kept():
    event = record(Action.OPS_BACKUP, target_repr="backup 2025-01-31")
    assert (event.target_type, event.target_id, event.target_repr) == ("", "", "backup 2025-01-31")


@pytest.mark.django_db
def test_an_unsaved_target_is_refused():
    with pytest.raises(ValueError, match="saved"):
        record(Action.USER_CREATED, target=UserFactory.build())


@pytest.mark.django_db
def test_the_request_gives_its_id_masked_ip_and_user_agent():
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.77", HTTP_USER_AGENT="Mozilla/5.0 (X11)")
    request.request_id = "req-12345678"
    event = record(Action.DOCUMENT_OPEN, request=request)
    assert event.request_id == "req-12345678"
    assert event.masked_ip == "203.0.113.x"
    assert event.user_agent == "Mozilla/5.0 (X11)"


@pytest.mark.django_db
def test_a_long_user_agent_with_control_characters_is_cleaned_and_truncated():
    request = RequestFactory().get("/", HTTP_USER_AGENT="evil\x00\r\nagent" + "x" * 1000)
    event = record(Action.DOCUMENT_OPEN, request=request)
    assert event.user_agent.startswith("evil   agent")
    assert len(event.user_agent) == 256


@pytest.mark.django_db
def test_without_a_request_the_current_request_id_is_used():
    token = request_id_var.set("ctx-request-0001")
    try:
        event = record(Action.DOCUMENT_VIEW)
    finally:
        request_id_var.reset(token)
    assert event.request_id == "ctx-request-0001"
    assert event.masked_ip == ""


@pytest.mark.django_db
def test_outside_any_request_the_request_id_is_empty():
    assert record(Action.OPS_BACKUP).request_id == ""


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("203.0.113.77", "203.0.113.x"),
        ("2001:db8:abcd:12:3456::1", "2001:db8:abcd::/48"),
        ("::ffff:198.51.100.9", "198.51.100.x"),
        ("not an ip", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_ip_addresses_keep_only_their_network(raw, masked):
    assert mask_ip(raw) == masked


# --- What record() refuses ----------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        {"password": "hunter2"},
        {"new_password": "hunter2"},
        {"share": {"access_token": "abc"}},
        {"items": [{"client_secret": "abc"}]},
        {"API-Key": "abc"},
        {"otp_token": 123456},
    ],
)
def test_data_keys_that_look_like_secrets_are_refused(data):
    with pytest.raises(ValueError, match="looks like a secret"):
        record(Action.SHARE_CREATE, data=data)
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_a_flag_about_a_secret_is_not_a_secret():
    event = record(Action.SHARE_CREATE, data={"requires_password": True, "token_revoked": None})
    assert event.data == {"requires_password": True, "token_revoked": None}


@pytest.mark.django_db
@pytest.mark.parametrize("data", [{"when": object()}, {"ratio": float("nan")}, ["not", "a", "dict"]])
def test_data_that_is_not_a_json_object_is_refused(data):
    with pytest.raises(ValueError, match=r"JSON|dict"):
        record(Action.DOCUMENT_VIEW, data=data)


@pytest.mark.django_db
def test_oversized_data_is_refused():
    with pytest.raises(ValueError, match="larger than"):
        record(Action.DOCUMENT_VIEW, data={"blob": "x" * 70_000})


@pytest.mark.django_db
def test_unknown_actions_and_outcomes_are_refused():
    with pytest.raises(ValueError, match="Unknown audit action"):
        record("auth.teleported")
    with pytest.raises(ValueError, match="Unknown audit outcome"):
        record(Action.AUTH_LOGIN, outcome="maybe")


@pytest.mark.django_db
def test_a_nul_character_in_data_is_stored_as_a_replacement_character():
    event = record(Action.DOCUMENT_UPLOAD, data={"file_name": "a\x00b.pdf"})
    assert AuditEvent.objects.get(pk=event.pk).data == {"file_name": "a\ufffdb.pdf"}


# --- Appending: a plain insert, hashed over its own content ---------------------------


@pytest.mark.django_db
def test_an_event_is_stored_unchained_with_a_hash_of_its_own_content():
    first, second = (record(Action.DOCUMENT_VIEW, data={"n": n}) for n in range(2))
    for event in (first, second):
        stored = AuditEvent.objects.get(pk=event.pk)
        assert stored.prev_hash is None
        assert unsealed_events().filter(pk=event.pk).exists()
        assert content_hash(stored) == stored.hash == event.hash
    assert first.hash != second.hash


@pytest.mark.django_db
def test_the_hash_survives_the_database_round_trip_of_numbers_and_text():
    event = record(
        Action.DOCUMENT_VIEW,
        data={"ratio": 2.0, "big": 1e16, "tiny": 1.5e-7, "pi": 3.14159, "name": "Zoë ✓", 3: [1, (2, 3)]},
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert content_hash(stored) == stored.hash == event.hash


AWKWARD_TEXT = 'a "quoted" \\ back\\slash, "time":"", "prev_hash":"", Zoë ✓ 𝄞 \u2028'


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        {},
        {"time": "", "prev_hash": "", "nested": {"time": "", "prev_hash": ""}},
        {"text": AWKWARD_TEXT, "list": [AWKWARD_TEXT, 2.0, 1e16, -0.5, None, True]},
    ],
)
def test_events_with_awkward_text_hash_the_same_after_the_database_round_trip(data):
    request = RequestFactory().get("/", HTTP_USER_AGENT=AWKWARD_TEXT, REMOTE_ADDR="203.0.113.9")
    event = record(Action.DOCUMENT_VIEW, target_repr=AWKWARD_TEXT, request=request, data=data)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert content_hash(stored) == stored.hash == event.hash
    assert stored.time == event.time
    seal_all()
    assert audit_chain_verify().ok


@pytest.mark.django_db
def test_postgres_stamps_the_inserting_transaction_id(postgres):
    with transaction.atomic():
        event = record(Action.DOCUMENT_VIEW)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()::text::bigint")
            xid = cursor.fetchone()[0]
    assert AuditEvent.objects.get(pk=event.pk).txid == xid


@pytest.mark.django_db(transaction=True)
def test_an_event_can_be_recorded_at_any_isolation_level(postgres):
    # The old append function needed READ COMMITTED to read the chain's head; an insert does not.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        event = record(Action.DOCUMENT_VIEW)
    seal_all()
    assert not unsealed_events().filter(pk=event.pk).exists()
    assert audit_chain_verify().ok


# --- Logging -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("outcome", "level"),
    [(Outcome.SUCCESS, logging.INFO), (Outcome.FAILURE, logging.WARNING), (Outcome.ERROR, logging.ERROR)],
)
def test_the_log_level_follows_the_outcome(caplog, django_capture_on_commit_callbacks, outcome, level):
    caplog.set_level(logging.INFO, logger="docuid.audit")
    with django_capture_on_commit_callbacks(execute=True):
        record(Action.AUTH_LOGIN, outcome=outcome)
    [line] = audit_lines(caplog)
    assert line.levelno == level
    assert (line.action, line.outcome) == ("auth.login", outcome.value)


@pytest.mark.django_db
def test_the_log_line_names_the_actor_by_id_and_never_by_phone(
    caplog, django_capture_on_commit_callbacks, no_pii_in_logs
):
    caplog.set_level(logging.INFO, logger="docuid.audit")
    actor = UserFactory(phone_number="+13125550177", email="pat177@example.com")
    target = UserFactory(phone_number="+13125550178")
    request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.23")
    request.request_id = "req-log-000001"
    with django_capture_on_commit_callbacks(execute=True):
        event = record(Action.USER_UPDATED, actor=actor, target=target, request=request, data={"field": "name"})
    [line] = audit_lines(caplog)
    assert (line.actor_id, line.target_type, line.target_id) == (actor.pk, "accounts.user", str(target.pk))
    assert (line.audit_event_id, line.request_id) == (event.pk, "req-log-000001")
    written = no_pii_in_logs.stream.getvalue()
    for secret in ("3125550177", "3125550178", "pat177@example.com", "198.51.100.23"):
        assert secret not in written


@pytest.mark.django_db
def test_nothing_is_logged_before_the_transaction_commits(caplog, django_capture_on_commit_callbacks):
    caplog.set_level(logging.INFO, logger="docuid.audit")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record(Action.AUTH_LOGIN)
    assert audit_lines(caplog) == []
    assert len(callbacks) == 1


# --- Counters only for committed facts -------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_committed_event_is_counted_once_and_only_after_commit():
    before = auth_count("success")
    with transaction.atomic():
        record(Action.AUTH_APPROVED)
        assert auth_count("success") == before
    assert auth_count("success") == before + 1


@pytest.mark.django_db(transaction=True)
def test_an_event_recorded_outside_a_transaction_commits_and_counts_at_once():
    before = auth_count("denied")
    record(Action.AUTH_DENIED, outcome=Outcome.FAILURE)
    assert auth_count("denied") == before + 1
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_stores_counts_and_logs_nothing(caplog):
    caplog.set_level(logging.INFO, logger="docuid.audit")
    before = auth_count("success")
    with pytest.raises(RuntimeError), transaction.atomic():
        record(Action.AUTH_APPROVED)
        raise RuntimeError("the login failed after all")
    assert auth_count("success") == before
    assert audit_lines(caplog) == []
    assert not AuditEvent.objects.exists()


def test_a_float_too_large_to_store_exactly_is_refused_rather_than_breaking_the_chain(db):
    from audit.services import normalize_data

    with pytest.raises(ValueError, match="too large"):
        normalize_data({"bytes": 1e23})
    assert normalize_data({"bytes": 10**23, "ratio": 0.5}) == {"bytes": 10**23, "ratio": 0.5}
