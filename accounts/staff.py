"""Bootstrapping support staff: the first admin must be able to sign in."""

import secrets
from dataclasses import dataclass

from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from accounts.phone import normalize_phone
from audit import record
from audit.actions import Action

BACKUP_CODE_COUNT = 10


@dataclass(frozen=True)
class StaffCredentials:
    user: User
    created: bool
    password: str
    totp_uri: str
    backup_codes: list[str]


@transaction.atomic
def staff_bootstrap(*, phone_number: str, name: str = "", superuser: bool = True) -> StaffCredentials:
    """Create or update a staff user with a fresh password, TOTP device and backup codes.

    Old TOTP and backup devices are removed: running it again is how a locked-out
    admin recovers, so the previous secrets must stop working.
    """
    phone_number = normalize_phone(phone_number)
    user, created = User.objects.get_or_create(phone_number=phone_number, defaults={"name": name or "Support admin"})
    if name:
        user.name = name
    user.is_staff = True
    user.is_superuser = user.is_superuser or superuser
    user.is_active = True
    password = secrets.token_urlsafe(18)
    user.set_password(password)
    user.full_clean()
    user.save()

    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    totp = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    backup = StaticDevice.objects.create(user=user, name="Backup codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=backup, token=code) for code in codes])

    record(
        Action.USER_CREATED if created else Action.USER_UPDATED,
        actor=None,
        target=user,
        data={"via": "staff_bootstrap", "is_staff": True, "is_superuser": user.is_superuser},
    )
    record(Action.DEVICE_ENROLLED, actor=None, target=user, data={"device": "totp", "via": "staff_bootstrap"})
    return StaffCredentials(user=user, created=created, password=password, totp_uri=totp.config_url, backup_codes=codes)
