"""Read-your-writes with a read replica: after a person writes, their reads go to the primary for a while.

A replica is a few milliseconds to seconds behind. Someone who has just renamed, shared
or uploaded a document and is sent back to the list must see their change, so:

- a request with a non-safe method reads only the primary (its own reads follow its write);
- when it succeeds (status < 400), the response sets a short cookie (DOCUID_READ_YOUR_WRITES_SECONDS
  long, the time after which the replica has almost surely replayed the write), and every request
  carrying it reads only the primary.

A cookie rather than the session or the cache: it costs no lookup at all, and nothing in it
needs protecting — it can only make reads fresher. Forging it moves that person's reads to the
primary (no more than writing would); dropping it shows that person slightly older list pages,
never a document they may no longer see (access is re-checked on the primary, documents.replica).
API clients that keep no cookies get read-your-writes within the writing request only.

Without DATABASE_REPLICA_URL the middleware removes itself (MiddlewareNotUsed): no cost at all.
"""

import time

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse

from docuid import db_routers

COOKIE = "docuid_fresh"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


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
        token = db_routers.pin_primary(writing or _pinned_until(request) > time.time())
        try:
            response = self.get_response(request)
        finally:
            db_routers.unpin(token)
        if writing and response.status_code < 400:
            seconds = settings.DOCUID_READ_YOUR_WRITES_SECONDS
            response.set_cookie(
                COOKIE,
                f"{time.time() + seconds:.0f}",
                max_age=seconds,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response
