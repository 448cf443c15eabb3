"""Fixtures for the attack tests: the documents fixtures, a private cache, a passkey-enrolled person."""

import pytest

from tests.accounts.conftest import ORIGIN, enroll, phone_links  # noqa: F401 — fixture
from tests.documents.conftest import document, login, login_url, media, other, owner  # noqa: F401 — fixtures

__all__ = ["ORIGIN", "enroll", "login"]


@pytest.fixture(autouse=True)
def _isolated(settings):
    """Rate limits and throttles start from zero in every test; no notifier leaves the process."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "security-tests"}
    }
    settings.DOCUID_NOTIFIERS = []
    settings.DOCUID_SITE_URL = ORIGIN
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [ORIGIN]
    from django.core.cache import cache

    cache.clear()
