"""The abuse limits of starting a login: fraud block, denial lock, per network, per number."""

from django.conf import settings
from django.utils import timezone

from accounts import ratelimit
from accounts.context import ClientContext
from accounts.models import FraudReport
from accounts.services.errors import RateLimited

DENIAL_SCOPE = "denials"


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


def denial_strike_record(phone_number: str) -> None:
    ratelimit.record_strike(DENIAL_SCOPE, phone_number, window_seconds=settings.DOCUID_DENIAL_LOCK_WINDOW_SECONDS)


def denial_lock_clear(phone_number: str) -> None:
    ratelimit.clear(DENIAL_SCOPE, phone_number)


def login_limits_check(*, phone_number: str, client: ClientContext) -> None:
    """Raise RateLimited when a login for `phone_number` from `client` is over a limit."""
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
