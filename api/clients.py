"""The API client behind a request (x-api-key), looked up once per request."""

from django.conf import settings
from rest_framework.permissions import BasePermission

from accounts.services.api_tokens import api_client_from_key
from api.errors import ApiError

_UNSET = object()


def request_client(request):
    """The active ApiClient for the request's x-api-key, or None; cached on the request."""
    django_request = getattr(request, "_request", request)
    cached = getattr(django_request, "_docuid_api_client", _UNSET)
    if cached is _UNSET:
        cached = api_client_from_key(django_request.headers.get("x-api-key"))
        django_request._docuid_api_client = cached
    return cached


class HasApiKey(BasePermission):
    """The biometric endpoints need a valid x-api-key (unless DOCUID_API_REQUIRE_KEY=0)."""

    message = "A valid x-api-key header is required (missing, unknown or revoked key)."

    def has_permission(self, request, view) -> bool:
        if request_client(request) is not None:
            return True
        # A key that was sent but is wrong is refused even when keys are optional.
        if not settings.DOCUID_API_REQUIRE_KEY and not request.headers.get("x-api-key"):
            return True
        raise ApiError(401, "INVALID_TOKEN", self.message)
