"""The "this browser signed in as this number before" marker (a signed cookie).

A stranger who knows a number can make its login limits bite, but cannot have signed in
as it: a browser holding this marker for the number is the owner's, so it is exempt from
the per-number limits and the prompt cap that strangers' requests run up (it gets its own,
per-browser allowance instead). Like Duo's remembered devices. The cookie holds no number:
only a keyed digest of each number signed in with (at most five), and a random browser id,
signed and time-stamped with SECRET_KEY.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

COOKIE_NAME = "docuid_known"
MAX_NUMBERS = 5


@dataclass(frozen=True)
class KnownBrowser:
    browser_id: str = ""
    numbers: frozenset[str] = frozenset()  # keyed digests, never the numbers


UNKNOWN = KnownBrowser()


@dataclass(frozen=True)
class KnownBrowserSigner:
    salt: str = "docuid.accounts.known-browser"

    @staticmethod
    def number_digest(phone_number: str) -> str:
        key = hashlib.sha256(b"docuid.known-browser:" + settings.SECRET_KEY.encode()).digest()
        return hmac.new(key, phone_number.encode(), hashlib.sha256).hexdigest()[:24]

    def load(self, value: str | None) -> KnownBrowser:
        """The verified marker in a cookie value; an empty one for a missing, forged or stale cookie."""
        if not value or len(value) > 1024:
            return UNKNOWN
        max_age = settings.DOCUID_KNOWN_BROWSER_DAYS * 86400
        try:
            data = signing.loads(value, salt=self.salt, max_age=max_age)
            browser_id, numbers = str(data["b"]), frozenset(str(n) for n in data["n"][:MAX_NUMBERS])
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            return UNKNOWN
        return KnownBrowser(browser_id=browser_id[:32], numbers=numbers)

    def dump(self, known: KnownBrowser, phone_number: str) -> str:
        """A fresh cookie value that also knows `phone_number` (the most recent numbers are kept)."""
        digest = self.number_digest(phone_number)
        numbers = [digest, *sorted(known.numbers - {digest})][:MAX_NUMBERS]
        return signing.dumps({"b": known.browser_id or secrets.token_urlsafe(12), "n": numbers}, salt=self.salt)

    def knows(self, known: KnownBrowser, phone_number: str) -> bool:
        digest = self.number_digest(phone_number)
        return any(hmac.compare_digest(digest, number) for number in known.numbers)


default_known_browser_signer = KnownBrowserSigner()


def known_browser_from_request(request) -> KnownBrowser:
    return default_known_browser_signer.load(request.COOKIES.get(COOKIE_NAME))


def known_browser_remember(response, *, request, phone_number: str) -> None:
    """Mark the browser behind `request` as having signed in as `phone_number` (after a sign-in)."""
    value = default_known_browser_signer.dump(known_browser_from_request(request), phone_number)
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=settings.DOCUID_KNOWN_BROWSER_DAYS * 86400,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
