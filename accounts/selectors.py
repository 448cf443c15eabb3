"""Reads of the accounts app."""

from django.db.models import Q, QuerySet
from django_otp_webauthn.models import WebAuthnCredential

from accounts.models import LoginRequest, User, UserSession


def login_request_get(*, request_id) -> LoginRequest | None:
    try:
        return LoginRequest.objects.select_related("user").filter(pk=request_id).first()
    except (ValueError, TypeError):
        return None


def login_request_get_by_link(*, token: str) -> tuple[LoginRequest | None, bool]:
    """The request of a phone link or a QR link, and whether the token was the QR code's (weaker) one."""
    from accounts.tokens import default_secret_generator

    token_hash = default_secret_generator.hash(token)
    login_request = (
        LoginRequest.objects.select_related("user")
        .filter(Q(approval_token_hash=token_hash) | Q(qr_token_hash=token_hash))
        .first()
    )
    return login_request, login_request is not None and login_request.qr_token_hash == token_hash


def devices_for(*, user: User) -> QuerySet[WebAuthnCredential]:
    return WebAuthnCredential.objects.filter(user=user).order_by("-created_at")


def sessions_for(*, user: User) -> QuerySet[UserSession]:
    return UserSession.objects.filter(user=user).order_by("-last_seen_at")


def security_activity_for(*, user: User, limit: int = 20) -> list:
    """The person's recent security events (sign-ins, approvals, devices), newest first."""
    from audit.selectors import audit_events_by_actor, audit_events_for_target

    domains = ("auth.", "device.", "user.")
    events = {e.pk: e for e in audit_events_by_actor(actor=user)[: limit * 2]}
    events.update({e.pk: e for e in audit_events_for_target(target=user)[: limit * 2]})
    mine = [e for e in events.values() if e.action.startswith(domains)]
    return sorted(mine, key=lambda e: e.pk, reverse=True)[:limit]
