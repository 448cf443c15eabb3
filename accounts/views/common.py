import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from accounts.services import RateLimited


def read_json(request: HttpRequest) -> dict | None:
    """The JSON object in the body, or None for anything else (never a 500)."""
    if len(request.body) > 64 * 1024:
        return None
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def json_error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"ok": False, "error": code, "message": message}, status=status)


def rate_limited_page(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    response = render(
        request, "accounts/rate_limited.html", {"message": exc.message, "retry_after": exc.retry_after}, status=429
    )
    response["Retry-After"] = str(exc.retry_after)
    return response


def ended_page(request: HttpRequest, *, title: str, message: str, status: int = 200) -> HttpResponse:
    return render(request, "accounts/ended.html", {"title": title, "message": message}, status=status)
