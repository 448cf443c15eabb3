"""Fixed-window counters in the Django cache (Redis when REDIS_URL is set, shared by every process).

Counting is atomic: on Redis (Django's backend or django-redis, the one production runs) one
INCR plus its expiry in a single script call — one round trip — elsewhere the cache's own add + incr. A read-then-write count would let parallel requests through.
"""

import hashlib
import ipaddress
import math
import time
from dataclasses import dataclass

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache
from django_redis.cache import RedisCache as DjangoRedisCache

# INCR and, for a new key, its expiry, in one round trip that nothing can interleave with.
_INCR_SCRIPT = (
    "local count = redis.call('INCR', KEYS[1]) "
    "if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end "
    "return count"
)


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


def network(ip: str | None) -> str:
    """The network an address is counted in: IPv4 /24, IPv6 /64 (one subscriber's IPv6 prefix
    holds millions of addresses, so counting addresses would count nothing)."""
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _redis_client(backend, full_key: str):
    """The raw Redis client behind the cache, or None when the cache is not Redis.

    Production runs django-redis (under django-prometheus' wrapper), which is not Django's
    own RedisCache: checking only for the latter sent every count down the add + incr path,
    two round trips (and three when the key had expired in between).
    """
    if isinstance(backend, RedisCache):
        return backend._cache.get_client(full_key, write=True)
    if isinstance(backend, DjangoRedisCache):
        return backend.client.get_client(write=True)  # django-redis' public raw-client accessor
    return None


def incr(key: str, *, timeout: int) -> int:
    """Add one to the counter `key` (created with `timeout` seconds to live); return the new count.

    On Redis: one round trip (a script doing INCR, and EXPIRE for a new key).
    """
    backend = caches[DEFAULT_CACHE_ALIAS]
    full_key = backend.make_and_validate_key(key)
    client = _redis_client(backend, full_key)
    if client is not None:
        return int(client.eval(_INCR_SCRIPT, 1, full_key, timeout))
    for _ in range(3):
        backend.add(key, 0, timeout=timeout)
        try:
            return backend.incr(key)
        except ValueError:  # expired between add and incr: add it again
            continue
    raise RuntimeError(f"the cache lost the counter {key!r} three times in a row")


def hit(limit: Limit, identity: str, *, now: float | None = None) -> Verdict:
    """Count one event for `identity`; refuse when the window already holds `limit` of them."""
    now = time.time() if now is None else now
    window = int(now // limit.window_seconds)
    count = incr(_key(limit.scope, identity, window), timeout=limit.window_seconds + 5)
    if count > limit.limit:
        return Verdict(False, max(1, math.ceil((window + 1) * limit.window_seconds - now)))
    return Verdict(True)


def record_strike(scope: str, identity: str, *, window_seconds: int) -> int:
    """Count a strike (e.g. a denial) in a window that starts at the first strike; return the count."""
    return incr(_key(scope, identity), timeout=window_seconds)


def strikes(scope: str, identity: str) -> int:
    return int(cache.get(_key(scope, identity)) or 0)


def clear(scope: str, identity: str) -> None:
    cache.delete(_key(scope, identity))


def generation(scope: str, identity: str) -> int:
    """A number mixed into derived identities, so that `new_generation` forgets all of them at once."""
    return int(cache.get(_key(f"{scope}-generation", identity)) or 0)


def new_generation(scope: str, identity: str, *, timeout: int) -> None:
    incr(_key(f"{scope}-generation", identity), timeout=timeout)


def reset(limit: Limit, identity: str, *, now: float | None = None) -> None:
    """Forget the current window's count for `identity` (staff unlock)."""
    now = time.time() if now is None else now
    cache.delete(_key(limit.scope, identity, int(now // limit.window_seconds)))
