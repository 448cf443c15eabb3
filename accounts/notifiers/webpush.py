"""Web Push (RFC 8030 + VAPID, RFC 8292) to the browsers the person subscribed on the approval page."""

import json
import logging

from django.conf import settings
from pywebpush import WebPushException, webpush

from accounts.notifiers.base import Message, NotifierError

logger = logging.getLogger("docuid.accounts.notify")


class WebPushNotifier:
    name = "webpush"

    def send(self, *, user, message: Message) -> bool:
        from accounts.models import PushSubscription

        subscriptions = list(PushSubscription.objects.filter(user=user))
        if not subscriptions:
            return False
        if not (settings.DOCUID_VAPID_PRIVATE_KEY and settings.DOCUID_VAPID_PUBLIC_KEY):
            raise NotifierError("Web push is not configured (DOCUID_VAPID_PUBLIC_KEY, DOCUID_VAPID_PRIVATE_KEY).")
        payload = json.dumps({"title": message.title, "body": message.body, "url": message.url, "tag": message.tag})
        delivered = False
        for subscription in subscriptions:
            try:
                webpush(
                    subscription_info={
                        "endpoint": subscription.endpoint,
                        "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
                    },
                    data=payload,
                    vapid_private_key=settings.DOCUID_VAPID_PRIVATE_KEY,
                    vapid_claims={"sub": settings.DOCUID_VAPID_SUBJECT},
                    ttl=settings.DOCUID_LOGIN_REQUEST_TTL_SECONDS,
                    timeout=10,
                )
                delivered = True
            except WebPushException as exc:
                status = getattr(exc.response, "status_code", None)
                if status in (404, 410):
                    # The browser unsubscribed: the push service will never accept this endpoint again.
                    subscription.delete()
                    continue
                logger.warning("web push to subscription %s failed (HTTP %s)", subscription.pk, status or "-")
        return delivered
