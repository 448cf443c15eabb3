"""Idle timeout for signed-in people, and the "last seen" shown on the profile page."""

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

SESSION_LAST_SEEN_KEY = "docuid_last_seen"
# Writing the session on every request would cost a write per page view; a minute of slack is enough.
TOUCH_EVERY_SECONDS = 60


class SessionActivityMiddleware:
    """End a session idle for longer than DOCUID_SESSION_IDLE_SECONDS; keep its last-seen time fresh."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # A signed-in session names its user: the session alone says so. Asking
        # request.user loaded the person (and their OTP device) on every request,
        # also for views that never need them; the view still does when it does.
        session = getattr(request, "session", None)
        if session is not None and session.get(SESSION_KEY) is not None:
            from accounts.services import user_session_touch

            now = timezone.now().timestamp()
            last_seen = request.session.get(SESSION_LAST_SEEN_KEY)
            if last_seen is not None and now - last_seen > settings.DOCUID_SESSION_IDLE_SECONDS:
                logout(request)
            elif last_seen is None or now - last_seen > TOUCH_EVERY_SECONDS:
                request.session[SESSION_LAST_SEEN_KEY] = now
                user_session_touch(session_key=request.session.session_key)
        return self.get_response(request)
