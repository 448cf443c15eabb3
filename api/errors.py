"""One exception handler for the API: the v1 envelope, or the add-in's shapes on the compatibility routes.

v1:     {"success": false, "error": CODE, "message", "details", "timestamp", "requestId"}
compat: {"success": false, "error": {"detail": message, "code": CODE}}
Anything unexpected becomes a logged 500 INTERNAL_SERVER_ERROR with the request id, never a trace.
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.response import Response

from documents.errors import NotSendable

logger = logging.getLogger("docuid.api")


class ApiError(exceptions.APIException):
    """An API refusal with a contract error code."""

    def __init__(self, status_code: int, code: str, message: str, details: dict | None = None, *, retry_after: int = 0):
        super().__init__(message)
        self.retry_after = retry_after
        self.status_code = status_code
        self.error_code = code
        self.message = message
        self.details = details or {}


def not_found(message: str = "No such document, or you may not see it.") -> ApiError:
    return ApiError(404, "DOCUMENT_NOT_FOUND", message)


_CODES = {
    exceptions.NotAuthenticated: "INVALID_TOKEN",
    exceptions.AuthenticationFailed: "INVALID_TOKEN",
    exceptions.PermissionDenied: "INSUFFICIENT_PERMISSIONS",
    exceptions.NotFound: "DOCUMENT_NOT_FOUND",
    exceptions.ParseError: "VALIDATION_ERROR",
    exceptions.ValidationError: "VALIDATION_ERROR",
    exceptions.UnsupportedMediaType: "UNSUPPORTED_FORMAT",
    exceptions.MethodNotAllowed: "VALIDATION_ERROR",
    exceptions.NotAcceptable: "UNSUPPORTED_FORMAT",
    exceptions.Throttled: "RATE_LIMIT_EXCEEDED",
}


def _describe(exc) -> tuple[int, str, str, dict]:
    if isinstance(exc, ApiError):
        return exc.status_code, exc.error_code, exc.message, exc.details
    if isinstance(exc, NotSendable):
        return exc.status, exc.code, exc.message, {}
    if isinstance(exc, RequestDataTooBig):
        return 400, "VALIDATION_ERROR", "The request body is too large.", {"body": ["The request body is too large."]}
    if isinstance(exc, Http404):
        return 404, "DOCUMENT_NOT_FOUND", "Not found.", {}
    if isinstance(exc, DjangoPermissionDenied):
        return 403, "INSUFFICIENT_PERMISSIONS", "You may not do this.", {}
    if isinstance(exc, exceptions.Throttled):
        return 429, "RATE_LIMIT_EXCEEDED", f"Too many requests. Try again in {exc.wait or 1:.0f} seconds.", {}
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return 400, "VALIDATION_ERROR", "The request is not valid; see details.", details
    if isinstance(exc, exceptions.APIException):
        code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), "VALIDATION_ERROR")
        return exc.status_code, code, str(exc.detail), {}
    return 500, "INTERNAL_SERVER_ERROR", "Something went wrong on our side. Quote the request id to support.", {}


def error_body(request, *, status_code: int, code: str, message: str, details: dict, style: str) -> dict:
    if style == "compat":
        return {"success": False, "error": {"detail": message, "code": code}}
    return {
        "success": False,
        "error": code,
        "message": message,
        "details": details,
        "timestamp": timezone.now().isoformat(),
        "requestId": getattr(getattr(request, "_request", request), "request_id", ""),
    }


def exception_handler(exc, context) -> Response:
    view = context.get("view")
    request = context.get("request")
    status_code, code, message, details = _describe(exc)
    if status_code >= 500:
        logger.exception("unhandled API error in %s", type(view).__name__ if view else "?", exc_info=exc)
    style = getattr(view, "error_style", "v1")
    body = error_body(request, status_code=status_code, code=code, message=message, details=details, style=style)
    if status_code == status.HTTP_401_UNAUTHORIZED and getattr(view, "compat_unauthenticated_body", None):
        body = dict(view.compat_unauthenticated_body)
    headers = {}
    if isinstance(exc, NotSendable) and exc.retry_after:
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
    if isinstance(exc, ApiError) and exc.retry_after:
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed) or status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="docuid"'
    return Response(body, status=status_code, headers=headers)
