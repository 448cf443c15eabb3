"""The abuse limits of starting a login, and the cap on the prompts a phone receives.

Whoever knows a number can ask to sign in as it, so no limit a stranger can run up may
keep the number's owner out (a Duo-style push-flood defence):

* Refusals (429) count per *network* — IPv4 /24, IPv6 /64, as one subscriber holds a whole
  IPv6 /64 — and per number *per network*: a stranger exhausts only their own networks'
  allowance, never the owner's.
* The phone is prompted (push, SMS) at most DOCUID_LOGIN_PROMPTS_PER_HOUR times an hour for
  requests from browsers that never signed in as the number. Past that, requests are still
  accepted and answered exactly alike, but nothing more is pushed; the waiting page's QR code
  and a passkey sign-in still work.
* A browser that signed in as the number before (a signed marker cookie, see
  accounts.known_browsers) is the owner's: it is exempt from all of the above and from the
  fraud block and denial lock a stranger's prompts can lead to, and has its own allowance.
"""

import logging

from django.conf import settings
from django.utils import timezone

from accounts import ratelimit
from accounts.context import ClientContext
from accounts.models import FraudReport
from accounts.phone import mask_phone
from accounts.services.errors import RateLimited

logger = logging.getLogger("docuid.accounts.login")

DENIAL_SCOPE = "denials"
PROMPT_WINDOW_SECONDS = 3600


def _per_network_limit() -> ratelimit.Limit:
    return ratelimit.Limit("login-ip", settings.DOCUID_RATE_LIMIT_IP, settings.DOCUID_RATE_LIMIT_WINDOW_SECONDS)


def _per_number_limit() -> ratelimit.Limit:
    return ratelimit.Limit("login-phone", settings.DOCUID_RATE_LIMIT_PHONE, settings.DOCUID_RATE_LIMIT_WINDOW_SECONDS)


def _prompt_limit() -> ratelimit.Limit:
    return ratelimit.Limit("login-prompts", settings.DOCUID_LOGIN_PROMPTS_PER_HOUR, PROMPT_WINDOW_SECONDS)


def _per_number_identity(phone_number: str, source: str) -> str:
    # The generation moves on at a staff unlock, forgetting every source's count at once.
    return f"{phone_number}|{ratelimit.generation('login-phone', phone_number)}|{source}"


def phone_limits_reset(phone_number: str) -> None:
    """Forget every network's and browser's count for the number, and its prompts (staff unlock)."""
    window = max(settings.DOCUID_RATE_LIMIT_WINDOW_SECONDS, PROMPT_WINDOW_SECONDS)
    ratelimit.new_generation("login-phone", phone_number, timeout=window + 60)
    ratelimit.reset(_prompt_limit(), phone_number)


def denial_strike_record(phone_number: str) -> None:
    ratelimit.record_strike(DENIAL_SCOPE, phone_number, window_seconds=settings.DOCUID_DENIAL_LOCK_WINDOW_SECONDS)


def denial_lock_clear(phone_number: str) -> None:
    ratelimit.clear(DENIAL_SCOPE, phone_number)


def login_limits_check(*, phone_number: str, client: ClientContext) -> None:
    """Raise RateLimited when a login for `phone_number` from `client` is over a limit."""
    if client.knows(phone_number):
        # The owner's browser: only its own allowance, which no one else can run up.
        _hit(_per_number_limit(), _per_number_identity(phone_number, f"browser:{client.known.browser_id}"), "phone")
        return
    _check_number_blocks(phone_number)
    network = ratelimit.network(client.ip)
    if network:
        _hit(_per_network_limit(), network, "ip")
    _hit(_per_number_limit(), _per_number_identity(phone_number, f"net:{network}"), "phone")


def _check_number_blocks(phone_number: str) -> None:
    now = timezone.now()
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


def _hit(limit: ratelimit.Limit, identity: str, scope: str) -> None:
    verdict = ratelimit.hit(limit, identity)
    if verdict.allowed:
        return
    message = {
        "ip": "Too many sign-in attempts from your network. Please wait and try again.",
        "phone": "Too many sign-in attempts for this number. Please wait and try again.",
    }[scope]
    raise RateLimited(message, verdict.retry_after, scope)


def login_prompt_allowed(*, phone_number: str, client: ClientContext) -> bool:
    """Count one prompt to the number's phone; False past the hourly cap (the owner's browser is never capped)."""
    if client.knows(phone_number):
        return True
    if ratelimit.hit(_prompt_limit(), phone_number).allowed:
        return True
    logger.warning(
        "login prompt cap reached for %s (request from network %s): accepted without notifying the phone",
        mask_phone(phone_number),
        client.ip_masked or "-",
    )
    return False


def rate_limited_event_data(*, phone_number: str, client: ClientContext) -> dict:
    """What a rate-limit event says about who was asked for and from where, masked."""
    return {"phone": mask_phone(phone_number), "network": client.ip_masked}
