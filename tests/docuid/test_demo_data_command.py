"""demo_data (run by make run) sums up what it did instead of printing every audit line."""

import io
import logging

import pytest
from django.core.management import call_command

from audit.models import AuditEvent


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def audit_lines():
    handler = _Collect()
    logger = logging.getLogger("docuid.audit")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


@pytest.mark.django_db(transaction=True)
def test_demo_data_prints_one_summary_line_instead_of_an_audit_line_per_event(audit_lines):
    out = io.StringIO()
    call_command("demo_data", stdout=out)
    recorded = AuditEvent.objects.count()
    assert recorded > 5
    assert audit_lines == []
    assert f"{recorded} audit events recorded" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_demo_data_logs_each_audit_event_at_verbosity_2(audit_lines):
    call_command("demo_data", verbosity=2, stdout=io.StringIO())
    assert len(audit_lines) == AuditEvent.objects.count()


@pytest.mark.django_db(transaction=True)
def test_the_audit_logger_prints_again_after_demo_data(audit_lines):
    call_command("demo_data", stdout=io.StringIO())
    logging.getLogger("docuid.audit").info("audit later success")
    assert [record.getMessage() for record in audit_lines] == ["audit later success"]
