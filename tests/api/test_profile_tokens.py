"""API sign-ins are listed with the person's sessions on their profile and can be signed out there."""

import pytest
from django.urls import reverse

from accounts.models import ApiToken
from tests.api.conftest import ApiCaller, issue_token

pytestmark = pytest.mark.django_db


def test_the_profile_lists_the_persons_live_api_sign_ins(client, owner):
    issue_token(owner)
    client.force_login(owner)
    page = client.get(reverse("accounts:profile"), secure=True)
    assert page.status_code == 200
    assert "Apps signed in" in page.content.decode()


def test_signing_out_an_app_from_the_profile_ends_its_token_at_once(client, owner, api_key):
    issued = issue_token(owner)
    client.force_login(owner)
    response = client.post(reverse("accounts:api-token-revoke", args=[issued.token.pk]), secure=True)
    assert response.status_code == 302
    assert ApiCaller(api_key, token=issued.access_token).get("/api/auth/me").status_code == 401


def test_nobody_can_sign_out_another_persons_app(client, owner, other, api_key):
    victims = issue_token(other)
    client.force_login(owner)
    client.post(reverse("accounts:api-token-revoke", args=[victims.token.pk]), secure=True)
    assert ApiToken.objects.get(pk=victims.token.pk).revoked_at is None
    assert ApiCaller(api_key, token=victims.access_token).get("/api/auth/me").status_code == 200
