from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict:
    return {
        "DOCUID_VERSION": settings.DOCUID_VERSION,
        "request_id": getattr(request, "request_id", ""),
    }
