"""Support staff can read and search the audit trail in the admin, and nothing more."""

import pytest
from django.contrib.auth.models import Permission
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice

from audit import record
from audit.actions import Action, Outcome
from audit.models import AuditEvent
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db
LIST_URL = "/admin/audit/auditevent/"


def verified_client(client, user):
    """Signed in and OTP-verified, as after a real admin login."""
    # The factory's post-generation password is not saved (skip_postgeneration_save); save it, or
    # the session's auth hash will not match the stored password and the login silently fails.
    user.save()
    device = StaticDevice.objects.create(user=user, name="backup codes", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def superuser_client(client):
    return verified_client(client, StaffFactory(is_superuser=True))


@pytest.fixture
def event():
    return record(Action.AUTH_DENIED, outcome=Outcome.FAILURE, actor=UserFactory(name="Mallory Example"))


def test_superusers_can_list_and_open_events(superuser_client, event):
    listing = superuser_client.get(LIST_URL)
    assert listing.status_code == 200
    assert "Mallory Example" in listing.content.decode()
    assert superuser_client.get(f"{LIST_URL}{event.pk}/change/").status_code == 200


def test_the_list_has_no_add_button_and_no_bulk_actions(superuser_client, event):
    page = superuser_client.get(LIST_URL).content.decode()
    assert f"{LIST_URL}add/" not in page
    assert "delete_selected" not in page


def test_adding_an_event_through_the_admin_is_forbidden(superuser_client):
    assert superuser_client.get(f"{LIST_URL}add/").status_code == 403
    response = superuser_client.post(f"{LIST_URL}add/", {"action": "auth.login", "outcome": "success"})
    assert response.status_code == 403
    assert not AuditEvent.objects.exists()


def test_posting_a_change_to_an_event_changes_nothing(superuser_client, event):
    response = superuser_client.post(f"{LIST_URL}{event.pk}/change/", {"outcome": "success", "actor_repr": "nobody"})
    assert response.status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).actor_repr.startswith("Mallory Example")


def test_deleting_an_event_through_the_admin_is_forbidden(superuser_client, event):
    assert superuser_client.post(f"{LIST_URL}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    response = superuser_client.post(LIST_URL, {"action": "delete_selected", "_selected_action": [event.pk]})
    assert response.status_code in {200, 302, 403}
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_staff_without_the_view_permission_cannot_read_the_trail(client, event):
    staff_client = verified_client(client, StaffFactory())
    assert staff_client.get(LIST_URL).status_code == 403


def test_staff_with_the_view_permission_can_read_but_not_change(client, event):
    staff = StaffFactory()
    staff.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    staff_client = verified_client(client, staff)
    assert staff_client.get(LIST_URL).status_code == 200
    assert staff_client.post(f"{LIST_URL}{event.pk}/change/", {"outcome": "success"}).status_code == 403


def test_search_finds_events_by_request_id(superuser_client, rf):
    request = rf.get("/")
    request.request_id = "req-find-me-0001"
    wanted = record(Action.DOCUMENT_OPEN, request=request, target_repr="Quarterly report")
    record(Action.DOCUMENT_OPEN, target_repr="Other report")
    page = superuser_client.get(LIST_URL, {"q": "req-find-me-0001"}).content.decode()
    assert f"{LIST_URL}{wanted.pk}/change/" in page
    assert "Other report" not in page


def test_the_list_filters_by_outcome(superuser_client, event):
    record(Action.AUTH_LOGIN, target_repr="a successful one")
    page = superuser_client.get(LIST_URL, {"outcome__exact": "failure"}).content.decode()
    assert "Mallory Example" in page
    assert "a successful one" not in page
