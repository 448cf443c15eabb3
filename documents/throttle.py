"""Rate limit on share-link passwords, in the shared cache (Redis in production).

Counted per link, not per client: guessing from many addresses is still one
budget, so a password of 8+ characters cannot be brute-forced through the link.
"""

from django.conf import settings
from django.core.cache import cache


def _key(share_id: int) -> str:
    return f"documents:share-password-failures:{share_id}"


def share_password_locked(share_id: int) -> bool:
    return cache.get(_key(share_id), 0) >= settings.DOCUID_SHARE_PASSWORD_ATTEMPTS


def share_password_failed(share_id: int) -> None:
    key = _key(share_id)
    # add() starts the window only once; incr() keeps its expiry.
    cache.add(key, 0, timeout=settings.DOCUID_SHARE_PASSWORD_WINDOW_SECONDS)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.DOCUID_SHARE_PASSWORD_WINDOW_SECONDS)
