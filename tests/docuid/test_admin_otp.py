"""The admin lets in only staff who verified an OTP device in this session."""

import re

import pytest
from django.core.management import call_command
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import StaffFactory, UserFactory

PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff(db):
    user = StaffFactory()
    user.set_password(PASSWORD)
    user.save()
    return user


def current_code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


def test_a_signed_in_staff_member_without_otp_verification_is_sent_to_the_admin_login(client, staff):
    client.force_login(staff)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_right_password_without_an_otp_code_is_refused(client, staff):
    TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    response = client.post("/admin/login/", {"username": staff.phone_number, "password": PASSWORD})
    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302


def test_a_wrong_otp_code_is_refused(client, staff):
    device = TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    wrong = f"{(int(current_code(device)) + 1) % 1_000_000:06d}"
    client.post(
        "/admin/login/",
        {"username": staff.phone_number, "password": PASSWORD, "otp_token": wrong},
    )
    assert client.get("/admin/").status_code == 302


def test_staff_with_password_and_a_current_totp_code_get_in(client, staff):
    device = TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    response = client.post(
        "/admin/login/",
        {
            "username": staff.phone_number,
            "password": PASSWORD,
            "otp_token": current_code(device),
        },
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_verified_non_staff_user_never_gets_in(client, db):
    user = UserFactory()
    user.set_password(PASSWORD)
    user.save()
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    client.post(
        "/admin/login/",
        {
            "username": user.phone_number,
            "password": PASSWORD,
            "otp_token": current_code(device),
        },
    )
    assert client.get("/admin/").status_code == 302


def test_staff_bootstrap_prints_credentials_that_open_the_admin(client, db, capsys):
    call_command("staff_bootstrap", "(312) 555-7001", "--name", "Sam Support")
    out = capsys.readouterr().out
    password = re.search(r"Password \(shown once\): (\S+)", out).group(1)
    assert "otpauth://totp/" in out
    device = TOTPDevice.objects.get(user__phone_number="+13125557001")
    client.post(
        "/admin/login/",
        {
            "username": "+13125557001",
            "password": password,
            "otp_token": current_code(device),
        },
    )
    assert client.get("/admin/").status_code == 200


def test_running_staff_bootstrap_again_revokes_the_previous_authenticator(db, capsys):
    call_command("staff_bootstrap", "+13125557002")
    first = TOTPDevice.objects.get(user__phone_number="+13125557002")
    call_command("staff_bootstrap", "+13125557002")
    assert not TOTPDevice.objects.filter(pk=first.pk).exists()
    assert TOTPDevice.objects.filter(user__phone_number="+13125557002").count() == 1
