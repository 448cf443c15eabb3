"""Who is calling: an API token as `Authorization: Bearer` or as the add-in's HttpOnly `token` cookie."""

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts.services.api_tokens import api_client_from_key, api_token_authenticate
from api.clients import request_client

TOKEN_COOKIE = "token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def verified_token(request, raw: str | None):
    """The live ApiToken for `raw` (or None), looked up once per request: the throttle asks first."""
    django_request = getattr(request, "_request", request)
    seen = django_request.__dict__.setdefault("_docuid_api_tokens", {})
    if raw not in seen:
        seen[raw] = api_token_authenticate(access_token=raw)
    return seen[raw]


def request_token(request):
    """The live token the request carries, as the authentication classes would find it, or None.

    A Bearer header is the credential when present (a bad one is not replaced by the cookie).
    """
    parts = get_authorization_header(request).split()
    if parts and parts[0].lower() == BearerTokenAuthentication.keyword:
        try:
            raw = parts[1].decode("ascii") if len(parts) == 2 else None
        except UnicodeDecodeError:
            raw = None
        return verified_token(request, raw) if raw else None
    raw = request.COOKIES.get(TOKEN_COOKIE)
    return verified_token(request, raw) if raw else None


class BearerTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("The Authorization header must be 'Bearer <token>'.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token is invalid, expired or revoked.") from None
        token = verified_token(request, raw)
        if token is None:
            raise exceptions.AuthenticationFailed("The token is invalid, expired or revoked.")
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="docuid"'


class CookieTokenAuthentication(BaseAuthentication):
    """The add-in's `token` cookie (SameSite=None, so it rides on cross-site requests too).

    A cookie is sent by the browser whoever wrote the page, so a state-changing call
    authenticated by it must also carry the x-api-key of an active client whose allowed
    origins include the request's Origin. A cross-site form cannot set that header, and
    a script on another origin cannot send it without passing our CORS preflight.
    """

    def authenticate(self, request):
        raw = request.COOKIES.get(TOKEN_COOKIE)
        if not raw:
            return None
        token = verified_token(request, raw)
        if token is None:
            raise exceptions.AuthenticationFailed("The token is invalid, expired or revoked.")
        if request.method not in SAFE_METHODS:
            self._enforce_origin(request)
        return token.user, token

    @staticmethod
    def _enforce_origin(request) -> None:
        client = request_client(request)
        if client is None:
            client = api_client_from_key(request.headers.get("x-api-key"))
        origin = request.headers.get("Origin", "").rstrip("/")
        if client is None or (origin and origin not in client.origins):
            raise exceptions.PermissionDenied(
                "A cookie-authenticated change needs the x-api-key of an API client registered for this origin."
            )

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="docuid"'
