"""The sealing task, and the daily verify_chain task that reports the trail's state and shouts when it is broken."""

import logging

import pytest

from audit import record
from audit.actions import Action
from audit.tasks import seal, verify_chain
from tests.audit.conftest import seal_all

pytestmark = pytest.mark.django_db


def test_verify_chain_reports_an_intact_chain():
    for n in range(3):
        record(Action.DOCUMENT_VIEW, data={"n": n})
    seal_all()
    assert verify_chain.delay().get() == {"ok": True, "checked": 3, "first_broken_id": None, "unsealed_overdue": 0}


def test_verify_chain_logs_an_error_naming_the_first_broken_event(caplog, tamper):
    events = [record(Action.DOCUMENT_VIEW, data={"n": n}) for n in range(3)]
    seal_all()
    tamper(events[1].pk, action="document.download")
    caplog.set_level(logging.INFO, logger="docuid.audit")

    assert verify_chain() == {"ok": False, "checked": 2, "first_broken_id": events[1].pk, "unsealed_overdue": 0}
    [line] = [r for r in caplog.records if r.name == "docuid.audit" and "chain" in r.getMessage()]
    assert line.levelno == logging.ERROR
    assert f"event {events[1].pk}" in line.getMessage()


def test_verify_chain_warns_about_events_unsealed_too_long(caplog, settings):
    settings.AUDIT_SEAL_MAX_DELAY = 0
    record(Action.DOCUMENT_VIEW)
    caplog.set_level(logging.INFO, logger="docuid.audit")
    assert verify_chain()["unsealed_overdue"] == 1
    assert any(r.levelno == logging.WARNING and "unsealed" in r.getMessage() for r in caplog.records)


def test_the_seal_task_seals_and_reports_what_it_did():
    for n in range(4):
        record(Action.DOCUMENT_VIEW, data={"n": n})
    # A sealer beside other databases' transactions may need a second run (tests/audit/conftest.seal_all).
    assert seal.delay().get()["busy"] is False
    seal_all()
    assert verify_chain()["ok"]


def test_sealing_is_scheduled_every_few_seconds_and_missed_runs_do_not_pile_up(settings):
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "audit.tasks.seal")
    assert entry["schedule"] == settings.AUDIT_SEAL_INTERVAL <= 10
    assert entry["options"]["expires"] <= settings.AUDIT_SEAL_INTERVAL
    assert settings.AUDIT_SEAL_INTERVAL * 3 < settings.AUDIT_SEAL_MAX_DELAY


def test_verify_chain_is_scheduled_daily(settings):
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "audit.tasks.verify_chain")
    assert entry["schedule"].hour == {3}
