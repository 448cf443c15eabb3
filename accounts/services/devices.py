"""Passkeys: enrollment links, registration, naming, removal, direct passkey sign-in."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_otp_webauthn.models import WebAuthnCredential
from webauthn import base64url_to_bytes

from accounts import notifiers
from accounts.models import EnrollmentLink, User
from accounts.phone import normalize_phone
from accounts.services.decisions import WEBAUTHN_ERRORS
from accounts.services.errors import LoginError
from accounts.services.sessions import user_sessions_revoke_all
from accounts.tokens import default_secret_generator
from accounts.webauthn import DocuIDWebAuthnHelper
from audit import record
from audit.actions import Action, Outcome
from docuid.json_parsing import parse_json

# Removing a passkey needs a sign-in (a phone approval) this recent.
FRESH_APPROVAL_SECONDS = 300


class EnrollmentError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def enrollment_url(token: str) -> str:
    return settings.DOCUID_SITE_URL + reverse("accounts:enroll", args=[token])


def enrollment_link_create(*, user: User, acting_user: User | None, request=None, send: bool = True) -> str:
    """Issue a single-use enrollment link (older unused ones stop working); return its URL."""
    token, token_hash = default_secret_generator.make()
    now = timezone.now()
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        EnrollmentLink.objects.filter(user=user, used_at=None, revoked_at=None).update(revoked_at=now)
        link = EnrollmentLink(
            user=user,
            token_hash=token_hash,
            created_by=acting_user if acting_user is not None and acting_user.is_authenticated else None,
            created_at=now,
            expires_at=now + timedelta(hours=settings.DOCUID_ENROLLMENT_TTL_HOURS),
        )
        link.full_clean()
        link.save()
        url = enrollment_url(token)
        record(
            Action.DEVICE_ENROLLMENT_SENT,
            outcome=Outcome.SUCCESS,
            actor=acting_user,
            target=user,
            request=request,
            data={"link": link.pk, "expires_hours": settings.DOCUID_ENROLLMENT_TTL_HOURS, "sent": send},
        )
        if send:
            transaction.on_commit(lambda: notifiers.send_enrollment_link(user=user, enrollment_url=url))
    return url


def enrollment_link_get_usable(*, token: str) -> EnrollmentLink:
    link = EnrollmentLink.objects.select_related("user").filter(token_hash=default_secret_generator.hash(token)).first()
    if link is None or not link.is_usable() or not link.user.is_active:
        raise EnrollmentError("This enrollment link is not valid any more. Ask support for a new one.")
    return link


def enrollment_begin(*, token: str, request) -> tuple[dict, dict]:
    """Registration options for the link's person (UV and a discoverable credential required)."""
    link = enrollment_link_get_usable(token=token)
    return DocuIDWebAuthnHelper(request=request).register_begin(user=link.user)


def enrollment_complete(
    *, token: str, state: dict | None, credential: dict, device_name: str, request
) -> WebAuthnCredential:
    """Verify the new passkey, save it under `device_name`, and use up the link."""
    with transaction.atomic():
        link = (
            EnrollmentLink.objects.select_for_update()
            .select_related("user")
            .filter(token_hash=default_secret_generator.hash(token))
            .first()
        )
        if link is None or not link.is_usable() or not link.user.is_active:
            raise EnrollmentError("This enrollment link is not valid any more. Ask support for a new one.")
        if not state or not isinstance(credential, dict):
            raise EnrollmentError("The registration was not started on this page. Reload it and try again.")
        try:
            with transaction.atomic():
                device = DocuIDWebAuthnHelper(request=request).register_complete(link.user, state, credential)
        except WEBAUTHN_ERRORS as exc:
            raise EnrollmentError(
                "The passkey could not be registered. Use this phone's fingerprint or face lock and try again."
            ) from exc
        device.name = (device_name or "").strip()[:64] or "Phone"
        device.confirmed = True
        device.save(update_fields=["name", "confirmed"])
        link.used_at = timezone.now()
        link.save(update_fields=["used_at"])
        record(
            Action.DEVICE_ENROLLED,
            outcome=Outcome.SUCCESS,
            actor=link.user,
            target=link.user,
            request=request,
            data={"device": device.pk, "kind": "passkey", "link": link.pk},
        )
        return device


def device_rename(*, user: User, device_id: int, name: str) -> WebAuthnCredential:
    device = WebAuthnCredential.objects.filter(pk=device_id, user=user).first()
    if device is None:
        raise ValidationError("No such device.")
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise ValidationError("Give the device a name of 1 to 64 characters.")
    device.name = name
    device.save(update_fields=["name"])
    return device


def device_remove(*, user: User, device_id: int, acting_user: User, request=None, fresh: bool) -> None:
    """Remove a passkey. A person removing their own needs a fresh approval (`fresh`); staff do not."""
    if acting_user.pk == user.pk and not fresh:
        raise ValidationError(
            "For your safety, removing a device needs a fresh approval: sign out, sign in again, then remove it."
        )
    with transaction.atomic():
        device = WebAuthnCredential.objects.select_for_update().filter(pk=device_id, user=user).first()
        if device is None:
            raise ValidationError("No such device.")
        name = device.name
        device.delete()
        record(
            Action.DEVICE_REMOVED,
            outcome=Outcome.SUCCESS,
            actor=acting_user,
            target=user,
            request=request,
            data={"device": device_id, "name": name[:64], "kind": "passkey"},
        )


def devices_revoke_all(*, user: User, acting_user: User, request=None) -> int:
    """Lost phone: remove every passkey and push subscription of `user`."""
    with transaction.atomic():
        devices = list(WebAuthnCredential.objects.select_for_update().filter(user=user).values_list("pk", flat=True))
        WebAuthnCredential.objects.filter(pk__in=devices).delete()
        user.push_subscriptions.all().delete()
        record(
            Action.DEVICE_REMOVED,
            outcome=Outcome.SUCCESS,
            actor=acting_user,
            target=user,
            request=request,
            data={"devices": devices, "kind": "passkey", "scope": "all"},
        )
        return len(devices)


def user_phone_number_changed(*, user: User, acting_user: User, request=None) -> None:
    """A new number is a new phone: nothing proven with the old one stays valid.

    The passkeys and push subscriptions (on the old phone), every session and API token
    (signed in by approving on it) go; the person signs in again after enrolling the new
    phone from a fresh enrollment link.
    """
    with transaction.atomic():
        devices = devices_revoke_all(user=user, acting_user=acting_user, request=request)
        sessions = user_sessions_revoke_all(user=user, acting_user=acting_user, request=request)
        EnrollmentLink.objects.filter(user=user, used_at=None, revoked_at=None).update(revoked_at=timezone.now())
        record(
            Action.USER_PHONE_CHANGED,
            outcome=Outcome.SUCCESS,
            actor=acting_user,
            target=user,
            request=request,
            data={"devices_revoked": devices, "sessions_revoked": sessions},
        )


def passkey_signin_begin(*, request) -> tuple[dict, dict]:
    """Options for a usernameless passkey sign-in (conditional UI) with user verification required."""
    return DocuIDWebAuthnHelper(request=request).authenticate_begin(user=None)


def _state_for(states: list, credential: dict) -> dict | None:
    """The open ceremony whose challenge the client signed (clientDataJSON is checked again when verifying)."""
    try:
        client_data = parse_json(base64url_to_bytes(credential["response"]["clientDataJSON"]))
        challenge = client_data["challenge"]
    except (KeyError, TypeError, ValueError):
        return None
    return next((s for s in states if isinstance(s, dict) and s.get("challenge") == challenge), None)


def passkey_signin_complete(*, states: list, credential: dict, request) -> WebAuthnCredential:
    """Verify a direct passkey sign-in; counted like a phone approval (auth.approved / auth.failed)."""
    state = _state_for(states, credential) if isinstance(credential, dict) else None
    with transaction.atomic():
        device, failure = (None, "no_challenge") if not state else _verify_any_assertion(state, credential, request)
        if failure is None:
            record(
                Action.AUTH_APPROVED,
                outcome=Outcome.SUCCESS,
                actor=device.user,
                target=device.user,
                request=request,
                data={"provider": "passkey", "device": device.pk},
            )
            return device
        record(
            Action.AUTH_FAILED,
            outcome=Outcome.FAILURE,
            request=request,
            data={"reason": "assertion_failed", "detail": failure[:64], "provider": "passkey"},
        )
    raise LoginError(
        "assertion_failed", "The passkey could not sign you in. Try again, or sign in with your phone number."
    )


def _verify_any_assertion(state: dict, credential: dict, request):
    if not isinstance(credential, dict):
        return None, "malformed"
    try:
        with transaction.atomic():
            device = DocuIDWebAuthnHelper(request=request).authenticate_complete(None, state, credential)
            if not device.confirmed or not device.user.is_active:
                raise ValueError("device or user disabled")
    except WEBAUTHN_ERRORS as exc:
        return None, exc.__class__.__name__
    return device, None


def user_create(
    *, phone_number: str, name: str, email: str = "", acting_user: User | None, send_enrollment: bool
) -> User:
    """Create a person (no password: they sign in with their phone); optionally send an enrollment link."""
    with transaction.atomic():
        phone_number = normalize_phone(phone_number)
        if User.objects.filter(phone_number=phone_number).exists():
            raise ValidationError("A person with this phone number already exists.")
        user = User(phone_number=phone_number, name=name, email=email)
        user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save()
        record(
            Action.USER_CREATED, outcome=Outcome.SUCCESS, actor=acting_user, target=user, data={"via": "user_create"}
        )
        if send_enrollment:
            enrollment_link_create(user=user, acting_user=acting_user)
        return user
