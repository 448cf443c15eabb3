"""The waiting page and the rate-limit page say what is happening, for how long, and what to do next."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import LoginRequest
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PENDING_NUMBER = "+12025550102"  # the simulator's number that never answers


def ask(client, phone=PENDING_NUMBER):
    return client.post(reverse("accounts:login"), {"phone_number": phone})


def countdown_seconds(html: str) -> int:
    return int(re.search(r'id="wait-countdown" data-seconds-left="(\d+)"', html).group(1))


def test_the_waiting_page_counts_down_from_the_servers_time_left(client, settings):
    UserFactory(phone_number=PENDING_NUMBER)
    html = client.get(ask(client)["Location"]).content.decode()
    login_request = LoginRequest.objects.get()
    left = countdown_seconds(html)
    assert settings.DOCUID_LOGIN_REQUEST_TTL_SECONDS - 5 <= left <= settings.DOCUID_LOGIN_REQUEST_TTL_SECONDS
    # The expiry is machine-readable UTC for localtime.js, and readable UTC without JavaScript.
    expires = login_request.expires_at
    assert f'<time datetime="{expires.isoformat()}" data-local="time">{expires:%H:%M} UTC</time>' in html
    assert 'src="/static/js/localtime.js"' in html and 'src="/static/js/login-wait.js"' in html


def test_the_countdown_follows_the_request_not_a_fixed_five_minutes(client):
    UserFactory(phone_number=PENDING_NUMBER)
    wait_url = ask(client)["Location"]
    LoginRequest.objects.update(expires_at=timezone.now() + timedelta(seconds=42))
    html = client.get(wait_url).content.decode()
    left = countdown_seconds(html)
    assert 30 <= left <= 42
    assert f">{left} seconds</strong>" in html  # the text without JavaScript


def test_the_waiting_page_says_which_number_was_asked_in_full_to_the_browser_that_typed_it(client):
    UserFactory(phone_number=PENDING_NUMBER)
    html = client.get(ask(client, "(202) 555-0102")["Location"]).content.decode()
    assert '<strong class="phone-number" id="asked-number">+1 202-555-0102</strong>' in html


def test_the_waiting_page_carries_the_expired_state_and_a_try_again_button_for_the_countdown(client):
    UserFactory(phone_number=PENDING_NUMBER)
    html = client.get(ask(client)["Location"]).content.decode()
    expired = html.split('<div id="wait-expired" role="alert" hidden>', 1)[1].split("</div>", 1)[0]
    assert "This request has expired." in expired
    assert f'id="wait-try-again" href="{reverse("accounts:login")}">Try again</a>' in expired


def test_an_expired_request_ends_with_a_page_that_says_so_and_offers_try_again(client):
    UserFactory(phone_number=PENDING_NUMBER)
    wait_url = ask(client)["Location"]
    LoginRequest.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get(wait_url)
    html = response.content.decode()
    assert "<h1>Sign-in request expired</h1>" in html
    assert "expired before it was approved" in html
    assert f'<a class="button" href="{reverse("accounts:login")}">Try again</a>' in html
    assert 'id="wait-countdown"' not in html


def rate_limited(monkeypatch, seconds):
    def refuse(**kwargs):
        raise services.RateLimited(
            "Too many sign-in attempts from your network. Please wait and try again.", seconds, "ip"
        )

    monkeypatch.setattr(services, "login_request_start", refuse)


def test_the_rate_limit_page_gives_one_message_with_the_real_wait_and_the_time(client, monkeypatch):
    rate_limited(monkeypatch, 400)
    before = timezone.now()
    response = ask(client)
    html = response.content.decode()
    assert response.status_code == 429 and response["Retry-After"] == "400"
    assert "<h1>Try again in 7 minutes</h1>" in html
    assert "a moment" not in html and "about" not in html
    moment = re.search(r'<time datetime="([^"]+)" data-local="time">(\d\d:\d\d) UTC</time>', html)
    retry_at = timezone.datetime.fromisoformat(moment.group(1))
    assert timedelta(seconds=399) <= retry_at - before <= timedelta(seconds=402)
    assert moment.group(2) == f"{retry_at:%H:%M}"


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1, "1 second"),
        (45, "45 seconds"),
        (60, "1 minute"),
        (61, "2 minutes"),
        (121, "3 minutes"),
        (1200, "20 minutes"),
        (7200, "2 hours"),
        (7300, "2 hours 2 minutes"),
    ],
)
def test_the_wait_is_said_in_words_rounded_up(client, monkeypatch, seconds, words):
    rate_limited(monkeypatch, seconds)
    assert f"<h1>Try again in {words}</h1>" in ask(client).content.decode()


def test_a_long_block_shows_the_date_it_ends_too(client, monkeypatch):
    rate_limited(monkeypatch, 2 * 86400)
    html = ask(client).content.decode()
    assert re.search(r'<time datetime="[^"]+" data-local>\d{1,2} \w{3} \d{4}, \d\d:\d\d UTC</time>', html)
