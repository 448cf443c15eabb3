"""The login flow under attack: redirects, oversized input, late answers, secrets that must stay secret."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import LoginRequest
from accounts.views.login import CLAIMS_KEY
from audit.models import AuditEvent
from documents import services as document_services
from tests.accounts.conftest import token_of
from tests.factories import UserFactory, make_document
from tests.security.conftest import enroll

pytestmark = pytest.mark.django_db

DEMO_APPROVES = "+12025550100"


@pytest.fixture
def webauthn(settings):
    settings.DOCUID_BIOMETRIC_PROVIDER = "webauthn"


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_signing_in_never_follows_an_off_site_next_parameter(client, next_url):
    UserFactory(phone_number=DEMO_APPROVES)
    started = client.post(f"{reverse('accounts:login')}?next={next_url}", {"phone_number": DEMO_APPROVES})
    finished = client.get(started["Location"])
    assert finished.status_code == 302 and finished["Location"] == reverse("home")


def test_signing_out_never_follows_an_off_site_next_parameter(client):
    response = client.post(f"{reverse('accounts:logout')}?next=https://evil.example/")
    assert response.status_code == 302 and "evil" not in response["Location"]


def test_a_megabyte_phone_number_gets_a_form_error_not_a_500(client):
    response = client.post(reverse("accounts:login"), {"phone_number": "1" * 1_000_000})
    assert response.status_code == 400
    assert not LoginRequest.objects.exists()


def test_a_body_larger_than_the_json_limit_is_refused_cleanly_on_every_json_endpoint(client):
    big = json.dumps({"x": "y" * 100_000})
    for name, args in (("accounts:approve-verify", ["t" * 43]), ("accounts:passkey-complete", [])):
        response = client.post(reverse(name, args=args), data=big, content_type="application/json")
        assert response.status_code == 400 and response.json()["ok"] is False


def _phone_flow(user, phone_links):
    """Ask on a desktop; return it, the request, the phone's link token and the desktop's QR token."""
    desktop = Client()
    desktop.post(reverse("accounts:login"), {"phone_number": user.phone_number})
    login_request = LoginRequest.objects.get()
    qr_url = desktop.session[CLAIMS_KEY][str(login_request.pk)]["qr_url"]
    return desktop, login_request, token_of(phone_links()[-1]), token_of(qr_url)


def _approve(token, login_request, authenticator):
    phone = Client()
    phone.post(reverse("accounts:approve-code", args=[token]), {"code": login_request.match_code})
    options = phone.post(reverse("accounts:approve-options", args=[token]))
    if options.status_code != 200:
        return options
    return phone.post(
        reverse("accounts:approve-verify", args=[token]),
        data=json.dumps(authenticator.assert_(options.json())),
        content_type="application/json",
    )


def test_deny_or_this_wasnt_me_after_an_approval_changes_nothing(webauthn, rf, phone_links):
    user = UserFactory()
    authenticator = enroll(user, rf.post("/"))
    _, login_request, token, _ = _phone_flow(user, phone_links)
    assert _approve(token, login_request, authenticator).status_code == 200
    Client().post(reverse("accounts:approve-deny", args=[token]))
    Client().post(reverse("accounts:approve-fraud", args=[token]))
    login_request.refresh_from_db()
    assert login_request.status == LoginRequest.Status.APPROVED


def test_a_denied_request_cannot_be_approved_afterwards(webauthn, rf, phone_links):
    user = UserFactory()
    authenticator = enroll(user, rf.post("/"))
    _, login_request, token, _ = _phone_flow(user, phone_links)
    Client().post(reverse("accounts:approve-deny", args=[token]))
    assert _approve(token, login_request, authenticator).status_code != 200
    login_request.refresh_from_db()
    assert login_request.status == LoginRequest.Status.DENIED


def test_no_secret_of_a_login_or_a_share_reaches_the_audit_trail_or_the_logs(webauthn, rf, no_pii_in_logs, phone_links):
    user = UserFactory()
    authenticator = enroll(user, rf.post("/"))
    desktop, login_request, token, qr_token = _phone_flow(user, phone_links)
    claim_secret = desktop.session[CLAIMS_KEY][str(login_request.pk)]["secret"]
    _approve(token, login_request, authenticator)
    desktop.get(reverse("accounts:wait", args=[login_request.pk]))
    document = make_document(user, name="secret.pdf")
    _, share_token = document_services.share_create(
        acting_user=user, document=document, password="correct horse battery"
    )
    Client().post(reverse("share:link", args=[share_token]), {"password": "correct horse battery"})
    trail = json.dumps(
        list(AuditEvent.objects.values("data", "target_repr", "actor_repr", "user_agent", "request_id")), default=str
    )
    logs = no_pii_in_logs.stream.getvalue()
    for secret in (claim_secret, token, qr_token, share_token, "correct horse battery"):
        assert secret not in trail and secret not in logs


def test_the_requesting_browser_cannot_pick_the_match_code_for_the_phone(webauthn, rf, phone_links):
    victim = UserFactory()
    authenticator = enroll(victim, rf.post("/"))
    _, login_request, token, qr_token = _phone_flow(victim, phone_links)
    # The requester reads the code on its waiting page and the link in its QR code.
    attacker = Client()
    attacker.post(reverse("accounts:approve-code", args=[qr_token]), {"code": login_request.match_code})
    victims_phone = Client()
    page = victims_phone.get(reverse("accounts:approve", args=[token]))
    assert page.content.count(b'name="code"') == 3 and b"approve.js" not in page.content
    assert victims_phone.post(reverse("accounts:approve-options", args=[token])).status_code == 409
    assert _approve(token, login_request, authenticator).status_code == 200  # picking it on the phone still works
