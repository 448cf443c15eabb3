from datetime import timedelta

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.services import RateLimited
from docuid.json_parsing import JSONBodyError, parse_json


def read_json(request: HttpRequest) -> dict | None:
    """The JSON object in the body, or None for anything else (never a 500): too large, too deep, not JSON."""
    try:
        data = parse_json(request.body or b"null")
    except JSONBodyError:
        return None
    return data if isinstance(data, dict) else None


def json_error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"ok": False, "error": code, "message": message}, status=status)


def wait_in_words(seconds: int) -> str:
    """45 → "45 seconds", 400 → "7 minutes", 7300 → "2 hours 2 minutes": rounded up, never promising too early."""
    seconds = max(1, int(seconds))
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} hours" + (f" {minutes} minute{'s' if minutes != 1 else ''}" if minutes else "")


def rate_limited_page(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    context = {
        "message": exc.message,
        "retry_after": exc.retry_after,
        "wait_words": wait_in_words(exc.retry_after),
        "retry_at": timezone.now() + timedelta(seconds=exc.retry_after),
    }
    response = render(request, "accounts/rate_limited.html", context, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


def ended_page(request: HttpRequest, *, title: str, message: str, status: int = 200) -> HttpResponse:
    return render(request, "accounts/ended.html", {"title": title, "message": message}, status=status)


def confirmed(request: HttpRequest) -> bool:
    """A destructive POST goes through only with the confirmation page's (or dialog's) `confirm=yes`."""
    return request.method == "POST" and request.POST.get("confirm") == "yes"


def confirm_page(request: HttpRequest, *, title: str, message: str, action: str, back: str) -> HttpResponse:
    """Where a destructive button leads without JavaScript (static/js/confirm.js asks in a dialog instead)."""
    context = {"title": title, "message": message, "action": action, "back": back}
    return render(request, "accounts/confirm.html", context)
