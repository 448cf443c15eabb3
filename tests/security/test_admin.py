"""Support staff changing people in the admin: every change lands in the append-only trail, without PII."""

import json

import pytest
from django.urls import reverse

from accounts.models import User
from audit.models import AuditEvent
from tests.documents.test_admin import verified_client
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_context():
    from accounts.context import ClientContext

    return ClientContext.from_values(user_agent="Mozilla/5.0 Chrome/126.0", ip="203.0.113.7")


@pytest.fixture
def superuser_client(client):
    return verified_client(client, StaffFactory(is_superuser=True, email="root@example.com"))


def _change(client, person, **fields):
    data = {
        "phone_number": person.phone_number,
        "name": person.name,
        "email": person.email,
        "address": person.address,
        "is_active": "on" if person.is_active else "",
        **fields,
    }
    data = {key: value for key, value in data.items() if value != ""}
    return client.post(reverse("admin:accounts_user_change", args=[person.pk]), data)


def test_moving_a_persons_account_to_another_phone_number_is_audited_without_the_numbers(superuser_client):
    person = UserFactory()
    old_number = person.phone_number
    response = _change(superuser_client, person, phone_number="+13125559876")
    assert response.status_code == 302
    assert User.objects.get(pk=person.pk).phone_number == "+13125559876"
    event = AuditEvent.objects.filter(action="user.updated", target_id=str(person.pk)).get()
    assert event.data == {"via": "admin", "fields": ["phone_number"]}
    text = json.dumps([event.data, event.target_repr, event.actor_repr])
    assert old_number.lstrip("+") not in text and "3125559876" not in text


def test_making_someone_a_superuser_in_the_admin_is_audited(superuser_client):
    person = UserFactory()
    _change(superuser_client, person, is_staff="on", is_superuser="on")
    event = AuditEvent.objects.filter(action="user.updated", target_id=str(person.pk)).get()
    assert event.data["fields"] == ["is_staff", "is_superuser"]


def test_deactivating_a_person_in_the_admin_is_audited_as_a_deactivation(superuser_client):
    person = UserFactory()
    _change(superuser_client, person, is_active="")
    assert AuditEvent.objects.filter(action="user.deactivated", target_id=str(person.pk)).exists()


def test_saving_a_person_unchanged_adds_nothing_to_the_trail(superuser_client):
    person = UserFactory()
    before = AuditEvent.objects.count()
    _change(superuser_client, person)
    assert AuditEvent.objects.count() == before


def test_adding_a_person_in_the_admin_is_audited(superuser_client):
    response = superuser_client.post(
        reverse("admin:accounts_user_add"), {"phone_number": "+13125558765", "name": "Nina New", "email": ""}
    )
    assert response.status_code == 302
    person = User.objects.get(phone_number="+13125558765")
    assert AuditEvent.objects.filter(action="user.created", target_id=str(person.pk)).exists()


def test_moving_an_account_to_another_number_revokes_what_the_old_phone_proved(superuser_client, client_context):
    """Whoever holds the old phone (or a session it approved) must lose the account with the number."""
    from django.test import Client
    from django.test.client import RequestFactory
    from django_otp_webauthn.models import WebAuthnCredential

    from accounts.models import ApiToken, EnrollmentLink
    from accounts.services import api_tokens, enrollment_link_create
    from tests.accounts.conftest import enroll

    person = UserFactory(phone_number="+12025550100")
    enroll(person, RequestFactory().post("/", HTTP_USER_AGENT="Mozilla/5.0 Chrome/126.0"))
    old_browser = Client()  # signed in on the old number (the simulator approves it)
    old_browser.get(old_browser.post(reverse("accounts:login"), {"phone_number": "+12025550100"})["Location"])
    assert old_browser.get(reverse("accounts:profile")).status_code == 200
    issued = api_tokens.api_token_issue(user=person, client=None, client_context=client_context, method="test")
    enrollment_link_create(user=person, acting_user=None, send=False)  # went to the old number

    response = _change(superuser_client, person, phone_number="+13125559876")
    assert response.status_code == 302

    assert not WebAuthnCredential.objects.filter(user=person).exists()
    assert old_browser.get(reverse("accounts:profile")).status_code == 302
    assert api_tokens.api_token_authenticate(access_token=issued.access_token) is None
    assert ApiToken.objects.filter(user=person, revoked_at=None).count() == 0
    assert not EnrollmentLink.objects.filter(user=person, used_at=None, revoked_at=None).exists()
    event = AuditEvent.objects.filter(action="user.phone_changed", target_id=str(person.pk)).get()
    assert event.data == {"devices_revoked": 1, "sessions_revoked": 1}


def test_changing_a_name_keeps_the_passkeys(superuser_client):
    from django.test.client import RequestFactory
    from django_otp_webauthn.models import WebAuthnCredential

    from tests.accounts.conftest import enroll

    person = UserFactory()
    enroll(person, RequestFactory().post("/", HTTP_USER_AGENT="Mozilla/5.0 Chrome/126.0"))
    _change(superuser_client, person, name="New Name")
    assert WebAuthnCredential.objects.filter(user=person).exists()
    assert not AuditEvent.objects.filter(action="user.phone_changed").exists()


def test_setting_a_staff_members_password_in_the_admin_is_audited_without_the_password(superuser_client):
    staff = StaffFactory()
    response = superuser_client.post(
        reverse("admin:auth_user_password_change", args=[staff.pk]),
        {"password1": "correct horse battery staple 42", "password2": "correct horse battery staple 42"},
    )
    assert response.status_code == 302
    staff.refresh_from_db()
    assert staff.check_password("correct horse battery staple 42")
    event = AuditEvent.objects.filter(action="user.password_changed", target_id=str(staff.pk)).get()
    assert event.data == {"via": "admin"}
    assert "horse" not in json.dumps([event.data, event.target_repr])


def test_a_refused_password_change_is_not_recorded_as_one(superuser_client):
    staff = StaffFactory()
    superuser_client.post(
        reverse("admin:auth_user_password_change", args=[staff.pk]), {"password1": "a", "password2": "b"}
    )
    assert not AuditEvent.objects.filter(action="user.password_changed").exists()
