"""The phone's answers to a login request: match code, passkey approval, deny, "this wasn't me".

Two links lead here. The phone link (push, SMS) has every power. The waiting page's QR
link is also seen by whoever started the request, who may be a stranger who only knows
the number: it can approve (the passkey proves who approves), but its deny only cancels
that one request, without a strike towards the denial lock, and it cannot report fraud.
"""

import hmac
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import FraudReport, LoginRequest, PushSubscription, User
from accounts.services.decisions import (
    WEBAUTHN_ERRORS,
    approve_locked,
    decide_locked,
    deny_locked,
    lock_by_any_token,
    lock_by_token,
    pending_error,
)
from accounts.services.errors import MESSAGES, LoginError
from accounts.tokens import default_secret_generator
from accounts.webauthn import DocuIDWebAuthnHelper
from audit import record
from audit.actions import Action, Outcome


def login_request_confirm_match_code(*, approval_token: str, code: str, request=None) -> LoginRequest:
    """The phone picked a code: the right one unlocks the passkey step, a wrong one ends the request."""
    with transaction.atomic():
        login_request, _ = lock_by_any_token(approval_token)
        error = pending_error(login_request, request=request)
        if error is None and hmac.compare_digest(str(code or ""), login_request.match_code):
            if login_request.match_confirmed_at is None:
                login_request.match_confirmed_at = timezone.now()
                login_request.save(update_fields=["match_confirmed_at"])
            return login_request
        if error is None:
            decide_locked(
                login_request,
                LoginRequest.Status.CANCELLED,
                action=Action.AUTH_FAILED,
                reason="wrong_match_code",
                request=request,
            )
            error = LoginError("wrong_match_code", MESSAGES["wrong_match_code"])
    raise error


def login_request_assertion_options(*, approval_token: str, request) -> dict:
    """WebAuthn request options with a fresh challenge bound to this login request (UV required)."""
    with transaction.atomic():
        login_request, _ = lock_by_any_token(approval_token)
        error = pending_error(login_request, request=request)
        if error is None and login_request.match_confirmed_at is None:
            error = LoginError("match_code_required", MESSAGES["match_code_required"])
        if error is None:
            options, state = DocuIDWebAuthnHelper(request=request).authenticate_begin(user=None)
            login_request.assertion_challenge = state["challenge"]
            login_request.save(update_fields=["assertion_challenge"])
            return options
    raise error


def login_request_approve(*, approval_token: str, credential: dict, request) -> LoginRequest:
    """Verify the passkey assertion for this request and approve it (atomic, single-use).

    The challenge is cleared before verification, so an assertion can be tried once; a
    failed one leaves the request pending (the person may try again with a new challenge).
    """
    with transaction.atomic():
        login_request, _ = lock_by_any_token(approval_token)
        error = pending_error(login_request, request=request)
        if error is None and login_request.match_confirmed_at is None:
            error = LoginError("match_code_required", MESSAGES["match_code_required"])
        if error is None:
            challenge = login_request.assertion_challenge
            login_request.assertion_challenge = ""
            login_request.save(update_fields=["assertion_challenge"])
            device, failure = _verify_assertion(login_request.user, challenge, credential, request)
            if failure is None:
                approve_locked(login_request, device=device, request=request, data={"device": device.pk})
                return login_request
            record(
                Action.AUTH_FAILED,
                outcome=Outcome.FAILURE,
                actor=login_request.user,
                target=login_request,
                request=request,
                data={"reason": "assertion_failed", "detail": failure[:64], "provider": login_request.provider},
            )
            error = LoginError("assertion_failed", MESSAGES["assertion_failed"])
    raise error


def _verify_assertion(user: User | None, challenge: str, credential: dict, request):
    """Return (device, None) for a valid UV assertion by `user`'s passkey, else (None, reason)."""
    if not challenge:
        return None, "no_challenge"
    if not isinstance(credential, dict):
        return None, "malformed"
    try:
        # A savepoint: a failed verification must not keep a half-updated sign count.
        with transaction.atomic():
            device = DocuIDWebAuthnHelper(request=request).authenticate_complete(
                user=user, state={"challenge": challenge}, data=credential
            )
            if user is None or device.user_id != user.pk:
                raise ValueError("the passkey belongs to someone else")
            if not device.confirmed or not device.user.is_active:
                raise ValueError("device or user disabled")
    except WEBAUTHN_ERRORS as exc:
        return None, exc.__class__.__name__
    return device, None


def login_request_deny(*, approval_token: str, request=None) -> LoginRequest:
    """Deny from the phone link (a strike towards the denial lock); from the QR link, just cancel."""
    with transaction.atomic():
        login_request, via_qr = lock_by_any_token(approval_token)
        error = pending_error(login_request, request=request)
        if error is None and via_qr:
            _cancel_from_qr_locked(login_request, request=request)
            return login_request
        if error is None:
            deny_locked(login_request, request=request, data={"via": "approval_page"})
            return login_request
    raise error


def _cancel_from_qr_locked(login_request: LoginRequest, *, request) -> None:
    # Not a denial by the number's owner: no strike, and recorded as auth.failed with a
    # reason the metrics mapping ignores, so it does not count as a "denied" attempt.
    decide_locked(
        login_request,
        LoginRequest.Status.CANCELLED,
        action=Action.AUTH_FAILED,
        reason="cancelled_from_qr",
        request=request,
    )


def login_request_report_fraud(*, approval_token: str, request=None) -> LoginRequest:
    """ "This wasn't me": deny, block new requests for the number for a while, and tell staff.

    Only the phone link may do this: the QR link's token is refused as not found.
    """
    with transaction.atomic():
        login_request = lock_by_token(approval_token)
        error = pending_error(login_request, request=request)
        if error is None:
            _report_fraud_locked(login_request, request=request)
            return login_request
    raise error


def _report_fraud_locked(login_request: LoginRequest, *, request) -> FraudReport:
    now = timezone.now()
    report = FraudReport(
        login_request=login_request,
        user=login_request.user,
        phone_number=login_request.phone_number,
        created_at=now,
        blocked_until=now + timedelta(minutes=settings.DOCUID_FRAUD_BLOCK_MINUTES),
    )
    report.full_clean()
    report.save()
    decide_locked(
        login_request,
        LoginRequest.Status.DENIED,
        action=Action.AUTH_FRAUD_REPORTED,
        reason="fraud_reported",
        request=request,
        data={
            "fraud_report": report.pk,
            "blocked_minutes": settings.DOCUID_FRAUD_BLOCK_MINUTES,
            "asking_browser": login_request.browser,
            "asking_os": login_request.os,
            "asking_network": login_request.ip_masked,
        },
    )
    return report


def push_subscription_save(*, approval_token: str, subscription: dict, browser: str = "") -> PushSubscription:
    """Remember the phone's push endpoint, right after its owner approved with a passkey.

    The approval proves who holds this phone; without it anyone with a link could
    redirect someone's sign-in notifications to their own browser.
    """
    # Either link: what counts is the passkey approval, which only the phone's owner can give.
    token_hash = default_secret_generator.hash(approval_token)
    login_request = (
        LoginRequest.objects.select_related("user")
        .filter(Q(approval_token_hash=token_hash) | Q(qr_token_hash=token_hash))
        .first()
    )
    fresh_until = timedelta(seconds=settings.DOCUID_LOGIN_REQUEST_TTL_SECONDS)
    if (
        login_request is None
        or login_request.device_id is None
        or login_request.status not in (LoginRequest.Status.APPROVED, LoginRequest.Status.CONSUMED)
        or login_request.decided_at is None
        or timezone.now() - login_request.decided_at > fresh_until
    ):
        raise LoginError("not_found", "Approve a sign-in on this phone first, then turn on notifications.")
    keys = subscription.get("keys") if isinstance(subscription, dict) else None
    endpoint = subscription.get("endpoint") if isinstance(subscription, dict) else None
    if not isinstance(keys, dict) or not isinstance(endpoint, str):
        raise ValidationError("That is not a push subscription.")
    URLValidator(schemes=["https"] if not settings.DEBUG else ["https", "http"])(endpoint)
    with transaction.atomic():
        row, _ = PushSubscription.objects.update_or_create(
            endpoint=endpoint[:1024],
            defaults={
                "user": login_request.user,
                "p256dh": str(keys.get("p256dh", ""))[:255],
                "auth": str(keys.get("auth", ""))[:255],
                "browser": browser[:64],
            },
        )
        row.full_clean()
        return row
