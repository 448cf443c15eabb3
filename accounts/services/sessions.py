"""Browser sessions: opening one after a login, listing, revoking, signing out everywhere."""

from importlib import import_module

from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.db import transaction
from django.utils import timezone
from django_otp import login as otp_login

from accounts.context import ClientContext
from accounts.models import FraudReport, User, UserSession
from accounts.services.api_tokens import api_tokens_revoke_all
from accounts.services.limits import denial_lock_clear, phone_limits_reset
from audit import record
from audit.actions import Action, Outcome

SESSION_AUTHENTICATED_AT_KEY = "docuid_authenticated_at"
BACKEND = "django.contrib.auth.backends.ModelBackend"


def _session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore


def session_login(*, request, user: User, device=None, method: str) -> None:
    """Open a Django session for `user` (key rotated); with a passkey, django-otp counts it as verified."""
    with transaction.atomic():
        auth_login(request, user, backend=BACKEND)  # cycles the session key; fires user_logged_in
        if device is not None:
            otp_login(request, device)
        request.session[SESSION_AUTHENTICATED_AT_KEY] = timezone.now().timestamp()
        record(
            Action.AUTH_LOGIN,
            outcome=Outcome.SUCCESS,
            actor=user,
            target=user,
            request=request,
            data={"method": method, "verified": device is not None},
        )


def user_session_register(*, request, user: User) -> None:
    """Remember a new session so its owner can see and revoke it (connected to user_logged_in)."""
    if not request.session.session_key:
        request.session.save()
    client = ClientContext.from_request(request)
    UserSession.objects.update_or_create(
        session_key=request.session.session_key,
        defaults={"user": user, "browser": client.browser, "os": client.os, "ip_masked": client.ip_masked},
    )


def user_session_touch(*, session_key: str | None) -> None:
    if session_key:
        UserSession.objects.filter(session_key=session_key).update(last_seen_at=timezone.now())


def session_logout(*, request) -> None:
    user = request.user if request.user.is_authenticated else None
    session_key = request.session.session_key
    with transaction.atomic():
        if user is not None:
            record(Action.AUTH_LOGOUT, outcome=Outcome.SUCCESS, actor=user, target=user, request=request, data={})
        if session_key:
            UserSession.objects.filter(session_key=session_key).delete()
    auth_logout(request)


def user_session_revoke(*, user: User, session_id: int, acting_user: User, request=None) -> bool:
    """End one of `user`'s sessions; False if it is not theirs (or already gone)."""
    with transaction.atomic():
        row = UserSession.objects.select_for_update().filter(pk=session_id, user=user).first()
        if row is None:
            return False
        _session_store()(session_key=row.session_key).delete()
        row.delete()
        record(
            Action.AUTH_SESSIONS_REVOKED,
            outcome=Outcome.SUCCESS,
            actor=acting_user,
            target=user,
            request=request,
            data={"sessions": 1, "scope": "one"},
        )
        return True


def user_sessions_revoke_all(*, user: User, acting_user: User | None, request=None, keep_session_key: str = "") -> int:
    """Sign `user` out everywhere (except, optionally, the session doing it)."""
    with transaction.atomic():
        rows = list(
            UserSession.objects.select_for_update().filter(user=user).exclude(session_key=keep_session_key or None)
        )
        store = _session_store()
        for row in rows:
            store(session_key=row.session_key).delete()
        UserSession.objects.filter(pk__in=[row.pk for row in rows]).delete()
        # "Everywhere" includes the API clients (Office add-in) the person signed in to.
        api_tokens_revoke_all(user=user, acting_user=acting_user, reason="sign_out_everywhere", request=request)
        record(
            Action.AUTH_SESSIONS_REVOKED,
            outcome=Outcome.SUCCESS,
            actor=acting_user,
            target=user,
            request=request,
            data={"sessions": len(rows), "scope": "all" if not keep_session_key else "others"},
        )
        return len(rows)


def user_unlock(*, user: User, acting_user: User, request=None) -> None:
    """Staff lift the denial lock and any fraud block on `user`'s number."""
    with transaction.atomic():
        lifted = FraudReport.objects.filter(phone_number=user.phone_number, blocked_until__gt=timezone.now()).update(
            blocked_until=timezone.now()
        )
        denial_lock_clear(user.phone_number)
        phone_limits_reset(user.phone_number)
        record(
            Action.USER_UNLOCKED,
            outcome=Outcome.SUCCESS,
            actor=acting_user,
            target=user,
            request=request,
            data={"fraud_blocks_lifted": lifted},
        )
