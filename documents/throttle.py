"""Rate limit on share-link passwords, in the shared cache (Redis in production).

Counted per link, not per client: guessing from many addresses is still one
budget, so a password of 8+ characters cannot be brute-forced through the link.

An attempt takes its place in the budget *before* the password is checked
(increment, then compare): with check-then-increment, guesses racing on several
workers all read the same count and all got checked. `cache.incr` is atomic on
Redis and on the local-memory cache, the two backends DocuID configures.
"""

import contextlib

from django.conf import settings
from django.core.cache import cache


def _key(share_id: int) -> str:
    return f"documents:share-password-failures:{share_id}"


def share_password_attempt(share_id: int) -> bool:
    """Count one password attempt on the link; False when its budget for the window is spent."""
    key = _key(share_id)
    window = settings.DOCUID_SHARE_PASSWORD_WINDOW_SECONDS
    # add() starts the window only once; incr() keeps its expiry.
    cache.add(key, 0, timeout=window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: this attempt opens a new window
        count = 1 if cache.add(key, 1, timeout=window) else cache.incr(key)
    return count <= settings.DOCUID_SHARE_PASSWORD_ATTEMPTS


def share_password_succeeded(share_id: int) -> None:
    """Give back the attempt of a right password: the budget is for wrong guesses, not for every recipient."""
    with contextlib.suppress(ValueError):  # the window ended meanwhile: nothing to give back
        cache.decr(_key(share_id))
