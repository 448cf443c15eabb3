"""A file that may not leave as asked is refused with a page that says why, never a 500.

documents.http.file_response raises errors.NotSendable from any page that sends a file
(open, download, share links, the admin's download): a confidential PDF that cannot be
stamped (422), a confidential Office original whose stamped PDF is not made yet (409).
The API answers them in its own envelope (api/errors.py), before this middleware would.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from documents.errors import NotSendable


class NotSendableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, NotSendable):
            return None
        context = {
            "status": exception.status,
            "title": exception.title,
            "message": exception.message,
            "request_id": getattr(request, "request_id", ""),
        }
        response = render(request, "error.html", context, status=exception.status)
        if exception.retry_after:
            response["Retry-After"] = str(exception.retry_after)
        return response
