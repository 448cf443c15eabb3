"""The admin speaks plainly: app headings people understand, counts that agree with their nouns."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    device = TOTPDevice.objects.create(user=staff, name="Authenticator app", confirmed=True)
    client.force_login(staff)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id  # what django_otp.login() stores once verified
    session.save()
    return client


def test_the_admin_index_names_the_otp_apps_in_words(admin_client):
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Authenticator apps" in html and "Backup codes" in html and "Passkeys" in html
    assert "Admin sign-in lockouts" in html
    for raw in ("OTP_TOTP", "OTP_STATIC", "Otp_Totp", "Otp_Static", "OTP WebAuthn", ">Axes<"):
        assert raw not in html


def action_messages(client, action: str, people) -> list[str]:
    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": action, "_selected_action": [person.pk for person in people]},
        follow=True,
    )
    return [str(message) for message in get_messages(response.wsgi_request)] or [
        str(m) for m in response.context["messages"]
    ]


def test_unlocking_one_person_says_person_and_two_say_people(admin_client):
    one, two = UserFactory(), UserFactory()
    assert "1 person unlocked." in action_messages(admin_client, "unlock", [one])
    assert "2 people unlocked." in action_messages(admin_client, "unlock", [one, two])


def test_an_enrollment_link_sent_to_one_person_is_singular(admin_client):
    messages = action_messages(admin_client, "send_enrollment_link", [UserFactory()])
    assert "Enrollment link sent to 1 person." in messages
    assert not any("1 people" in message for message in messages)
