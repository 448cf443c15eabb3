import sys

from django.conf import settings

from accounts.notifiers.base import Message


class ConsoleNotifier:
    """Development only: print the link on stderr (not the log, which masks one-time links)."""

    name = "console"

    def send(self, *, user, message: Message) -> bool:
        if not settings.DEBUG:
            return False
        print(
            f"\n[DocuID console notifier] to {user.masked_phone}: {message.title}\n  {message.url}\n", file=sys.stderr
        )
        return True
