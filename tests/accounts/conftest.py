import re

import pytest
from django.test import RequestFactory

from accounts import services
from accounts.context import ClientContext
from tests.accounts.softauthn import SoftAuthenticator
from tests.factories import UserFactory

ORIGIN = "http://localhost:8000"


@pytest.fixture(autouse=True)
def _login_settings(settings):
    settings.DOCUID_SITE_URL = ORIGIN
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [ORIGIN]
    settings.DOCUID_NOTIFIERS = []
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "accounts-tests"}
    }
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def phone_links(settings, capsys, django_capture_on_commit_callbacks):
    """The approval links really sent to the phone (the console notifier's), oldest first.

    The requesting browser only ever holds the weaker QR link, so a test acting as the
    phone reads the full-power link where the phone would get it. The notification is
    queued on commit, which a test's transaction never reaches: each call runs what it
    would have run.
    """
    settings.DEBUG = True
    settings.DOCUID_NOTIFIERS = ["console"]
    seen: list[str] = []
    capturing = [django_capture_on_commit_callbacks(execute=True)]
    capturing[0].__enter__()

    def links() -> list[str]:
        capturing[0].__exit__(None, None, None)
        capturing[0] = django_capture_on_commit_callbacks(execute=True)
        capturing[0].__enter__()
        seen.extend(re.findall(r"^\s+(\S+/approve/\S+)$", capsys.readouterr().err, re.M))
        return seen

    yield links
    capturing[0].__exit__(None, None, None)


def token_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


@pytest.fixture
def webauthn_provider(settings):
    settings.DOCUID_BIOMETRIC_PROVIDER = "webauthn"


@pytest.fixture
def http_request():
    request = RequestFactory().post(
        "/", HTTP_USER_AGENT="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36"
    )
    request.META["REMOTE_ADDR"] = "203.0.113.7"
    return request


@pytest.fixture
def client_context():
    return ClientContext.from_values(
        user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
        ip="203.0.113.7",
    )


def enroll(user, request) -> SoftAuthenticator:
    """Give `user` a passkey through the real enrollment service; return the authenticator holding it."""
    authenticator = SoftAuthenticator(origin=ORIGIN)
    url = services.enrollment_link_create(user=user, acting_user=None, send=False)
    token = url.rstrip("/").rsplit("/", 1)[-1]
    options, state = services.enrollment_begin(token=token, request=request)
    services.enrollment_complete(
        token=token, state=state, credential=authenticator.register(options), device_name="Phone", request=request
    )
    return authenticator


@pytest.fixture
def enrolled(db, http_request):
    user = UserFactory()
    return user, enroll(user, http_request)
