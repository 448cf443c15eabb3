"""Suite-wide fixtures: service requirements and the PII-in-logs guard."""

import io
import json
import logging
import os
import re

import pytest
from django.db import connection
from django.db.models.signals import post_save

from docuid.logging import JsonFormatter, PIIMaskingFilter, RequestContextFilter

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(service: str, available: bool, how: str) -> None:
    """Skip a test whose service is missing — but fail it in CI, where it must run."""
    if available:
        return
    message = f"{service} is not available ({how})."
    if IN_CI:
        pytest.fail(f"{message} CI must run this test against the real service.")
    pytest.skip(message)


def pytest_collection_modifyitems(items):
    # Tests that need PostgreSQL carry the marker, so a deliberate SQLite run
    # (.ci/run's second pass) can deselect them instead of failing them.
    for item in items:
        if "postgres" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def postgres(db):
    """The test needs PostgreSQL: run with DATABASE_URL=postgres://..."""
    require(
        "PostgreSQL", connection.vendor == "postgresql", "set DATABASE_URL=postgres://postgres@127.0.0.1:5432/docuid"
    )
    return connection


@pytest.fixture
def redis_url():
    """The test needs a reachable Redis: run with REDIS_URL=redis://..."""
    url = os.environ.get("REDIS_URL", "")
    reachable = False
    if url:
        import redis

        try:
            reachable = bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
        except redis.RedisError:
            reachable = False
    require("Redis", reachable, "set REDIS_URL=redis://127.0.0.1:6379/0 and start redis-server")
    return url


# --- The PII guard ---------------------------------------------------------------
# Every log line a test produces goes through the production filters and
# formatter; if it still carries a phone number or email of a user created in
# the test, the test fails.


class _CapturingHandler(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.stream = io.StringIO()
        self.addFilter(RequestContextFilter())
        self.addFilter(PIIMaskingFilter())
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.stream.write(self.format(record) + "\n")


def _variants(phone: str) -> set[str]:
    digits = phone.lstrip("+")
    national = digits[1:] if digits.startswith("1") and len(digits) == 11 else digits
    return {phone, digits, national} | (
        {f"{national[:3]}-{national[3:6]}-{national[6:]}"} if len(national) == 10 else set()
    )


@pytest.fixture(autouse=True)
def no_pii_in_logs(request):
    from django.conf import settings

    secrets_seen: set[str] = set()

    def remember(sender, instance, **kwargs):
        if getattr(instance, "phone_number", ""):
            secrets_seen.update(_variants(instance.phone_number))
        if getattr(instance, "email", ""):
            secrets_seen.add(instance.email)

    post_save.connect(remember, sender=settings.AUTH_USER_MODEL, dispatch_uid="pii-guard", weak=False)
    handler = _CapturingHandler()
    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in ("django", "django.request", "celery"))]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        post_save.disconnect(sender=settings.AUTH_USER_MODEL, dispatch_uid="pii-guard")
    output = handler.stream.getvalue()
    leaked = sorted(s for s in secrets_seen if s and re.search(rf"(?<![\d*]){re.escape(s)}(?!\d)", output))
    if leaked and "allow_pii_in_logs" not in request.keywords:
        lines = [
            json.loads(line).get("message", line) for line in output.splitlines() if any(s in line for s in leaked)
        ]
        pytest.fail(f"PII reached a log line unmasked: {len(leaked)} value(s) in {lines[:3]!r}")
