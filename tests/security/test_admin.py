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
