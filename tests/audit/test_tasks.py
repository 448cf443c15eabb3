"""The daily verify_chain task reports the chain's state and shouts when it is broken."""

import logging

import pytest

from audit import record
from audit.actions import Action
from audit.tasks import verify_chain

pytestmark = pytest.mark.django_db


def test_verify_chain_reports_an_intact_chain():
    for n in range(3):
        record(Action.DOCUMENT_VIEW, data={"n": n})
    assert verify_chain.delay().get() == {"ok": True, "checked": 3, "first_broken_id": None}


def test_verify_chain_logs_an_error_naming_the_first_broken_event(caplog, tamper):
    events = [record(Action.DOCUMENT_VIEW, data={"n": n}) for n in range(3)]
    tamper(events[1].pk, action="document.download")
    caplog.set_level(logging.INFO, logger="docuid.audit")

    assert verify_chain() == {"ok": False, "checked": 2, "first_broken_id": events[1].pk}
    [line] = [r for r in caplog.records if r.name == "docuid.audit"]
    assert line.levelno == logging.ERROR
    assert f"event {events[1].pk}" in line.getMessage()


def test_verify_chain_is_scheduled_daily(settings):
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "audit.tasks.verify_chain")
    assert entry["schedule"].hour == {3}
