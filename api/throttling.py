"""Rate limits per caller and scope, fixed windows in the shared cache (Redis in production).

The caller is its token when it sends one (so people behind one office network do
not share a budget), else its network plus API key. Each response carries
X-RateLimit-Limit / -Remaining / -Reset for the scope of the view it reached.
"""

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import BaseThrottle

from api.authentication import TOKEN_COOKIE

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    try:
        count, period = rate.split("/")
        return int(count), PERIODS[period.strip().lower()]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(f"API rate {rate!r} must look like '60/min' (s, min, h, d).") from None


def caller_identity(request) -> str:
    authorization = request.headers.get("Authorization", "")
    credential = authorization if authorization.lower().startswith("bearer ") else request.COOKIES.get(TOKEN_COOKIE)
    if credential:
        basis = "token:" + credential
    else:
        basis = "net:" + request.META.get("REMOTE_ADDR", "") + "|" + request.headers.get("x-api-key", "")[:200]
    return hashlib.sha256(basis.encode(errors="replace")).hexdigest()[:32]


class ApiRateThrottle(BaseThrottle):
    """Counts one request against the view's `throttle_scope` (DOCUID_API_RATES)."""

    def allow_request(self, request, view) -> bool:
        scope = getattr(view, "throttle_scope", "default")
        limit, period = parse_rate(settings.DOCUID_API_RATES.get(scope) or settings.DOCUID_API_RATES["default"])
        now = time.time()
        window = int(now // period)
        key = f"api-rl:{scope}:{caller_identity(request)}:{window}"
        cache.add(key, 0, timeout=period + 5)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=period + 5)
            count = 1
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
