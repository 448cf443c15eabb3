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

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_otp_webauthn.models import WebAuthnCredential

from accounts.context import ClientContext
from accounts.models import LoginRequest, User
from accounts.phone import normalize_phone
from accounts.providers import Decision, ProviderError, get_provider
from accounts.services import decisions, limits
from accounts.services.errors import MESSAGES, LoginError, RateLimited
from accounts.tokens import default_secret_generator
from audit import record
from audit.actions import Action, Outcome

logger = logging.getLogger("docuid.accounts.login")

NOTIFY_TASK = "accounts.tasks.login_request_notify"

# --- helpers --------------------------------------------------------------------------


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


def _eligible_user(phone_number: str, provider) -> User | None:
    user = User.objects.filter(phone_number=phone_number, is_active=True).first()
    if user is None:
        return None
    if provider.uses_approval_page and not WebAuthnCredential.objects.filter(user=user, confirmed=True).exists():
        # Not enrolled: treated exactly like an unknown number (the request just expires).
        return None
    return user


def login_request_error_message(login_request: LoginRequest) -> str:
    return MESSAGES.get(decisions.status_code(login_request), MESSAGES["cancelled"])


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
    Past the number's hourly prompt cap the request is made and answered all the same, but
    the phone is not notified (`prompted` on the returned request is False).
    """
    phone_number = normalize_phone(phone_number)
    try:
        limits.login_limits_check(phone_number=phone_number, client=client_context)
    except RateLimited as exc:
        record(
            Action.AUTH_RATE_LIMITED,
            outcome=Outcome.FAILURE,
            data={
                "channel": channel,
                "scope": exc.scope,
                "retry_after": exc.retry_after,
                **limits.rate_limited_event_data(phone_number=phone_number, client=client_context),
            },
        )
        raise
    prompted = limits.login_prompt_allowed(phone_number=phone_number, client=client_context)
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
                "prompted": prompted,
            },
        )
        url = approval_url(token)
        request_id = login_request.pk
        # Known and unknown numbers both go through the queue, so response timing does not tell them apart.
        if prompted:
            transaction.on_commit(lambda: _enqueue_notify(request_id, url))
    login_request.approval_url = url
    login_request.prompted = prompted
    login_request.qr_url = approval_url(qr_token)
    return login_request, claim_secret


def _enqueue_notify(request_id, url: str) -> None:
    # Sent by the task's name, like any message to the queue: accounts.tasks (a thin interface,
    # registered in AccountsConfig.ready) calls these services, so they must not import it.
    current_app.tasks[NOTIFY_TASK].delay(str(request_id), url)


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
        login_request = decisions.lock(request_id)
        if login_request.status != LoginRequest.Status.PENDING:
            return
        decisions.decide_locked(
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
        locked = decisions.lock(request_id)
        if locked.status != LoginRequest.Status.PENDING or locked.is_expired():
            return locked
        if decision is Decision.APPROVED:
            decisions.approve_locked(locked, device=None, request=request, data={"via": locked.provider})
        else:
            decisions.deny_locked(locked, request=request, data={"via": locked.provider})
        return locked


def login_request_expire(*, request_id, request=None) -> LoginRequest:
    with transaction.atomic():
        login_request = decisions.lock(request_id)
        if login_request.status == LoginRequest.Status.PENDING and login_request.is_expired():
            decisions.expire_locked(login_request, request=request)
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


# --- completing the login ---------------------------------------------------------------


def login_request_claim(*, request_id, claim_secret: str, request=None) -> LoginRequest:
    """Consume an approved request, once, for the holder of its claim secret.

    Returns the request (with `user` and, for passkey approvals, `device`); the caller then
    opens a session or issues a token. Raises LoginError with a code for every other state.
    """
    with transaction.atomic():
        login_request = decisions.lock(request_id)
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
            error = decisions.pending_error(login_request, request=request) or LoginError(
                "pending", MESSAGES["pending"]
            )
        if error is None:
            login_request.status = LoginRequest.Status.CONSUMED
            login_request.consumed_at = timezone.now()
            login_request.save(update_fields=["status", "consumed_at"])
            return login_request
    raise error
