"""A credential's clientDataJSON is JSON inside base64 inside the body: bounded like the body (issue #12 F4).

Passkey sign-in reads it itself to find the ceremony (services.devices._state_for); the
approval path leaves it to py_webauthn, which turns any parse failure into a refusal.
"""

import json
import logging

import pytest
from django.test import Client
from django.urls import reverse
from webauthn.helpers import bytes_to_base64url

from accounts.models import LoginRequest
from accounts.views.login import CLAIMS_KEY
from tests.accounts.conftest import enroll

pytestmark = pytest.mark.django_db

DEEP_CLIENT_DATA = bytes_to_base64url(b"[" * 3000 + b"]" * 3000)


@pytest.fixture
def error_logs():
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Collect(level=logging.ERROR)
    loggers = [logging.getLogger(name) for name in ("", "django", "django.request")]
    for each in loggers:
        each.addHandler(handler)
    yield records
    for each in loggers:
        each.removeHandler(handler)


def test_a_deep_client_data_json_in_an_approval_is_a_failed_ceremony_not_a_500(
    client, webauthn_provider, http_request, error_logs
):
    from tests.factories import UserFactory

    user = UserFactory()
    authenticator = enroll(user, http_request)
    client.post(reverse("accounts:login"), {"phone_number": user.phone_number})
    login_request = LoginRequest.objects.get(user=user)
    token = client.session[CLAIMS_KEY][str(login_request.pk)]["qr_url"].rstrip("/").rsplit("/", 1)[-1]
    phone = Client()
    phone.post(reverse("accounts:approve-code", args=[token]), {"code": login_request.match_code})
    options = phone.post(reverse("accounts:approve-options", args=[token])).json()
    credential = authenticator.assert_(options)
    credential["response"]["clientDataJSON"] = DEEP_CLIENT_DATA  # the rest is a genuine assertion

    response = phone.post(
        reverse("accounts:approve-verify", args=[token]), json.dumps(credential), content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["ok"] is False
    assert not error_logs
    login_request.refresh_from_db()
    assert login_request.status != "approved"


def test_a_deep_client_data_json_in_a_passkey_sign_in_is_refused_not_a_500(client, error_logs):
    credential = {"id": "x", "rawId": "x", "type": "public-key", "response": {"clientDataJSON": DEEP_CLIENT_DATA}}
    response = client.post(
        reverse("accounts:passkey-complete"), json.dumps(credential), content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["ok"] is False
    assert not error_logs
