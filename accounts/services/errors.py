class LoginError(Exception):
    """A login step refused; `code` is stable for clients, `message` is safe to show the person."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class RateLimited(LoginError):
    def __init__(self, message: str, retry_after: int, scope: str):
        super().__init__("rate_limited", message)
        self.retry_after = retry_after
        self.scope = scope


MESSAGES = {
    "pending": "Still waiting for the approval on your phone.",
    "denied": "The sign-in was denied on the phone.",
    "fraud_reported": "The sign-in was reported as not genuine on the phone. If that was a mistake, wait a while and try again.",
    "expired": "The sign-in request expired before it was approved.",
    "wrong_match_code": "The code picked on the phone did not match the one on this screen, so the request was cancelled.",
    "provider_error": "The phone could not be reached. Please try again in a moment.",
    "cancelled": "The sign-in request was cancelled.",
    "cancelled_from_qr": "The sign-in request was cancelled on the phone that scanned the code.",
    "replayed": "This sign-in request has already been used.",
    "not_yours": "This sign-in request belongs to another browser. Start a new sign-in here.",
    "not_found": "This sign-in request does not exist or has ended.",
    "assertion_failed": "The passkey could not confirm it was you. Use this phone's fingerprint or face and try again.",
    "match_code_required": "Pick the code shown on the sign-in screen first.",
}
