"""The profile page: the owner's own details in full, tables with headers people (and screen readers) can read."""

import re

import pytest
from django.urls import reverse

from audit import record
from audit.actions import Action
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(client):
    user = UserFactory(phone_number="+13125550142", email="ada@example.com")
    client.force_login(user)
    return user


def test_the_owner_sees_their_own_number_in_full(client, person):
    page = client.get(reverse("accounts:profile")).content.decode()
    assert '<span class="phone-number" id="profile-phone">+1 312-555-0142</span>' in page
    assert person.masked_phone not in page


def test_someone_else_never_sees_the_number(client, person):
    other = UserFactory()
    client.force_login(other)
    page = client.get(reverse("accounts:profile")).content.decode()
    assert "312-555-0142" not in page and "+13125550142" not in page


def test_the_details_are_a_styled_definition_list(client, person):
    page = client.get(reverse("accounts:profile")).content.decode()
    assert '<dl class="asker profile-details">' in page
    assert "<dt>Email</dt><dd>ada@example.com</dd>" in page


def test_the_activity_table_has_column_headers_and_labelled_cells_in_local_time(client, person):
    event = record(Action.AUTH_LOGIN, actor=person, target=person, outcome="success")
    page = client.get(reverse("accounts:profile")).content.decode()
    activity = page.split('id="activity"', 1)[1]
    assert '<table class="stack-table">' in activity
    headers = re.findall(r'<th scope="col">([^<]+)</th>', activity.split("</thead>", 1)[0])
    assert headers == ["When", "What", "Outcome", "Network"]
    assert f'<td data-label="When"><time datetime="{event.time.isoformat()}" data-local>' in activity
    assert '<td data-label="What">Signed in</td>' in activity
    assert 'src="/static/js/localtime.js"' in page


def test_every_table_cell_on_the_profile_carries_its_column_label(client, person):
    record(Action.AUTH_LOGIN, actor=person, target=person, outcome="success")
    page = client.get(reverse("accounts:profile")).content.decode()
    assert "<td>" not in page and "<td " in page
    for table in re.findall(r"<table.*?</table>", page, re.S):
        assert "<thead>" in table


def test_a_profile_with_no_activity_says_so_without_an_empty_table(client, person):
    page = client.get(reverse("accounts:profile")).content.decode()
    activity = page.split('id="activity"', 1)[1]
    assert "No activity yet" in activity and "<table" not in activity


# --- destructive buttons never act in one click (static/js/confirm.js asks first; without it, this page) ---


def test_removing_a_device_without_confirmation_shows_a_confirmation_page_and_keeps_it(client, enrolled):
    from django_otp_webauthn.models import WebAuthnCredential

    user, _ = enrolled
    client.force_login(user)
    device = WebAuthnCredential.objects.get(user=user)
    url = reverse("accounts:device-remove", args=[device.pk])
    for response in (client.post(url), client.get(url)):
        html = response.content.decode()
        assert response.status_code == 200 and f"<h1>Remove “{device.name}”?</h1>" in html
        assert '<input type="hidden" name="confirm" value="yes">' in html and 'method="post"' in html
    assert WebAuthnCredential.objects.filter(pk=device.pk).exists()


def test_the_confirmation_page_names_only_the_persons_own_devices(client, enrolled, person):
    from django_otp_webauthn.models import WebAuthnCredential

    theirs = WebAuthnCredential.objects.get(user=enrolled[0])
    response = client.post(reverse("accounts:device-remove", args=[theirs.pk]), follow=True)
    assert b"No such device." in response.content and b"<h1>Remove" not in response.content
    assert WebAuthnCredential.objects.filter(pk=theirs.pk).exists()


def test_sign_out_everywhere_without_confirmation_asks_first_and_keeps_the_session(client, person):
    response = client.post(reverse("accounts:sign-out-everywhere"))
    assert response.status_code == 200 and "<h1>Sign out everywhere?</h1>" in response.content.decode()
    assert client.get(reverse("accounts:profile")).status_code == 200


def test_the_profiles_destructive_forms_carry_a_confirmation_for_the_dialog(client, enrolled):
    user, _ = enrolled
    client.force_login(user)
    html = client.get(reverse("accounts:profile")).content.decode()
    assert html.count("data-confirm=") == 2 and 'src="/static/js/confirm.js"' in html
