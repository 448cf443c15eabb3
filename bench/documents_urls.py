"""The real URLs plus bench-only views; served only under the bench settings, never by docuid.urls.

- /bench/baseline: a bare Django JSON view behind the same middleware.
- /bench/open-plain/<kind>/<pk>/: the real inline open (documents.views.document_open),
  its audit event written into a plain table instead of the trail (bench/audit_plain.py;
  kind "insert": one plain INSERT, "record": audit.record() into the plain table), for
  bench/audit_open.py's comparison.
"""

from django.http import JsonResponse
from django.urls import path

from bench.audit_plain import plain_audit
from docuid.urls import *  # noqa: F403
from docuid.urls import urlpatterns as _urlpatterns
from documents.views import document_open


def baseline(request):
    return JsonResponse({"ok": True})


def open_plain(request, kind: str, pk: int):
    with plain_audit(kind):
        return document_open(request, pk)


urlpatterns = [
    path("bench/baseline", baseline),
    path("bench/open-plain/<str:kind>/<int:pk>/", open_plain),
    *_urlpatterns,
]
