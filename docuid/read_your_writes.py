"""Read-your-writes with a read replica: after a person writes, their reads go to the primary for a while.

A replica is a few milliseconds to seconds behind. Someone who has just renamed, shared
or uploaded a document and is sent back to the list must see their change, so:

- a request with a non-safe method reads only the primary (its own reads follow its write);
- when it succeeds (status < 400), the response sets a short cookie (DOCUID_READ_YOUR_WRITES_SECONDS
  long, the time after which the replica has almost surely replayed the write), and every request
  carrying it reads only the primary;
- and, for a signed-in person, a cache key with the same lifetime: their other devices and API
  clients that keep no cookies read the primary too. It is read only where a replica read is
  about to happen (`wrote_recently`, one cache GET per list page) and only when the cookie has
  not already answered.

The cookie costs no lookup at all, and nothing in it needs protecting — it can only make reads
fresher. Forging it moves that person's reads to the primary (no more than writing would);
dropping it shows slightly older list pages, never a document they may no longer see (access is
re-checked on the primary, documents.replica). A cache that cannot answer counts as "wrote
recently": the primary answers.

Without DATABASE_REPLICA_URL the middleware removes itself (MiddlewareNotUsed): no cost at all.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse

from docuid import db_routers

logger = logging.getLogger(__name__)

COOKIE = "docuid_fresh"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _key(user_id) -> str:
    return f"docuid:fresh:{user_id}"


def person_wrote(user) -> None:
    """Remember for DOCUID_READ_YOUR_WRITES_SECONDS that `user` wrote (any device, any client)."""
    try:
        cache.set(_key(user.pk), 1, settings.DOCUID_READ_YOUR_WRITES_SECONDS)
    except Exception:  # noqa: BLE001 — a cache outage must not fail the write that already happened
        logger.warning("read-your-writes mark not stored (cache unavailable)")


def wrote_recently(user) -> bool:
    """Whether `user`'s reads must come from the primary: this request wrote or carries the cookie
    (free), or the person wrote from elsewhere in the last seconds (one cache GET)."""
    if db_routers.primary_pinned():
        return True
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    try:
        return cache.get(_key(user.pk)) is not None
    except Exception:  # noqa: BLE001 — cannot tell: the primary is always right
        return True


def _pinned_until(request: HttpRequest) -> float:
    try:
        return float(request.COOKIES.get(COOKIE, 0))
    except ValueError:
        return 0.0


class ReadYourWritesMiddleware:
    def __init__(self, get_response):
        if not db_routers.replica_configured():
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        writing = request.method not in SAFE_METHODS
        fresh = _pinned_until(request) > time.time()
        token = db_routers.pin_primary(writing or fresh)
        try:
            response = self.get_response(request)
        finally:
            db_routers.unpin(token)
        if writing and response.status_code < 400 and not getattr(request, "_docuid_reads_only", False):
            seconds = settings.DOCUID_READ_YOUR_WRITES_SECONDS
            user = getattr(request, "user", None)  # DRF sets it here too, for token-authenticated calls
            if user is not None and user.is_authenticated:
                person_wrote(user)
            response.set_cookie(
                COOKIE,
                f"{time.time() + seconds:.0f}",
                max_age=seconds,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        """A view that declares `reads_only = True` (a search sent as POST) is not a write."""
        view_class = getattr(view_func, "view_class", None) or getattr(view_func, "cls", None)
        if request.method not in SAFE_METHODS and getattr(view_class, "reads_only", False):
            request._docuid_reads_only = True
            db_routers.pin_primary(_pinned_until(request) > time.time())  # undone with the request's pin
        return None
