"""Rate limits per caller and scope, fixed windows in the shared cache (Redis in production).

The caller is the person behind a *verified* token when the request carries one (so people
behind one office network do not share a budget), else its network (IPv4 /24, IPv6 /64) plus
the verified API client. Only verified credentials count: a made-up token or key on each call
would otherwise be a fresh budget each time. Each response carries X-RateLimit-Limit /
-Remaining / -Reset for the scope of the view it reached.
"""

import hashlib
import math
import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import BaseThrottle

from accounts import ratelimit
from api.authentication import request_token
from api.clients import request_client

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    try:
        count, period = rate.split("/")
        return int(count), PERIODS[period.strip().lower()]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(f"API rate {rate!r} must look like '60/min' (s, min, h, d).") from None


def caller_identity(request) -> str:
    token = request_token(request)
    if token is not None:
        basis = f"user:{token.user_id}"
    else:
        client = request_client(request)
        basis = f"net:{ratelimit.network(request.META.get('REMOTE_ADDR'))}|client:{client.pk if client else '-'}"
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


class ApiRateThrottle(BaseThrottle):
    """Counts one request against the view's `throttle_scope` (DOCUID_API_RATES)."""

    def allow_request(self, request, view) -> bool:
        scope = getattr(view, "throttle_scope", "default")
        limit, period = parse_rate(settings.DOCUID_API_RATES.get(scope) or settings.DOCUID_API_RATES["default"])
        now = time.time()
        window = int(now // period)
        count = ratelimit.incr(f"api-rl:{scope}:{caller_identity(request)}:{window}", timeout=period + 5)
        reset = (window + 1) * period
        self.wait_seconds = max(1, math.ceil(reset - now))
        request._request.docuid_rate_limit = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - count)),
            "X-RateLimit-Reset": str(int(reset)),
        }
        return count <= limit

    def wait(self) -> float:
        return self.wait_seconds
