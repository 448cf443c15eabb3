"""Answer 503 with a static page while a restore replaces the database and files."""

from django.http import HttpRequest, HttpResponse
from django.template import loader

from operations.maintenance import maintenance_active

# Probes and metrics keep working so the load balancer and on-call see what is happening;
# static files so the page has its stylesheet.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
EXEMPT_PREFIXES = ("/static/",)
RETRY_AFTER_SECONDS = 120


class MaintenanceModeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path in EXEMPT_PATHS or request.path.startswith(EXEMPT_PREFIXES) or not maintenance_active():
            return self.get_response(request)
        # Rendered without a request: no context processors, so nothing touches the database.
        body = loader.get_template("operations/maintenance.html").render({})
        response = HttpResponse(body, status=503, content_type="text/html; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response["Cache-Control"] = "no-store"
        return response
