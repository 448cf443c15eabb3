"""The waiting page's QR code carries a weaker token than the phone's link (security review).

Whoever starts a login sees its QR code, and may be a stranger who only knows the number:
that token can approve (match code + passkey), but cannot lock or pause the number.
"""

import json

import pytest
from django.test import Client
from django.urls import reverse
from prometheus_client import REGISTRY

from accounts import ratelimit
from accounts.models import FraudReport, LoginRequest
from accounts.services.limits import DENIAL_SCOPE
from accounts.tokens import default_secret_generator
from accounts.views.login import CLAIMS_KEY, _qr_svg
from audit.models import AuditEvent
from docuid.logging import mask_pii
from tests.accounts.conftest import token_of

pytestmark = pytest.mark.django_db

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


@pytest.fixture(autouse=True)
def _only_the_denial_lock_counts(settings, webauthn_provider):
    # The per-number request limit equals the lock count; raised so that it cannot hide the lock.
    settings.DOCUID_RATE_LIMIT_PHONE = settings.DOCUID_LOGIN_PROMPTS_PER_HOUR = 100
    settings.DOCUID_RATE_LIMIT_IP = 100


def ask(client, phone_number):
    return client.post(reverse("accounts:login"), {"phone_number": phone_number}, HTTP_USER_AGENT=UA)


def qr_link_of(client, wait_url) -> str:
    """The link in the waiting page's QR code, as the requesting browser sees it."""
    page = client.get(wait_url)
    url = next(iter(client.session[CLAIMS_KEY].values()))["qr_url"]
    assert page.status_code == 200 and _qr_svg(url).encode() in page.content
    return url


def denied_attempts() -> float:
    return REGISTRY.get_sample_value("docuid_auth_attempts_total", {"outcome": "denied"}) or 0.0


# --- the attacks ----------------------------------------------------------------------------


def test_the_requesting_browser_cannot_lock_the_victims_number_by_denying_its_own_requests(settings, enrolled):
    victim, _ = enrolled
    attacker = Client()
    for _ in range(settings.DOCUID_DENIAL_LOCK_COUNT):
        link = qr_link_of(attacker, ask(attacker, victim.phone_number)["Location"])
        attacker.post(reverse("accounts:approve-deny", args=[token_of(link)]))
    assert LoginRequest.objects.filter(status=LoginRequest.Status.CANCELLED).count() == 5
    fresh = ask(Client(), victim.phone_number)
    assert fresh.status_code == 302 and "/login/wait/" in fresh["Location"]


def test_the_requesting_browser_cannot_pause_the_victims_sign_in_with_this_wasnt_me(enrolled):
    victim, _ = enrolled
    attacker = Client()
    link = qr_link_of(attacker, ask(attacker, victim.phone_number)["Location"])
    page = attacker.get(link)
    assert page.status_code == 200 and b"fraud-button" not in page.content and b"/fraud" not in page.content
    refused = attacker.post(reverse("accounts:approve-fraud", args=[token_of(link)]))
    assert refused.status_code in (403, 404)
    assert not FraudReport.objects.exists()
    assert LoginRequest.objects.get().status == LoginRequest.Status.PENDING
    fresh = ask(Client(), victim.phone_number)
    assert fresh.status_code == 302 and "/login/wait/" in fresh["Location"]


def test_the_same_denials_from_the_phones_link_still_lock_the_number(settings, enrolled, phone_links):
    victim, _ = enrolled
    for _ in range(settings.DOCUID_DENIAL_LOCK_COUNT):
        ask(Client(), victim.phone_number)
        Client().post(reverse("accounts:approve-deny", args=[token_of(phone_links()[-1])]))
    assert ask(Client(), victim.phone_number).status_code == 429


def test_the_phones_link_still_offers_this_wasnt_me(enrolled, phone_links):
    victim, _ = enrolled
    ask(Client(), victim.phone_number)
    page = Client().get(reverse("accounts:approve", args=[token_of(phone_links()[-1])]))
    assert b'id="fraud-button"' in page.content


# --- what the QR link can and cannot do -----------------------------------------------------


def test_the_qr_link_is_not_the_phones_link_and_only_its_hash_is_stored(enrolled, phone_links):
    victim, _ = enrolled
    desktop = Client()
    qr_token = token_of(qr_link_of(desktop, ask(desktop, victim.phone_number)["Location"]))
    phone_token = token_of(phone_links()[-1])
    login_request = LoginRequest.objects.get()
    assert qr_token != phone_token
    assert login_request.qr_token_hash == default_secret_generator.hash(qr_token)
    assert phone_token not in json.dumps(dict(desktop.session.items()))


def test_the_qr_link_approves_with_the_match_code_and_a_passkey(enrolled):
    victim, authenticator = enrolled
    desktop = Client()
    wait_url = ask(desktop, victim.phone_number)["Location"]
    token = token_of(qr_link_of(desktop, wait_url))
    login_request = LoginRequest.objects.get()
    phone = Client()
    phone.post(reverse("accounts:approve-code", args=[token]), {"code": login_request.match_code})
    options = phone.post(reverse("accounts:approve-options", args=[token])).json()
    verified = phone.post(
        reverse("accounts:approve-verify", args=[token]),
        json.dumps(authenticator.assert_(options)),
        content_type="application/json",
    )
    assert verified.status_code == 200
    assert desktop.get(wait_url)["Location"] == reverse("home")


def test_the_qr_links_deny_only_cancels_and_is_not_counted_as_a_denial(enrolled, django_capture_on_commit_callbacks):
    victim, _ = enrolled
    desktop = Client()
    wait_url = ask(desktop, victim.phone_number)["Location"]
    token = token_of(qr_link_of(desktop, wait_url))
    before = denied_attempts()
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(reverse("accounts:approve-deny", args=[token]))
    assert b"Cancelled. Nobody was signed in." in response.content
    login_request = LoginRequest.objects.get()
    assert (login_request.status, login_request.failure_reason) == ("cancelled", "cancelled_from_qr")
    event = AuditEvent.objects.filter(target_id=str(login_request.pk)).latest("pk")
    assert (event.action, event.data["reason"]) == ("auth.failed", "cancelled_from_qr")
    assert ratelimit.strikes(DENIAL_SCOPE, victim.phone_number) == 0
    assert denied_attempts() == before
    assert b"cancelled on the phone that scanned the code" in desktop.get(wait_url).content


def test_the_log_masker_hides_the_qr_links_token(enrolled):
    victim, _ = enrolled
    desktop = Client()
    link = qr_link_of(desktop, ask(desktop, victim.phone_number)["Location"])
    masked = mask_pii(f"GET {link} 200")
    assert token_of(link) not in masked and "/approve/[REDACTED]" in masked
