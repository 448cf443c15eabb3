import logging
from contextlib import contextmanager

from django.core.management.base import BaseCommand
from django.db import transaction

from docuid.demo import DEMO_STAFF_PHONE, demo_data_load


class _QuietAuditLines(logging.Filter):
    """Counts the INFO audit lines of the load instead of printing them (they stay in the audit trail)."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True  # a warning or an error is always shown
        self.count += 1
        return False


@contextmanager
def _audit_lines_counted():
    quiet = _QuietAuditLines()
    audit_logger = logging.getLogger("docuid.audit")
    audit_logger.addFilter(quiet)
    try:
        yield quiet
    finally:
        audit_logger.removeFilter(quiet)


class Command(BaseCommand):
    help = (
        "Load the demo users (the API contract's demo numbers), a staff user and their documents. Idempotent. "
        "The audit events it records are summed up in one line (-v 2 logs each)."
    )

    def handle(self, *args, verbosity, **options):
        if verbosity >= 2:
            with transaction.atomic():
                summary = demo_data_load()
            audited = None
        else:
            with _audit_lines_counted() as quiet, transaction.atomic():
                summary = demo_data_load()
            audited = quiet.count
        for line in summary:
            self.stdout.write(f"  {line}")
        if audited:
            self.stdout.write(f"  {audited} audit event{'s' if audited != 1 else ''} recorded (-v 2 logs each)")
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(
            f"For the support admin, run: .venv/bin/python manage.py staff_bootstrap {DEMO_STAFF_PHONE} "
            "(prints a password, a TOTP QR code and backup codes)."
        )
