"""Fixed-window counters in the Django cache (Redis when REDIS_URL is set, shared by every process)."""

import hashlib
import math
import time
from dataclasses import dataclass

from django.core.cache import cache


@dataclass(frozen=True)
class Limit:
    scope: str
    limit: int
    window_seconds: int


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0


def _key(scope: str, identity: str, window_index: int | None = None) -> str:
    # Identities are phone numbers and IPs: only their digest goes into the cache key.
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    return f"rl:{scope}:{digest}" + (f":{window_index}" if window_index is not None else "")


def hit(limit: Limit, identity: str, *, now: float | None = None) -> Verdict:
    """Count one event for `identity`; refuse when the window already holds `limit` of them."""
    now = time.time() if now is None else now
    window = int(now // limit.window_seconds)
    key = _key(limit.scope, identity, window)
    cache.add(key, 0, timeout=limit.window_seconds + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # the key expired between add and incr
        cache.set(key, 1, timeout=limit.window_seconds + 5)
        count = 1
    if count > limit.limit:
        return Verdict(False, max(1, math.ceil((window + 1) * limit.window_seconds - now)))
    return Verdict(True)


def record_strike(scope: str, identity: str, *, window_seconds: int) -> int:
    """Count a strike (e.g. a denial) in a window that starts at the first strike; return the count."""
    key = _key(scope, identity)
    cache.add(key, 0, timeout=window_seconds)
    try:
        return cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=window_seconds)
        return 1


def strikes(scope: str, identity: str) -> int:
    return int(cache.get(_key(scope, identity)) or 0)


def clear(scope: str, identity: str) -> None:
    cache.delete(_key(scope, identity))


def generation(scope: str, identity: str) -> int:
    """A number mixed into derived identities, so that `new_generation` forgets all of them at once."""
    return int(cache.get(_key(f"{scope}-generation", identity)) or 0)


def new_generation(scope: str, identity: str, *, timeout: int) -> None:
    key = _key(f"{scope}-generation", identity)
    cache.add(key, 0, timeout=timeout)
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=timeout)


def reset(limit: Limit, identity: str, *, now: float | None = None) -> None:
    """Forget the current window's count for `identity` (staff unlock)."""
    now = time.time() if now is None else now
    cache.delete(_key(limit.scope, identity, int(now // limit.window_seconds)))
