"""The shared core of a login request's life: locking it, reading its state, deciding it.

The starting side (login), the phone's answers (approval) and expiry all end a request
through these functions, always on a row locked with `select_for_update`.
"""

import hmac

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django_otp_webauthn.exceptions import OTPWebAuthnApiError
from webauthn.helpers import exceptions as webauthn_exceptions

from accounts.models import LoginRequest
from accounts.services.errors import MESSAGES, LoginError
from accounts.services.limits import denial_strike_record
from accounts.tokens import default_secret_generator
from audit import record
from audit.actions import Action, Outcome

WEBAUTHN_ERRORS = (OTPWebAuthnApiError, webauthn_exceptions.WebAuthnException, ValueError, KeyError, TypeError)


def decide_locked(
    login_request: LoginRequest,
    status: str,
    *,
    action: str,
    outcome: str = Outcome.FAILURE,
    reason: str = "",
    request=None,
    data: dict | None = None,
    by_owner: bool = True,
    **fields,
) -> None:
    """End a locked, pending request: its status (and reason, and `fields`), saved and audited.

    The audit event carries the provider, the reason (the metrics count failures by it)
    and `data`; its actor is the number's owner, if the number has one, unless the
    owner did nothing (`by_owner=False`: the request ran out of time).
    """
    login_request.status = status
    login_request.decided_at = timezone.now()
    update_fields = ["status", "decided_at", *fields]
    if reason:
        login_request.failure_reason = reason
        update_fields.append("failure_reason")
    for name, value in fields.items():
        setattr(login_request, name, value)
    login_request.save(update_fields=update_fields)
    record(
        action,
        outcome=outcome,
        actor=login_request.user if by_owner else None,
        target=login_request,
        request=request,
        data={"provider": login_request.provider, **({"reason": reason} if reason else {}), **(data or {})},
    )


def approve_locked(login_request: LoginRequest, *, device, request, data: dict) -> None:
    decide_locked(
        login_request,
        LoginRequest.Status.APPROVED,
        action=Action.AUTH_APPROVED,
        outcome=Outcome.SUCCESS,
        request=request,
        data=data,
        device=device,
    )


def deny_locked(login_request: LoginRequest, *, request, data: dict) -> None:
    """A denial by the number's owner: a strike towards the number's denial lock."""
    decide_locked(
        login_request,
        LoginRequest.Status.DENIED,
        action=Action.AUTH_DENIED,
        reason="denied",
        request=request,
        data=data,
    )
    denial_strike_record(login_request.phone_number)


def expire_locked(login_request: LoginRequest, *, request=None) -> None:
    decide_locked(
        login_request,
        LoginRequest.Status.EXPIRED,
        action=Action.AUTH_EXPIRED,
        request=request,
        data={"channel": login_request.channel},
        by_owner=False,
    )


def lock(request_id) -> LoginRequest:
    try:
        return LoginRequest.objects.select_for_update(of=("self",)).select_related("user").get(pk=request_id)
    except (LoginRequest.DoesNotExist, ValidationError, ValueError):
        raise LoginError("not_found", MESSAGES["not_found"]) from None


def lock_by_token(approval_token: str) -> LoginRequest:
    """Lock the request of a phone link (push or SMS); the QR code's weaker token is not accepted."""
    token_hash = default_secret_generator.hash(approval_token)
    request = (
        LoginRequest.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(approval_token_hash=token_hash)
        .first()
    )
    if request is None:
        raise LoginError("not_found", MESSAGES["not_found"])
    return request


def lock_by_any_token(token: str) -> tuple[LoginRequest, bool]:
    """Lock the request of a phone link or of a QR code; return (request, whether it was the QR token)."""
    token_hash = default_secret_generator.hash(token)
    request = (
        LoginRequest.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(Q(approval_token_hash=token_hash) | Q(qr_token_hash=token_hash))
        .first()
    )
    if request is None:
        raise LoginError("not_found", MESSAGES["not_found"])
    return request, hmac.compare_digest(request.qr_token_hash, token_hash)


def pending_error(login_request: LoginRequest, *, request=None) -> LoginError | None:
    """The error to raise (after commit) unless the locked request is pending and unexpired.

    A request found past its time is expired on the way; the caller must let that commit,
    so it raises the returned error only after leaving its transaction.
    """
    if login_request.status == LoginRequest.Status.PENDING and login_request.is_expired():
        expire_locked(login_request, request=request)
        return LoginError("expired", MESSAGES["expired"])
    if login_request.status != LoginRequest.Status.PENDING:
        code = status_code(login_request)
        return LoginError(code, MESSAGES.get(code, MESSAGES["cancelled"]))
    return None


def status_code(login_request: LoginRequest) -> str:
    """The stable code of an ended request's state (the key of its message in MESSAGES)."""
    if login_request.status == LoginRequest.Status.CONSUMED:
        return "replayed"
    if login_request.status in (LoginRequest.Status.CANCELLED, LoginRequest.Status.DENIED):
        return login_request.failure_reason if login_request.failure_reason in MESSAGES else login_request.status
    return login_request.status
