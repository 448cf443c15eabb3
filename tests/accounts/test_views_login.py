import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import FraudReport, LoginRequest
from accounts.views.login import CLAIMS_KEY
from tests.accounts.conftest import ORIGIN, token_of
from tests.accounts.softauthn import SoftAuthenticator
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


def ask(client, phone):
    return client.post(reverse("accounts:login"), {"phone_number": phone}, HTTP_USER_AGENT=UA)


def test_the_login_page_offers_the_phone_number_form(client):
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    assert b'name="phone_number"' in response.content and b'autocomplete="username webauthn"' in response.content


def test_a_demo_number_signs_in_end_to_end_with_a_rotated_session(client):
    UserFactory(phone_number="+12025550100")
    client.get(reverse("accounts:login"))
    anonymous_key = client.session.session_key
    response = ask(client, "+1 (202) 555-0100")
    assert response.status_code == 302
    wait_url = response["Location"]
    response = client.get(wait_url)
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert client.session.session_key != anonymous_key
    assert client.session["_auth_user_id"]
    assert b"already been used" in client.get(wait_url).content


def test_the_waiting_page_shows_the_match_code_and_falls_back_to_meta_refresh(client):
    UserFactory(phone_number="+12025550102")
    response = client.get(ask(client, "+12025550102")["Location"])
    login_request = LoginRequest.objects.get()
    assert response.status_code == 200
    assert f'id="match-code">{login_request.match_code}<'.encode() in response.content
    assert b'<noscript><meta http-equiv="refresh"' in response.content


def test_with_the_webauthn_provider_the_waiting_page_shows_a_qr_code_of_the_approval_link(client, webauthn_provider):
    response = client.get(ask(client, "+13125550100")["Location"])
    assert b"<svg" in response.content and b"<script" not in response.content.split(b"<svg", 1)[1].split(b"</svg>")[0]


def test_an_unknown_number_gets_the_same_responses_as_a_known_one(webauthn_provider, enrolled):
    user, _ = enrolled
    pages = {}
    for phone in (user.phone_number, "+13125550190"):
        client = Client()
        started = ask(client, phone)
        wait = client.get(started["Location"])
        status = client.get(reverse("accounts:status", args=[started["Location"].split("/")[-2]]))
        strip = re.compile(
            # Besides the ids, codes and times: the number each browser typed, shown back to it.
            rb'[0-9a-f-]{36}|id="match-code">\d\d<|<svg.*</svg>|csrfmiddlewaretoken" value="[^"]+"'
            rb'|id="asked-number">[^<]+<|data-seconds-left="\d+">[^<]+<|<time [^>]+>[^<]+</time>',
            re.S,
        )
        pages[phone] = (
            started.status_code,
            re.sub(r"[0-9a-f-]{36}", "", started["Location"]),
            wait.status_code,
            strip.sub(b"", wait.content),
            status.status_code,
            status.json(),
        )
    known, unknown = pages.values()
    assert known == unknown


def test_a_malformed_number_gets_a_form_error_not_a_500(client):
    response = ask(client, "12")
    assert response.status_code == 400
    assert b"errorlist" in response.content and b"phone number" in response.content


def test_the_status_endpoint_reports_pending_then_the_outcome(client):
    UserFactory(phone_number="+12025550101")
    request_id = ask(client, "+12025550101")["Location"].split("/")[-2]
    body = client.get(reverse("accounts:status", args=[request_id])).json()
    assert body["status"] == "denied" and "denied" in body["message"]


def test_a_second_browser_cannot_see_or_claim_another_browsers_request(client):
    UserFactory(phone_number="+12025550100")
    wait_url = ask(client, "+12025550100")["Location"]
    intruder = Client()
    request_id = wait_url.split("/")[-2]
    assert intruder.get(reverse("accounts:status", args=[request_id])).status_code == 404
    response = intruder.get(wait_url)
    assert response.status_code == 403 and b"belongs to another browser" in response.content
    assert "_auth_user_id" not in intruder.session
    assert LoginRequest.objects.get().status != LoginRequest.Status.CONSUMED


def test_a_consumed_request_cannot_be_replayed_from_the_same_browser(client):
    UserFactory(phone_number="+12025550100")
    wait_url = ask(client, "+12025550100")["Location"]
    session_claims = dict(client.session[CLAIMS_KEY])
    client.get(wait_url)
    # A copy of the browser's claim (say, a stolen cookie jar) replayed after the sign-in.
    replay = Client()
    session = replay.session
    session[CLAIMS_KEY] = session_claims
    session.save()
    response = replay.get(wait_url)
    assert b"already been used" in response.content
    assert "_auth_user_id" not in replay.session


def test_past_the_per_number_limit_the_login_page_answers_429_with_retry_after(client):
    for _ in range(5):
        ask(client, "+13125550188")
    response = ask(client, "+13125550188")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 900
    assert b"Too many sign-in attempts" in response.content


def test_logout_needs_a_post(client):
    UserFactory(phone_number="+12025550100")
    client.get(ask(client, "+12025550100")["Location"])
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert "_auth_user_id" not in client.session


# --- the approval page -------------------------------------------------------------------


@pytest.fixture
def phone_flow(webauthn_provider, enrolled, phone_links):
    """A desktop asks; the token is the one of the link sent to the phone (full powers)."""
    user, authenticator = enrolled
    desktop = Client()
    wait_url = ask(desktop, user.phone_number)["Location"]
    login_request = LoginRequest.objects.get()
    token = token_of(phone_links()[-1])
    return desktop, wait_url, login_request, token, authenticator


def test_the_approval_page_shows_who_asks_and_three_codes(phone_flow):
    _, _, login_request, token, _ = phone_flow
    response = Client().get(reverse("accounts:approve", args=[token]))
    assert response.status_code == 200
    assert b"Chrome 126" in response.content and b"Linux" in response.content
    assert response.content.count(b'name="code"') == 3
    assert login_request.match_code.encode() in response.content


def test_a_made_up_approval_link_gets_a_clear_404(client):
    response = client.get(reverse("accounts:approve", args=["x" * 43]))
    assert response.status_code == 404 and b"not valid" in response.content


def test_the_phone_approves_and_the_desktop_lands_signed_in_verified_by_the_passkey(phone_flow):
    desktop, wait_url, login_request, token, authenticator = phone_flow
    phone = Client()
    phone.post(reverse("accounts:approve-code", args=[token]), {"code": login_request.match_code})
    options = phone.post(reverse("accounts:approve-options", args=[token])).json()
    response = phone.post(
        reverse("accounts:approve-verify", args=[token]),
        data=json.dumps(authenticator.assert_(options)),
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["ok"]
    assert desktop.get(reverse("accounts:status", args=[login_request.pk])).json()["status"] == "approved"
    assert desktop.get(wait_url)["Location"] == reverse("home")
    profile = desktop.get(reverse("accounts:profile"))
    assert profile.status_code == 200 and profile.wsgi_request.user.is_verified()


def test_garbage_sent_as_an_assertion_gets_a_json_error_not_a_500(phone_flow):
    _, _, login_request, token, _ = phone_flow
    phone = Client()
    phone.post(reverse("accounts:approve-code", args=[token]), {"code": login_request.match_code})
    phone.post(reverse("accounts:approve-options", args=[token]))
    for body in ("not json", json.dumps([1]), json.dumps({"id": "x", "response": {}})):
        response = phone.post(
            reverse("accounts:approve-verify", args=[token]), data=body, content_type="application/json"
        )
        assert response.status_code == 400 and response.json()["ok"] is False


def test_deny_on_the_phone_shows_the_desktop_a_denied_message(phone_flow):
    desktop, wait_url, _, token, _ = phone_flow
    Client().post(reverse("accounts:approve-deny", args=[token]))
    response = desktop.get(wait_url)
    assert b"denied on the phone" in response.content and b"Try again" in response.content


def test_this_wasnt_me_blocks_new_requests_with_a_friendly_429(phone_flow):
    desktop, _, login_request, token, _ = phone_flow
    response = Client().post(reverse("accounts:approve-fraud", args=[token]))
    assert b"support team has been told" in response.content
    assert FraudReport.objects.count() == 1
    again = ask(desktop, login_request.phone_number)
    assert again.status_code == 429 and int(again["Retry-After"]) > 1100


def test_an_expired_request_shows_an_expiry_message_on_both_sides(phone_flow):
    desktop, wait_url, _, token, _ = phone_flow
    LoginRequest.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert b"expired" in Client().get(reverse("accounts:approve", args=[token])).content
    assert b"expired" in desktop.get(wait_url).content


# --- enrollment and direct passkey sign-in ----------------------------------------------------


def test_an_enrollment_link_registers_a_passkey_once(client, settings):
    from accounts import services

    user = UserFactory()
    url = services.enrollment_link_create(user=user, acting_user=None, send=False)
    path = url.removeprefix(ORIGIN)
    token = path.rstrip("/").rsplit("/", 1)[-1]
    assert client.get(path).status_code == 200
    options = client.post(reverse("accounts:enroll-options", args=[token])).json()
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    credential = SoftAuthenticator(origin=ORIGIN).register(options)
    response = client.post(
        reverse("accounts:enroll-complete", args=[token]),
        data=json.dumps({"credential": credential, "name": "Pixel"}),
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["device"] == "Pixel"
    assert client.get(path).status_code == 404


def test_a_passkey_registered_without_user_verification_is_refused(client):
    from accounts import services

    token = (
        services.enrollment_link_create(user=UserFactory(), acting_user=None, send=False).rstrip("/").rsplit("/", 1)[-1]
    )
    options = client.post(reverse("accounts:enroll-options", args=[token])).json()
    response = client.post(
        reverse("accounts:enroll-complete", args=[token]),
        data=json.dumps({"credential": SoftAuthenticator(origin=ORIGIN).register(options, uv=False)}),
        content_type="application/json",
    )
    assert response.status_code == 400 and "could not be registered" in response.json()["message"]


def test_a_person_with_a_passkey_on_this_device_signs_in_directly(client, enrolled):
    user, authenticator = enrolled
    options = client.post(reverse("accounts:passkey-options")).json()
    assert options["userVerification"] == "required"
    response = client.post(
        reverse("accounts:passkey-complete"),
        data=json.dumps(authenticator.assert_(options)),
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["redirect"] == reverse("home")
    assert int(client.session["_auth_user_id"]) == user.pk


def test_direct_passkey_sign_in_without_user_verification_is_refused(client, enrolled):
    _, authenticator = enrolled
    options = client.post(reverse("accounts:passkey-options")).json()
    response = client.post(
        reverse("accounts:passkey-complete"),
        data=json.dumps(authenticator.assert_(options, uv=False)),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_with_autofill_and_the_button_both_open_the_signed_challenge_decides(client, enrolled):
    user, authenticator = enrolled
    first = client.post(reverse("accounts:passkey-options")).json()
    client.post(reverse("accounts:passkey-options"))
    response = client.post(
        reverse("accounts:passkey-complete"),
        data=json.dumps(authenticator.assert_(first)),
        content_type="application/json",
    )
    assert response.status_code == 200 and int(client.session["_auth_user_id"]) == user.pk


def test_a_passkey_sign_in_assertion_cannot_be_replayed(client, enrolled):
    _, authenticator = enrolled
    options = client.post(reverse("accounts:passkey-options")).json()
    assertion = json.dumps(authenticator.assert_(options))
    assert (
        client.post(reverse("accounts:passkey-complete"), data=assertion, content_type="application/json").status_code
        == 200
    )
    client.post(reverse("accounts:logout"))
    replay = client.post(reverse("accounts:passkey-complete"), data=assertion, content_type="application/json")
    assert replay.status_code == 400 and "_auth_user_id" not in client.session
