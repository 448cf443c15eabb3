"""Every sign-in (ours, or the admin's password + TOTP form) is listed on the profile for revocation."""

from django.contrib.auth.signals import user_logged_in


def remember_session(sender, request, user, **kwargs) -> None:
    from accounts.services import user_session_register

    if request is not None and hasattr(request, "session"):
        user_session_register(request=request, user=user)


def connect() -> None:
    user_logged_in.connect(remember_session, dispatch_uid="accounts.remember_session")
