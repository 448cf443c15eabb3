"""Rate limit on share-link passwords, in the shared cache (Redis in production).

Counted per link, not per client: guessing from many addresses is still one
budget, so a password of 8+ characters cannot be brute-forced through the link.

An attempt takes its place in the budget *before* the password is checked
(increment, then compare): with check-then-increment, guesses racing on several
workers all read the same count and all got checked. `ratelimit.incr` is atomic on
Redis (one script call, one round trip) and on the local-memory cache, the two backends DocuID configures.
"""

import contextlib

from django.conf import settings
from django.core.cache import cache

from accounts import ratelimit


def _key(share_id: int) -> str:
    return f"documents:share-password-failures:{share_id}"


def share_password_attempt(share_id: int) -> bool:
    """Count one password attempt on the link; False when its budget for the window is spent."""
    # The first attempt starts the window; later ones keep its expiry. On Redis one round trip.
    count = ratelimit.incr(_key(share_id), timeout=settings.DOCUID_SHARE_PASSWORD_WINDOW_SECONDS)
    return count <= settings.DOCUID_SHARE_PASSWORD_ATTEMPTS


def share_password_succeeded(share_id: int) -> None:
    """Give back the attempt of a right password: the budget is for wrong guesses, not for every recipient."""
    with contextlib.suppress(ValueError):  # the window ended meanwhile: nothing to give back
        cache.decr(_key(share_id))
