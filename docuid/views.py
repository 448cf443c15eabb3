"""Home page, the favicon and error pages (request id shown, never a stack trace)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("documents:list")
    return render(request, "home.html")


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages that name no icon (error pages among them).

    A temporary, uncached redirect: the static name carries a content hash that changes
    with the icon, and the old name is gone after the next deploy.
    """
    return redirect(static("favicon.svg"))


def _error(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    context = {"status": status, "title": title, "message": message, "request_id": getattr(request, "request_id", "")}
    return render(request, "error.html", context, status=status)


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    return _error(request, 400, "Bad request", "The request could not be understood. Please check it and try again.")


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return _error(request, 403, "Not allowed", "You do not have permission to do that.")


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return _error(request, 404, "Not found", "There is nothing here, or you do not have access to it.")


def server_error(request: HttpRequest) -> HttpResponse:
    return _error(request, 500, "Something went wrong", "The error has been logged. Please try again in a moment.")
