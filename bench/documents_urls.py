"""The real URLs plus /bench/baseline: a bare Django JSON view behind the same middleware."""

from django.http import JsonResponse
from django.urls import path

from docuid.urls import *  # noqa: F403
from docuid.urls import urlpatterns as _urlpatterns


def baseline(request):
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/baseline", baseline), *_urlpatterns]
