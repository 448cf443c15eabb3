"""A confidential PDF that cannot be stamped is refused with a page that says why, never a 500.

documents.http.file_response raises watermark.WatermarkError from any page that sends a
file (open, download, share links, the admin's download); the API answers it in its own
envelope (api/errors.py), before this middleware would see it.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from documents.watermark import WatermarkError


class WatermarkErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, WatermarkError):
            return None
        context = {
            "status": exception.status,
            "title": exception.title,
            "message": exception.message,
            "request_id": getattr(request, "request_id", ""),
        }
        return render(request, "error.html", context, status=exception.status)
