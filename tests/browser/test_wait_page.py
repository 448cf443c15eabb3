"""The waiting page in a real browser: a live countdown, local times, and an expiry that says so."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import LoginRequest
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

NEVER_ANSWERS = "+12025550102"


@pytest.fixture(autouse=True)
def simulator_site(settings, site):
    settings.DOCUID_BIOMETRIC_PROVIDER = "simulator"
    settings.DOCUID_SITE_URL = site
    settings.DOCUID_NOTIFIERS = []
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "wait"}}


def seconds(countdown: str) -> int:
    minutes, rest = countdown.split(":")
    return int(minutes) * 60 + int(rest)


def waiting(site, new_context, **context):
    UserFactory(phone_number=NEVER_ANSWERS)
    page = new_context(**context).new_page()
    page.goto(site + "/login/")
    page.fill("input[name=phone_number]", "202 555 0102")
    page.click("#send-request")
    page.wait_for_url("**/login/wait/**")
    return page


def test_the_countdown_runs_and_the_expiry_is_shown_in_the_browsers_time_zone(site, new_context):
    page = waiting(site, new_context, timezone_id="Asia/Tokyo", locale="en-GB")
    first = seconds(page.inner_text("#wait-countdown"))
    page.wait_for_timeout(2600)
    assert 290 <= first <= 300 and seconds(page.inner_text("#wait-countdown")) <= first - 2
    expires = LoginRequest.objects.get().expires_at
    tokyo = expires + timedelta(hours=9)
    assert page.inner_text("time[data-local]").startswith(f"{tokyo:%H:%M}")
    assert "UTC" in page.get_attribute("time[data-local]", "title")


def test_at_zero_the_page_says_the_request_expired_and_offers_try_again(site, new_context):
    page = waiting(site, new_context)
    LoginRequest.objects.update(expires_at=timezone.now() + timedelta(seconds=3))
    page.reload()
    page.context.set_offline(True)  # the countdown alone, with no answer from the server
    page.wait_for_selector("#wait-expired:not([hidden])", timeout=8_000)
    assert page.is_hidden("#wait-pending") and page.is_visible("#wait-try-again")
    page.context.set_offline(False)
    page.reload()
    assert page.inner_text("h1") == "Sign-in request expired"
    assert page.is_visible("text=Try again")
