"""Attacks on the login limits (issue #12, F3): a stranger who knows a number, from any number
of networks, must not keep its owner from signing in nor flood the owner's phone with prompts."""

import json
import logging
import threading
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import ratelimit
from accounts.known_browsers import COOKIE_NAME, UNKNOWN, default_known_browser_signer
from accounts.models import FraudReport, LoginRequest
from accounts.services.api_tokens import api_client_create
from accounts.services.limits import DENIAL_SCOPE
from audit.models import AuditEvent
from tests.accounts.test_profile_admin_commands import sign_in_with_passkey
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

VICTIM = "+13125550170"
STRANGERS = ["198.51.100.7", "203.0.113.66", "192.0.2.44"]


@pytest.fixture
def prompts(monkeypatch, django_capture_on_commit_callbacks):
    """How many prompts have been queued for the phone so far (a test's transaction never commits:
    each call runs the on-commit callbacks captured since the last)."""
    queued: list[str] = []
    monkeypatch.setattr("accounts.services.login._enqueue_notify", lambda request_id, url: queued.append(request_id))
    capturing = [django_capture_on_commit_callbacks(execute=True)]
    capturing[0].__enter__()

    def count() -> int:
        capturing[0].__exit__(None, None, None)
        capturing[0] = django_capture_on_commit_callbacks(execute=True)
        capturing[0].__enter__()
        return len(queued)

    yield count
    capturing[0].__exit__(None, None, None)


@pytest.fixture
def clock(monkeypatch):
    """The limits' clock, to move through windows."""
    now = [1_800_000_000.0]
    monkeypatch.setattr("accounts.ratelimit.time.time", lambda: now[0])
    return now


def ask(client, phone=VICTIM):
    return client.post(reverse("accounts:login"), {"phone_number": phone})


def stranger_floods(phone=VICTIM, addresses=STRANGERS, per_address=5):
    for address in addresses:
        stranger = Client(REMOTE_ADDR=address)
        for _ in range(per_address):
            ask(stranger, phone)


def known_browser(phone=VICTIM, address="192.0.2.200") -> Client:
    browser = Client(REMOTE_ADDR=address)
    browser.cookies[COOKIE_NAME] = default_known_browser_signer.dump(UNKNOWN, phone)
    return browser


# --- the owner is not locked out ----------------------------------------------------------------


def test_strangers_on_three_networks_do_not_get_the_owner_a_429_on_the_web():
    UserFactory(phone_number=VICTIM)
    stranger_floods()
    assert ask(Client(REMOTE_ADDR="100.64.7.7")).status_code == 302  # the owner, a new browser


def test_strangers_on_three_networks_do_not_get_the_owner_a_429_on_the_api(settings):
    settings.DOCUID_BIOMETRIC_PROVIDER = "simulator"
    UserFactory(phone_number=VICTIM)
    stranger_floods()
    _, key = api_client_create(name="Office add-in")
    response = Client(REMOTE_ADDR="100.64.7.7").post(
        "/api/v1/auth/login",
        json.dumps({"phoneNumber": VICTIM}),
        content_type="application/json",
        headers={"x-api-key": key},
    )
    assert response.status_code not in (429, 500), response.content
    assert response.status_code < 300


def test_a_stranger_keeps_being_refused_but_the_owner_is_never_refused_window_after_window(clock):
    UserFactory(phone_number=VICTIM)
    for _ in range(4):  # a whole hour of windows
        stranger_floods(per_address=6)
        assert ask(Client(REMOTE_ADDR=STRANGERS[0])).status_code == 429
        assert ask(Client(REMOTE_ADDR="100.64.7.7")).status_code == 302
        clock[0] += 900


def test_the_owners_known_browser_signs_in_from_a_flooded_network():
    UserFactory(phone_number=VICTIM)
    stranger_floods(addresses=[STRANGERS[0]], per_address=25)  # also uses up the network's own limit
    assert ask(Client(REMOTE_ADDR=STRANGERS[0])).status_code == 429
    assert ask(known_browser(address=STRANGERS[0])).status_code == 302  # behind the same address


def test_the_owners_known_browser_is_exempt_from_the_denial_lock_strangers_prompts_led_to(settings):
    UserFactory(phone_number=VICTIM)
    for _ in range(settings.DOCUID_DENIAL_LOCK_COUNT):  # the owner denied the strangers' prompts
        ratelimit.record_strike(DENIAL_SCOPE, VICTIM, window_seconds=3600)
    assert ask(Client(REMOTE_ADDR="100.64.7.7")).status_code == 429
    assert ask(known_browser()).status_code == 302


def test_the_owners_known_browser_is_exempt_from_the_block_after_this_wasnt_me():
    user = UserFactory(phone_number=VICTIM)
    ask(Client(REMOTE_ADDR=STRANGERS[0]))
    FraudReport.objects.create(
        login_request=LoginRequest.objects.get(),
        user=user,
        phone_number=VICTIM,
        blocked_until=timezone.now() + timedelta(hours=1),
    )
    assert ask(Client(REMOTE_ADDR="100.64.7.7")).status_code == 429
    assert ask(known_browser()).status_code == 302


def test_the_known_browser_still_has_its_own_allowance(settings):
    UserFactory(phone_number=VICTIM)
    browser = known_browser()
    codes = [ask(browser).status_code for _ in range(settings.DOCUID_RATE_LIMIT_PHONE + 1)]
    assert codes == [302] * settings.DOCUID_RATE_LIMIT_PHONE + [429]


def test_a_marker_for_another_number_or_a_forged_one_exempts_nothing():
    UserFactory(phone_number=VICTIM)
    stranger_floods(addresses=[STRANGERS[0]], per_address=5)
    theirs = known_browser(phone="+13125550171", address=STRANGERS[0])  # the stranger's own number
    assert ask(theirs).status_code == 429
    forged = Client(REMOTE_ADDR=STRANGERS[0])
    value = default_known_browser_signer.dump(UNKNOWN, VICTIM)
    forged.cookies[COOKIE_NAME] = value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB")
    assert ask(forged).status_code == 429


def test_signing_in_marks_the_browser_as_known_for_that_number(client, settings, webauthn_provider, enrolled):
    user, authenticator = enrolled
    sign_in_with_passkey(client, user, authenticator)
    cookie = client.cookies[COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert user.phone_number not in cookie.value and user.phone_number.lstrip("+") not in cookie.value
    known = default_known_browser_signer.load(cookie.value)
    assert default_known_browser_signer.knows(known, user.phone_number)
    assert not default_known_browser_signer.knows(known, "+13125550171")


# --- the phone is not flooded ------------------------------------------------------------------


def test_strangers_on_any_number_of_networks_push_at_most_the_hourly_cap_of_prompts(settings, prompts, clock):
    UserFactory(phone_number=VICTIM)
    for window in range(4):  # an hour: four of the refusal limits' windows
        stranger_floods(addresses=[f"10.{window}.{i}.1" for i in range(6)], per_address=5)
        clock[0] += 900
    assert prompts() == settings.DOCUID_LOGIN_PROMPTS_PER_HOUR
    clock[0] += 3600  # the next hour: a few more
    stranger_floods(addresses=["10.99.0.1"], per_address=1)
    assert prompts() == settings.DOCUID_LOGIN_PROMPTS_PER_HOUR + 1


def test_past_the_cap_a_request_is_answered_exactly_like_any_other(settings, prompts, webauthn_provider):
    UserFactory(phone_number=VICTIM)
    stranger_floods(addresses=[f"10.0.{i}.1" for i in range(3)], per_address=settings.DOCUID_LOGIN_PROMPTS_PER_HOUR)
    stranger = Client(REMOTE_ADDR="10.1.0.1")
    capped = ask(stranger)
    assert capped.status_code == 302 and prompts() == settings.DOCUID_LOGIN_PROMPTS_PER_HOUR
    assert stranger.get(capped["Location"]).status_code == 200  # the waiting page, QR code and all


def test_the_owners_known_browser_still_gets_its_prompt_past_the_cap(settings, prompts):
    UserFactory(phone_number=VICTIM)
    stranger_floods(addresses=[f"10.0.{i}.1" for i in range(3)], per_address=5)
    before = prompts()
    assert ask(known_browser()).status_code == 302
    assert prompts() == before + 1


# --- networks, not addresses ---------------------------------------------------------------------


def test_addresses_of_one_ipv6_64_share_the_per_network_limit(settings):
    codes = [
        ask(Client(REMOTE_ADDR=f"2001:db8:7:1::{i:x}"), f"+1312555{1000 + i:04d}").status_code
        for i in range(1, settings.DOCUID_RATE_LIMIT_IP + 2)
    ]
    assert codes[-1] == 429 and codes[:-1] == [302] * settings.DOCUID_RATE_LIMIT_IP


def test_addresses_of_one_ipv6_64_share_the_per_number_limit(settings):
    UserFactory(phone_number=VICTIM)
    codes = [ask(Client(REMOTE_ADDR=f"2001:db8:7:1::{i:x}")).status_code for i in range(1, 8)]
    assert codes == [302] * settings.DOCUID_RATE_LIMIT_PHONE + [429] * (7 - settings.DOCUID_RATE_LIMIT_PHONE)


# --- the record of it ----------------------------------------------------------------------------


def test_a_rate_limit_event_names_the_masked_number_and_network_and_no_log_line_the_real_ones(caplog):
    UserFactory(phone_number=VICTIM)
    caplog.set_level(logging.DEBUG)
    stranger_floods(addresses=["203.0.113.66"], per_address=6)
    event = AuditEvent.objects.filter(action="auth.rate_limited").get()
    assert event.data["phone"] == "+1******0170" and event.data["network"] == "203.0.113.x"
    assert event.data["scope"] == "phone"
    assert "203.0.113.66" not in caplog.text and "3125550170" not in caplog.text


def test_the_prompt_cap_log_line_masks_the_number_and_network(settings, prompts, caplog):
    settings.DOCUID_LOGIN_PROMPTS_PER_HOUR = 1
    caplog.set_level(logging.DEBUG)
    stranger_floods(addresses=["203.0.113.66"], per_address=2)
    assert "prompt cap reached for +1******0170" in caplog.text and "203.0.113.x" in caplog.text
    assert "203.0.113.66" not in caplog.text and "3125550170" not in caplog.text


# --- atomic counters ----------------------------------------------------------------------------


@pytest.mark.redis
def test_parallel_login_attempts_on_redis_pass_a_limit_exactly_as_often_as_it_allows(settings, redis_url):
    prefix = f"limits-test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": prefix,
        }
    }
    limit = ratelimit.Limit("parallel", 5, 60)
    verdicts: list[bool] = []
    barrier = threading.Barrier(16)

    def attempt():
        barrier.wait()
        verdicts.append(ratelimit.hit(limit, VICTIM).allowed)

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    from django.core.cache import cache

    client = cache._cache.get_client()
    keys = client.keys(f"{prefix}:*")
    try:
        assert verdicts.count(True) == 5 and len(verdicts) == 16
        assert len(keys) == 1 and 0 < client.ttl(keys[0]) <= 65  # the counter expires with its window
    finally:
        client.delete(*keys)  # never FLUSHDB: the Redis database is shared
