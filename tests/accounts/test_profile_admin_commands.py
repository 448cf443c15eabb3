import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp_webauthn.models import WebAuthnCredential

from accounts import services
from accounts.models import EnrollmentLink, FraudReport, LoginRequest, User, UserSession
from accounts.phone import readable_phone
from accounts.services import SESSION_AUTHENTICATED_AT_KEY
from accounts.views.login import CLAIMS_KEY
from audit.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def sign_in_with_passkey(client, user, authenticator):
    """The real phone flow: ask, pick the code, assert with UV, collect the session."""
    wait_url = client.post(reverse("accounts:login"), {"phone_number": user.phone_number})["Location"]
    login_request = LoginRequest.objects.filter(user=user).order_by("-created_at").first()
    # The waiting page's QR link: enough to approve with the passkey.
    token = client.session[CLAIMS_KEY][str(login_request.pk)]["qr_url"].rstrip("/").rsplit("/", 1)[-1]
    phone = Client()
    phone.post(reverse("accounts:approve-code", args=[token]), {"code": login_request.match_code})
    options = phone.post(reverse("accounts:approve-options", args=[token])).json()
    phone.post(
        reverse("accounts:approve-verify", args=[token]),
        json.dumps(authenticator.assert_(options)),
        content_type="application/json",
    )
    assert client.get(wait_url)["Location"] == reverse("home")


# --- profile ------------------------------------------------------------------------------


def test_the_profile_needs_a_sign_in(client):
    response = client.get(reverse("accounts:profile"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


def test_the_profile_lists_devices_sessions_and_recent_security_activity(client, webauthn_provider, enrolled):
    user, authenticator = enrolled
    sign_in_with_passkey(client, user, authenticator)
    page = client.get(reverse("accounts:profile")).content.decode()
    # The owner's own page shows the number in full (issue #13; it was masked to its owner).
    assert readable_phone(user.phone_number) in page and user.masked_phone not in page
    assert "Phone" in page and "This browser" in page
    assert "Signed in" in page and "Login approved on the phone" in page


def test_removing_a_device_right_after_a_passkey_sign_in_works_and_is_audited(client, webauthn_provider, enrolled):
    user, authenticator = enrolled
    sign_in_with_passkey(client, user, authenticator)
    device = WebAuthnCredential.objects.get(user=user)
    client.post(reverse("accounts:device-remove", args=[device.pk]), {"confirm": "yes"})
    assert not WebAuthnCredential.objects.filter(pk=device.pk).exists()
    assert AuditEvent.objects.filter(action="device.removed").exists()


def test_removing_a_device_without_a_fresh_approval_is_refused(client, webauthn_provider, enrolled):
    user, authenticator = enrolled
    sign_in_with_passkey(client, user, authenticator)
    session = client.session
    session[SESSION_AUTHENTICATED_AT_KEY] = (timezone.now() - timedelta(minutes=30)).timestamp()
    session.save()
    device = WebAuthnCredential.objects.get(user=user)
    response = client.post(reverse("accounts:device-remove", args=[device.pk]), {"confirm": "yes"}, follow=True)
    assert b"fresh approval" in response.content
    assert WebAuthnCredential.objects.filter(pk=device.pk).exists()


def test_nobody_can_remove_or_rename_someone_elses_device(client, webauthn_provider, enrolled, http_request):
    from tests.accounts.conftest import enroll

    user, authenticator = enrolled
    other = UserFactory()
    enroll(other, http_request)
    sign_in_with_passkey(client, user, authenticator)
    theirs = WebAuthnCredential.objects.get(user=other)
    client.post(reverse("accounts:device-remove", args=[theirs.pk]), {"confirm": "yes"})
    client.post(reverse("accounts:device-rename", args=[theirs.pk]), {"name": "mine now"})
    theirs.refresh_from_db()
    assert theirs.name == "Phone"


def test_sign_out_everywhere_ends_every_session_of_the_person(webauthn_provider, enrolled):
    user, authenticator = enrolled
    laptop, tablet = Client(), Client()
    sign_in_with_passkey(laptop, user, authenticator)
    sign_in_with_passkey(tablet, user, authenticator)
    assert UserSession.objects.filter(user=user).count() == 2
    laptop.post(reverse("accounts:sign-out-everywhere"), {"confirm": "yes"})
    assert tablet.get(reverse("accounts:profile")).status_code == 302
    assert UserSession.objects.filter(user=user).count() == 0


def test_a_person_can_sign_out_one_other_session_but_not_someone_elses(webauthn_provider, enrolled):
    user, authenticator = enrolled
    laptop, tablet = Client(), Client()
    sign_in_with_passkey(laptop, user, authenticator)
    sign_in_with_passkey(tablet, user, authenticator)
    tablet_session = UserSession.objects.get(session_key=tablet.session.session_key)
    stranger = UserSession.objects.create(user=UserFactory(), session_key="x" * 32)
    laptop.post(reverse("accounts:session-revoke", args=[stranger.pk]))
    assert UserSession.objects.filter(pk=stranger.pk).exists()
    laptop.post(reverse("accounts:session-revoke", args=[tablet_session.pk]))
    assert tablet.get(reverse("accounts:profile")).status_code == 302
    assert laptop.get(reverse("accounts:profile")).status_code == 200


def test_an_idle_session_ends_after_the_idle_timeout(client, settings):
    UserFactory(phone_number="+12025550100")
    client.get(client.post(reverse("accounts:login"), {"phone_number": "+12025550100"})["Location"])
    assert client.get(reverse("accounts:profile")).status_code == 200
    session = client.session
    session["docuid_last_seen"] = timezone.now().timestamp() - settings.DOCUID_SESSION_IDLE_SECONDS - 1
    session.save()
    assert client.get(reverse("accounts:profile")).status_code == 302


# --- admin --------------------------------------------------------------------------------


def test_the_admin_refuses_staff_whose_session_is_not_verified_by_a_passkey(client):
    UserFactory(phone_number="+12025550100", is_staff=True, is_superuser=True)
    client.get(client.post(reverse("accounts:login"), {"phone_number": "+12025550100"})["Location"])
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_admin_accepts_staff_verified_by_a_passkey_approval(client, webauthn_provider, enrolled):
    user, authenticator = enrolled
    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    sign_in_with_passkey(client, user, authenticator)
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("admin:accounts_loginrequest_changelist")).status_code == 200
    assert client.get(reverse("admin:accounts_fraudreport_changelist")).status_code == 200


@pytest.fixture
def staff_client(webauthn_provider, enrolled):
    user, authenticator = enrolled
    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    client = Client()
    sign_in_with_passkey(client, user, authenticator)
    return client


def run_action(client, action, users):
    return client.post(
        reverse("admin:accounts_user_changelist"), {"action": action, "_selected_action": [u.pk for u in users]}
    )


def test_staff_revoke_a_lost_phones_passkeys_and_send_a_new_enrollment_link(staff_client, http_request):
    from tests.accounts.conftest import enroll

    person = UserFactory()
    enroll(person, http_request)
    run_action(staff_client, "revoke_devices", [person])
    assert not WebAuthnCredential.objects.filter(user=person).exists()
    run_action(staff_client, "send_enrollment_link", [person])
    assert EnrollmentLink.objects.filter(user=person, used_at=None, revoked_at=None).count() == 1
    assert {"device.removed", "device.enrollment_sent"} <= set(AuditEvent.objects.values_list("action", flat=True))


def test_staff_revoke_a_persons_sessions_and_unlock_their_number(staff_client):
    person = UserFactory(phone_number="+12025550100")
    browser = Client()
    browser.get(browser.post(reverse("accounts:login"), {"phone_number": "+12025550100"})["Location"])
    run_action(staff_client, "revoke_sessions", [person])
    assert browser.get(reverse("accounts:profile")).status_code == 302
    run_action(staff_client, "unlock", [person])
    assert AuditEvent.objects.filter(action="user.unlocked").exists()


def test_login_requests_are_read_only_in_the_admin(staff_client):
    login_request = LoginRequest.objects.first()
    response = staff_client.get(reverse("admin:accounts_loginrequest_change", args=[login_request.pk]))
    assert response.status_code == 200 and b"claim_secret_hash" not in response.content
    assert b'name="_save"' not in response.content


# --- commands and demo ---------------------------------------------------------------------


def test_enroll_link_issues_a_link_for_an_existing_person():
    UserFactory(phone_number="+13125550160")
    out = StringIO()
    call_command("enroll_link", "+1 312 555 0160", "--no-send", stdout=out)
    assert "/enroll/" in out.getvalue()
    assert EnrollmentLink.objects.count() == 1


def test_enroll_link_for_an_unknown_number_is_a_clear_error():
    with pytest.raises(CommandError, match="No person"):
        call_command("enroll_link", "+13125550161")


def test_user_create_imports_people_from_a_csv_and_reports_bad_rows(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("phone,name,email\n+13125550170,Ann Example,ann@example.com\nnot-a-number,Bad Row,\n")
    out, err = StringIO(), StringIO()
    call_command("user_create", "--csv", str(path), stdout=out, stderr=err)
    assert "1 created, 1 refused" in out.getvalue() and "Row 2" in err.getvalue()
    assert User.objects.filter(phone_number="+13125550170", name="Ann Example").exists()


def test_the_sweeper_task_expires_overdue_requests():
    from accounts.tasks import login_requests_sweep

    UserFactory(phone_number="+12025550102")
    login_request, _ = services.login_request_start(
        phone_number="+12025550102", client_context=services.login.ClientContext()
    )
    LoginRequest.objects.filter(pk=login_request.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert login_requests_sweep.delay().get() == 1


def test_fraud_reports_are_listed_for_staff(staff_client):
    person = UserFactory()
    login_request, _ = services.login_request_start(
        phone_number=person.phone_number, client_context=services.login.ClientContext()
    )
    FraudReport.objects.create(
        login_request=login_request, user=person, phone_number=person.phone_number, blocked_until=timezone.now()
    )
    page = staff_client.get(reverse("admin:accounts_fraudreport_changelist")).content.decode()
    assert person.masked_phone in page and person.phone_number not in page


def test_an_unparsable_login_name_matches_nobody(db):
    """The admin's password check looks people up by natural key; a non-number is "no such person", not an error."""
    from accounts.models import User

    with pytest.raises(User.DoesNotExist):
        User.objects.get_by_natural_key("admin")
