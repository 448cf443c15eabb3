from accounts import notifiers
from accounts.providers.base import BiometricProvider


class WebAuthnProvider(BiometricProvider):
    """Our own approval page: the phone gets the link and approves with a passkey (user verification required)."""

    name = "webauthn"
    uses_approval_page = True

    def notify(self, *, login_request, approval_url: str) -> None:
        if login_request.user is not None:
            notifiers.send_approval_link(
                user=login_request.user, approval_url=approval_url, login_request=login_request
            )
