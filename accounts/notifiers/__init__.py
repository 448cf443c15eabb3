"""Notifiers carry a link (login approval, passkey enrollment) to the person's phone.

Backends, listed in DOCUID_NOTIFIERS: `console` (development: prints the link on stderr),
`webpush` (VAPID, pywebpush, to the phone's subscribed browsers) and `sms` (Twilio).
A failing backend is logged and the others still run: one broken channel must not
stop the person from signing in through another (or the QR code).
"""

import logging

from django.conf import settings

from accounts.notifiers.base import Message, NotifierError

logger = logging.getLogger("docuid.accounts.notify")


def _backends() -> list:
    from accounts.notifiers.console import ConsoleNotifier
    from accounts.notifiers.sms import TwilioSmsNotifier
    from accounts.notifiers.webpush import WebPushNotifier

    known = {"console": ConsoleNotifier, "webpush": WebPushNotifier, "sms": TwilioSmsNotifier}
    return [known[name]() for name in settings.DOCUID_NOTIFIERS if name in known]


def send(*, user, message: Message) -> list[str]:
    """Send `message` to `user` through every configured backend; return the names that delivered it."""
    delivered = []
    for backend in _backends():
        try:
            if backend.send(user=user, message=message):
                delivered.append(backend.name)
        except NotifierError as exc:
            logger.warning("notifier %s failed for user %s: %s", backend.name, user.pk, exc)
    return delivered


def send_approval_link(*, user, approval_url: str, login_request) -> list[str]:
    where = " · ".join(part for part in (login_request.browser, login_request.os) if part) or "a browser"
    message = Message(
        title="DocuID sign-in request",
        body=f"Someone is signing in to DocuID from {where}. Open to approve or deny.",
        url=approval_url,
        tag=f"login-{login_request.id}",
    )
    return send(user=user, message=message)


def send_enrollment_link(*, user, enrollment_url: str) -> list[str]:
    message = Message(
        title="Set up DocuID on this phone",
        body="Open this link on your phone to register your fingerprint or face for DocuID sign-in.",
        url=enrollment_url,
        tag="enrollment",
    )
    return send(user=user, message=message)


__all__ = ["Message", "NotifierError", "send", "send_approval_link", "send_enrollment_link"]
