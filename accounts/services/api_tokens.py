"""API clients (who may call the API) and API tokens (who is calling): issue, authenticate, refresh, revoke.

Keys and tokens are 256-bit random strings handed out once; the database keeps only their
SHA-256 (accounts.tokens.SecretGenerator), compared in constant time. The lookups that
authenticate a request live here beside the writes they pair with (touching last use,
revoking a reused family), so the authentication classes call one module.
"""

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.context import ClientContext
from accounts.models import ApiClient, ApiToken, LoginRequest, User
from accounts.services.login import login_request_claim
from accounts.tokens import default_secret_generator
from audit import record
from audit.actions import Action, Outcome

logger = logging.getLogger("docuid.accounts.api")

API_KEY_PREFIX = "dk_"
ACCESS_PREFIX = "dat_"
REFRESH_PREFIX = "drt_"
ORIGINS_CACHE_KEY = "api:client-origins"
ORIGINS_CACHE_SECONDS = 60
# Last use is written at most this often per token/client: not a write on every request.
TOUCH_SECONDS = 60


class TokenError(Exception):
    """A token or key was refused; `code` is the API error code, `message` safe to show."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ApiTokenGenerator:
    """Makes access/refresh token pairs and knows their lifetimes; the clock is injectable for tests."""

    clock: Callable[[], datetime] = field(default=timezone.now)

    def now(self) -> datetime:
        return self.clock()

    @staticmethod
    def access_lifetime() -> timedelta:
        return timedelta(seconds=settings.DOCUID_API_ACCESS_TOKEN_SECONDS)

    @staticmethod
    def refresh_lifetime() -> timedelta:
        return timedelta(seconds=settings.DOCUID_API_REFRESH_TOKEN_SECONDS)

    @staticmethod
    def make(prefix: str) -> tuple[str, str]:
        secret = prefix + secrets.token_urlsafe(32)
        return secret, default_secret_generator.hash(secret)

    @staticmethod
    def hash(secret: str) -> str:
        return default_secret_generator.hash(secret)


default_api_token_generator = ApiTokenGenerator()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    access_token: str
    refresh_token: str

    @property
    def expires_in(self) -> int:
        return max(0, int((self.token.access_expires_at - self.token.created_at).total_seconds()))


# --- API clients -------------------------------------------------------------------------


def api_client_create(
    *, name: str, origins: list[str] | None = None, acting_user: User | None = None
) -> tuple[ApiClient, str]:
    """Register an integration; returns the client and its key (shown once, never stored)."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        client = ApiClient(
            name=name.strip(),
            key_prefix=key[:10],
            key_hash=default_secret_generator.hash(key),
            allowed_origins="\n".join(o.strip().rstrip("/") for o in origins or [] if o.strip()),
        )
        client.full_clean()
        client.save()
        record(
            Action.ADMIN_CHANGE,
            outcome=Outcome.SUCCESS,
            actor=acting_user,
            target=client,
            data={"change": "api_client_created", "api_client": client.name, "origins": client.origins},
        )
    cache.delete(ORIGINS_CACHE_KEY)
    return client, key


def api_client_from_key(key: str | None) -> ApiClient | None:
    """The active client holding `key`, or None (unknown, malformed or deactivated)."""
    if not key or len(key) > 200 or not key.startswith(API_KEY_PREFIX):
        return None
    client = ApiClient.objects.filter(key_hash=default_secret_generator.hash(key), is_active=True).first()
    if client is None or not default_secret_generator.matches(key, client.key_hash):
        return None
    now = timezone.now()
    if client.last_used_at is None or (now - client.last_used_at).total_seconds() > TOUCH_SECONDS:
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
    return client


def api_client_origins() -> frozenset[str]:
    """Every active client's allowed browser origins (cached briefly: CORS asks on every request)."""
    origins = cache.get(ORIGINS_CACHE_KEY)
    if origins is None:
        origins = sorted({o for client in ApiClient.objects.filter(is_active=True) for o in client.origins})
        cache.set(ORIGINS_CACHE_KEY, origins, ORIGINS_CACHE_SECONDS)
    return frozenset(origins)


def api_client_origins_changed() -> None:
    cache.delete(ORIGINS_CACHE_KEY)


# --- tokens ---------------------------------------------------------------------------------


def api_token_issue(
    *,
    user: User,
    client: ApiClient | None,
    client_context: ClientContext,
    method: str,
    channel: str = LoginRequest.Channel.API,
    verified: bool = False,
    request=None,
    family=None,
    generator: ApiTokenGenerator = default_api_token_generator,
) -> IssuedToken:
    """A new access/refresh pair for `user` (a new family unless rotating one)."""
    access, access_hash = generator.make(ACCESS_PREFIX)
    refresh, refresh_hash = generator.make(REFRESH_PREFIX)
    now = generator.now()
    with transaction.atomic():
        token = ApiToken(
            user=user,
            client=client,
            access_hash=access_hash,
            refresh_hash=refresh_hash,
            access_expires_at=now + generator.access_lifetime(),
            refresh_expires_at=now + generator.refresh_lifetime(),
            created_at=now,
            browser=client_context.browser,
            os=client_context.os,
            ip_masked=client_context.ip_masked,
        )
        if family is not None:
            token.family = family
        token.full_clean()
        token.save(force_insert=True)
        if family is None:
            record(
                Action.AUTH_LOGIN,
                outcome=Outcome.SUCCESS,
                actor=user,
                target=user,
                request=request,
                data={
                    "method": method,
                    "verified": verified,
                    "channel": str(channel),
                    "api_client": client.name if client else None,
                    "credential": token.pk,
                },
            )
    return IssuedToken(token=token, access_token=access, refresh_token=refresh)


def api_login_complete(
    *,
    request_id,
    claim_secret: str,
    client: ApiClient | None,
    client_context: ClientContext,
    request=None,
) -> IssuedToken:
    """Consume an approved login request (for the holder of its claim secret) and issue its token.

    Raises accounts.services.LoginError exactly like the web sign-in for every other state.
    """
    login_request = login_request_claim(request_id=request_id, claim_secret=claim_secret, request=request)
    return api_token_issue(
        user=login_request.user,
        client=client,
        client_context=client_context,
        method=login_request.provider,
        channel=login_request.channel,
        verified=login_request.device_id is not None,
        request=request,
    )


def api_token_authenticate(
    *, access_token: str | None, generator: ApiTokenGenerator = default_api_token_generator
) -> ApiToken | None:
    """The live token for `access_token` (unexpired, unrevoked, not rotated, active user) or None."""
    if not access_token or len(access_token) > 200 or not access_token.startswith(ACCESS_PREFIX):
        return None
    token = ApiToken.objects.select_related("user", "client").filter(access_hash=generator.hash(access_token)).first()
    now = generator.now()
    if token is None or not token.is_live(now) or not token.user.is_active:
        return None
    if token.client_id is not None and not token.client.is_active:
        return None  # revoking a client ends every token issued through it
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > TOUCH_SECONDS:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def _revoke_family(family, *, reason: str, now: datetime) -> int:
    return ApiToken.objects.filter(family=family, revoked_at__isnull=True).update(revoked_at=now, revoke_reason=reason)


def api_token_refresh(
    *,
    refresh_token: str | None,
    client: ApiClient | None,
    client_context: ClientContext,
    request=None,
    generator: ApiTokenGenerator = default_api_token_generator,
) -> IssuedToken:
    """Rotate: the presented refresh token is spent and a new pair issued in the same family.

    A spent refresh token presented again was copied: the whole family is revoked, so the
    thief and the rightful client both have to sign in again (RFC 9700 §4.14.2).
    """
    invalid = TokenError("INVALID_TOKEN", "The refresh token is invalid, expired or revoked. Sign in again.")
    if not refresh_token or len(refresh_token) > 200 or not refresh_token.startswith(REFRESH_PREFIX):
        raise invalid
    now = generator.now()
    reused = False
    with transaction.atomic():
        token = (
            ApiToken.objects.select_for_update(of=("self",))
            .select_related("user", "client")
            .filter(refresh_hash=generator.hash(refresh_token))
            .first()
        )
        if token is None:
            raise invalid
        if token.rotated_at is not None:
            _revoke_family(token.family, reason="refresh_reuse", now=now)
            reused = True
            record(
                Action.AUTH_TOKEN_REVOKED,
                outcome=Outcome.FAILURE,
                actor=token.user,
                target=token.user,
                request=request,
                data={"reason": "refresh_reuse", "family": str(token.family)[:8]},
            )
        elif (
            token.revoked_at is not None
            or now >= token.refresh_expires_at
            or not token.user.is_active
            or (token.client_id is not None and token.client_id != getattr(client, "pk", None))
        ):
            raise invalid
        else:
            token.rotated_at = now
            token.save(update_fields=["rotated_at"])
            issued = api_token_issue(
                user=token.user,
                client=token.client,
                client_context=client_context,
                method="refresh",
                request=request,
                family=token.family,
                generator=generator,
            )
    if reused:
        logger.warning("refresh token reused; token family %s revoked", str(token.family)[:8])
        raise invalid
    return issued


def api_token_revoke(*, token: ApiToken, acting_user: User | None, reason: str = "logout", request=None) -> int:
    """End the token's whole family (its refresh token too) at once."""
    with transaction.atomic():
        count = _revoke_family(token.family, reason=reason, now=timezone.now())
        record(
            Action.AUTH_LOGOUT if reason == "logout" else Action.AUTH_TOKEN_REVOKED,
            outcome=Outcome.SUCCESS,
            actor=acting_user,
            target=token.user,
            request=request,
            data={"reason": reason, "channel": "api", "api_client": token.client.name if token.client else None},
        )
    return count


def api_token_revoke_own(*, user: User, token_id: int, request=None) -> bool:
    """The person signs one of their own apps out; another person's token id is simply not found."""
    token = ApiToken.objects.filter(user=user, pk=token_id, revoked_at__isnull=True).first()
    if token is None:
        return False
    api_token_revoke(token=token, acting_user=user, reason="user", request=request)
    return True


def api_tokens_revoke_all(*, user: User, acting_user: User | None, reason: str, request=None) -> int:
    """Sign `user` out of every API client (sign out everywhere, support staff, deactivation)."""
    with transaction.atomic():
        count = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoke_reason=reason
        )
        record(
            Action.AUTH_TOKEN_REVOKED,
            outcome=Outcome.SUCCESS,
            actor=acting_user,
            target=user,
            request=request,
            data={"reason": reason, "revoked": count},
        )
    return count


def api_tokens_for(*, user: User) -> list[ApiToken]:
    """The person's live API sign-ins, for their profile (next to their browser sessions)."""
    now = timezone.now()
    return list(
        ApiToken.objects.select_related("client")
        .filter(user=user, revoked_at__isnull=True, rotated_at__isnull=True)
        .filter(Q(access_expires_at__gt=now) | Q(refresh_expires_at__gt=now))
    )
