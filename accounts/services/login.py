"""The biometric login: start → (phone) match code, passkey approval / deny / fraud → claim.

These services know nothing about HTTP beyond an optional `request` for the audit trail, so
the web pages and the API (issue 5) share them. The claim secret is what binds a request to
the client that started it: only its hash is stored.
"""

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django_otp_webauthn.exceptions import OTPWebAuthnApiError
from django_otp_webauthn.models import WebAuthnCredential
from webauthn.helpers import exceptions as webauthn_exceptions

from accounts import ratelimit
from accounts.context import ClientContext
from accounts.models import FraudReport, LoginRequest, User
from accounts.phone import normalize_phone
from accounts.providers import Decision, ProviderError, get_provider
from accounts.services.errors import MESSAGES, LoginError, RateLimited
from accounts.tokens import default_secret_generator
from audit import record
from audit.actions import Action, Outcome

logger = logging.getLogger("docuid.accounts.login")

DENIAL_SCOPE = "denials"
WEBAUTHN_ERRORS = (OTPWebAuthnApiError, webauthn_exceptions.WebAuthnException, ValueError, KeyError, TypeError)


# --- helpers --------------------------------------------------------------------------


def _decide_locked(
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


def _new_match_code() -> str:
    return f"{secrets.randbelow(90) + 10:02d}"


def match_code_choices(login_request: LoginRequest) -> list[str]:
    """The right code and two decoys, in numeric order.

    The decoys derive from the request id and the secret key, so reloading the approval
    page shows the same three: fresh decoys each time would give the right one away.
    """
    choices = {login_request.match_code}
    counter = 0
    while len(choices) < 3:
        digest = hmac.new(
            settings.SECRET_KEY.encode(), f"{login_request.id}:{counter}".encode(), hashlib.sha256
        ).digest()
        choices.add(f"{int.from_bytes(digest[:4], 'big') % 90 + 10:02d}")
        counter += 1
    return sorted(choices)


def approval_url(token: str) -> str:
    return settings.DOCUID_SITE_URL + reverse("accounts:approve", args=[token])


def phone_limits(phone_number: str, ip: str | None) -> list[tuple[ratelimit.Limit, str]]:
    """The login limits of a number: per number *and network*, so a stranger hammering someone's
    number uses up only their own allowance, and a total that bounds the prompts the phone gets.
    The per-network identities carry a generation that a staff unlock moves on."""
    window = settings.DOCUID_RATE_LIMIT_WINDOW_SECONDS
    generation = ratelimit.generation("login-phone", phone_number)
    return [
        (ratelimit.Limit("login-phone", settings.DOCUID_RATE_LIMIT_PHONE, window), f"{phone_number}|{generation}|{ip}"),
        (_phone_total_limit(), phone_number),
    ]


def _phone_total_limit() -> ratelimit.Limit:
    return ratelimit.Limit(
        "login-phone-total", settings.DOCUID_RATE_LIMIT_PHONE_TOTAL, settings.DOCUID_RATE_LIMIT_WINDOW_SECONDS
    )


def phone_limits_reset(phone_number: str) -> None:
    """Forget every network's count for the number (a new generation) and its total (staff unlock)."""
    window = settings.DOCUID_RATE_LIMIT_WINDOW_SECONDS
    ratelimit.new_generation("login-phone", phone_number, timeout=window + 60)
    ratelimit.reset(_phone_total_limit(), phone_number)


def _check_limits(*, phone_number: str, client: ClientContext) -> None:
    now = timezone.now()
    window = settings.DOCUID_RATE_LIMIT_WINDOW_SECONDS
    blocked_until = (
        FraudReport.objects.filter(phone_number=phone_number, blocked_until__gt=now)
        .order_by("-blocked_until")
        .values_list("blocked_until", flat=True)
        .first()
    )
    if blocked_until:
        raise RateLimited(
            "Sign-in for this number is paused because a recent request was reported as not genuine. "
            "Please try again later.",
            int((blocked_until - now).total_seconds()) + 1,
            "fraud_block",
        )
    if ratelimit.strikes(DENIAL_SCOPE, phone_number) >= settings.DOCUID_DENIAL_LOCK_COUNT:
        raise RateLimited(
            "Sign-in for this number is locked after several denied requests. Please try again later "
            "or contact support.",
            settings.DOCUID_DENIAL_LOCK_WINDOW_SECONDS,
            "denial_lock",
        )
    if client.ip:
        verdict = ratelimit.hit(ratelimit.Limit("login-ip", settings.DOCUID_RATE_LIMIT_IP, window), client.ip)
        if not verdict.allowed:
            raise RateLimited(
                "Too many sign-in attempts from your network. Please wait and try again.", verdict.retry_after, "ip"
            )
    for limit, identity in phone_limits(phone_number, client.ip):
        verdict = ratelimit.hit(limit, identity)
        if not verdict.allowed:
            raise RateLimited(
                "Too many sign-in attempts for this number. Please wait and try again.", verdict.retry_after, "phone"
            )


def _eligible_user(phone_number: str, provider) -> User | None:
    user = User.objects.filter(phone_number=phone_number, is_active=True).first()
    if user is None:
        return None
    if provider.uses_approval_page and not WebAuthnCredential.objects.filter(user=user, confirmed=True).exists():
        # Not enrolled: treated exactly like an unknown number (the request just expires).
        return None
    return user


def _lock(request_id) -> LoginRequest:
    try:
        return LoginRequest.objects.select_for_update(of=("self",)).select_related("user").get(pk=request_id)
    except (LoginRequest.DoesNotExist, ValidationError, ValueError):
        raise LoginError("not_found", MESSAGES["not_found"]) from None


def _lock_by_token(approval_token: str) -> LoginRequest:
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


def _lock_by_any_token(token: str) -> tuple[LoginRequest, bool]:
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


def _expire_locked(login_request: LoginRequest, *, request=None) -> None:
    _decide_locked(
        login_request,
        LoginRequest.Status.EXPIRED,
        action=Action.AUTH_EXPIRED,
        request=request,
        data={"channel": login_request.channel},
        by_owner=False,
    )


def _pending_error(login_request: LoginRequest, *, request=None) -> LoginError | None:
    """The error to raise (after commit) unless the locked request is pending and unexpired.

    A request found past its time is expired on the way; the caller must let that commit,
    so it raises the returned error only after leaving its transaction.
    """
    if login_request.status == LoginRequest.Status.PENDING and login_request.is_expired():
        _expire_locked(login_request, request=request)
        return LoginError("expired", MESSAGES["expired"])
    if login_request.status != LoginRequest.Status.PENDING:
        code = _status_code(login_request)
        return LoginError(code, MESSAGES.get(code, MESSAGES["cancelled"]))
    return None


def _status_code(login_request: LoginRequest) -> str:
    if login_request.status == LoginRequest.Status.CONSUMED:
        return "replayed"
    if login_request.status in (LoginRequest.Status.CANCELLED, LoginRequest.Status.DENIED):
        return login_request.failure_reason if login_request.failure_reason in MESSAGES else login_request.status
    return login_request.status


def login_request_error_message(login_request: LoginRequest) -> str:
    return MESSAGES.get(_status_code(login_request), MESSAGES["cancelled"])


# --- start ----------------------------------------------------------------------------


def login_request_start(
    *, phone_number: str, client_context: ClientContext, channel: str = LoginRequest.Channel.WEB
) -> tuple[LoginRequest, str]:
    """Create a pending login request and notify the phone; return (request, claim secret).

    Raises ValidationError for a malformed number and RateLimited past the abuse limits.
    An unknown or unenrolled number gets a request too (user=None) that simply expires, so
    callers cannot tell the two apart. Two links are set on the returned request as unsaved
    attributes (their tokens are never stored): `approval_url`, with full powers, goes only
    to the phone (push, SMS); `qr_url`, for the waiting page's QR code, can approve but
    cannot deny with a strike or report fraud, because the requesting browser sees it.
    """
    phone_number = normalize_phone(phone_number)
    try:
        _check_limits(phone_number=phone_number, client=client_context)
    except RateLimited as exc:
        record(
            Action.AUTH_RATE_LIMITED,
            outcome=Outcome.FAILURE,
            data={"channel": channel, "scope": exc.scope, "retry_after": exc.retry_after},
        )
        raise
    provider = get_provider()
    claim_secret, claim_hash = default_secret_generator.make()
    token, token_hash = default_secret_generator.make()
    qr_token, qr_token_hash = default_secret_generator.make()
    with transaction.atomic():
        login_request = LoginRequest(
            user=_eligible_user(phone_number, provider),
            phone_number=phone_number,
            channel=channel,
            provider=provider.name,
            match_code=_new_match_code(),
            claim_secret_hash=claim_hash,
            approval_token_hash=token_hash,
            qr_token_hash=qr_token_hash,
            browser=client_context.browser,
            os=client_context.os,
            ip_masked=client_context.ip_masked,
            expires_at=timezone.now() + timedelta(seconds=settings.DOCUID_LOGIN_REQUEST_TTL_SECONDS),
        )
        login_request.full_clean()
        login_request.save(force_insert=True)
        record(
            Action.AUTH_REQUEST,
            outcome=Outcome.SUCCESS,
            actor=None,
            target=login_request,
            data={
                "channel": channel,
                "provider": provider.name,
                "browser": client_context.browser,
                "os": client_context.os,
            },
        )
        url = approval_url(token)
        request_id = login_request.pk
        # Known and unknown numbers both go through the queue, so response timing does not tell them apart.
        transaction.on_commit(lambda: _enqueue_notify(request_id, url))
    login_request.approval_url = url
    login_request.qr_url = approval_url(qr_token)
    return login_request, claim_secret


def _enqueue_notify(request_id, url: str) -> None:
    from accounts.tasks import login_request_notify

    login_request_notify.delay(str(request_id), url)


def login_request_notify(*, request_id, approval_url: str) -> None:
    """Ask the provider to notify the phone; a provider failure ends the request with a clear reason."""
    login_request = LoginRequest.objects.select_related("user").filter(pk=request_id).first()
    if login_request is None or login_request.status != LoginRequest.Status.PENDING:
        return
    try:
        get_provider(login_request.provider).notify(login_request=login_request, approval_url=approval_url)
    except ProviderError as exc:
        logger.warning(
            "provider %s failed to notify login request %s: %s", login_request.provider, str(request_id)[:8], exc
        )
        login_request_fail_provider(request_id=request_id)


def login_request_fail_provider(*, request_id) -> None:
    with transaction.atomic():
        login_request = _lock(request_id)
        if login_request.status != LoginRequest.Status.PENDING:
            return
        _decide_locked(
            login_request,
            LoginRequest.Status.CANCELLED,
            action=Action.AUTH_FAILED,
            outcome=Outcome.ERROR,
            reason="provider_error",
        )


# --- status and expiry ------------------------------------------------------------------


def login_request_refresh(*, request_id, request=None) -> LoginRequest:
    """Expire the request if due, and ask an external provider (simulator, iVALT) for its answer."""
    login_request = LoginRequest.objects.filter(pk=request_id).first()
    if login_request is None:
        raise LoginError("not_found", MESSAGES["not_found"])
    if login_request.status != LoginRequest.Status.PENDING:
        return login_request
    if login_request.is_expired():
        return login_request_expire(request_id=request_id, request=request)
    # The provider is asked outside any transaction: a slow network call must not hold a row lock.
    try:
        decision = get_provider(login_request.provider).poll(login_request=login_request)
    except ProviderError as exc:
        logger.warning("provider %s poll failed for %s: %s", login_request.provider, str(request_id)[:8], exc)
        login_request_fail_provider(request_id=request_id)
        return LoginRequest.objects.get(pk=request_id)
    if decision is None:
        return login_request
    with transaction.atomic():
        locked = _lock(request_id)
        if locked.status != LoginRequest.Status.PENDING or locked.is_expired():
            return locked
        if decision is Decision.APPROVED:
            _approve_locked(locked, device=None, request=request, data={"via": locked.provider})
        else:
            _deny_locked(locked, request=request, data={"via": locked.provider})
        return locked


def login_request_expire(*, request_id, request=None) -> LoginRequest:
    with transaction.atomic():
        login_request = _lock(request_id)
        if login_request.status == LoginRequest.Status.PENDING and login_request.is_expired():
            _expire_locked(login_request, request=request)
        return login_request


def login_requests_sweep(*, now=None) -> int:
    """Expire every pending request past its time (each one counts as a failed authentication)."""
    now = now or timezone.now()
    ids = list(
        LoginRequest.objects.filter(status=LoginRequest.Status.PENDING, expires_at__lte=now).values_list(
            "pk", flat=True
        )[:1000]
    )
    for request_id in ids:
        login_request_expire(request_id=request_id)
    return len(ids)


# --- the phone's answers ------------------------------------------------------------------


def _approve_locked(login_request: LoginRequest, *, device, request, data: dict) -> None:
    _decide_locked(
        login_request,
        LoginRequest.Status.APPROVED,
        action=Action.AUTH_APPROVED,
        outcome=Outcome.SUCCESS,
        request=request,
        data=data,
        device=device,
    )


def _deny_locked(login_request: LoginRequest, *, request, data: dict) -> None:
    _decide_locked(
        login_request,
        LoginRequest.Status.DENIED,
        action=Action.AUTH_DENIED,
        reason="denied",
        request=request,
        data=data,
    )
    ratelimit.record_strike(
        DENIAL_SCOPE, login_request.phone_number, window_seconds=settings.DOCUID_DENIAL_LOCK_WINDOW_SECONDS
    )


# --- completing the login ---------------------------------------------------------------


def login_request_claim(*, request_id, claim_secret: str, request=None) -> LoginRequest:
    """Consume an approved request, once, for the holder of its claim secret.

    Returns the request (with `user` and, for passkey approvals, `device`); the caller then
    opens a session or issues a token. Raises LoginError with a code for every other state.
    """
    with transaction.atomic():
        login_request = _lock(request_id)
        if not default_secret_generator.matches(claim_secret, login_request.claim_secret_hash):
            raise LoginError("not_yours", MESSAGES["not_yours"])
        if login_request.status == LoginRequest.Status.APPROVED and login_request.is_expired():
            # Approved but never collected in time: it may not be used any more.
            login_request.status = LoginRequest.Status.EXPIRED
            login_request.save(update_fields=["status"])
            error = LoginError("expired", MESSAGES["expired"])
        elif login_request.status == LoginRequest.Status.APPROVED:
            error = None
        else:
            error = _pending_error(login_request, request=request) or LoginError("pending", MESSAGES["pending"])
        if error is None:
            login_request.status = LoginRequest.Status.CONSUMED
            login_request.consumed_at = timezone.now()
            login_request.save(update_fields=["status", "consumed_at"])
            return login_request
    raise error
