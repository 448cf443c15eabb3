import enum


class Decision(enum.Enum):
    APPROVED = "approved"
    DENIED = "denied"


class ProviderError(Exception):
    """The provider could not be reached or answered nonsense; the message is safe to show staff."""


class BiometricProvider:
    """Tell the phone about a login request, and (for external providers) report the phone's answer."""

    name = ""
    # True when approval happens on our own approval page with a passkey.
    uses_approval_page = False

    def notify(self, *, login_request, approval_url: str) -> None:
        """Called after the request is committed. May raise ProviderError."""

    def poll(self, *, login_request) -> Decision | None:
        """Called when the starting client asks for the status; None while undecided. May raise ProviderError."""
        return None
