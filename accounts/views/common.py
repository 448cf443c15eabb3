from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

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


def rate_limited_page(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    response = render(
        request, "accounts/rate_limited.html", {"message": exc.message, "retry_after": exc.retry_after}, status=429
    )
    response["Retry-After"] = str(exc.retry_after)
    return response


def ended_page(request: HttpRequest, *, title: str, message: str, status: int = 200) -> HttpResponse:
    return render(request, "accounts/ended.html", {"title": title, "message": message}, status=status)
