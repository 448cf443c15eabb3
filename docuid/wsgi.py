"""WSGI entry point (gunicorn docuid.wsgi -c deploy/gunicorn.conf.py).

Django turns a view's exception into its 500 page, but an exception it cannot turn
into a page (the 500 handler failing too, e.g. a missing staticfiles manifest entry
while rendering it) escapes Django entirely: gunicorn answered its own 500 and no
access line, no `api_latency_ms` sample and so no `error_rate_5xx` ever saw it.
`ErrorAccountingApp` is the outermost layer: it catches what escapes, answers a
plain 500 page, writes the access line and counts the request like
docuid.middleware.LatencyMiddleware does.
"""

import logging
import os
import sys
import time

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docuid.settings")

access_log = logging.getLogger("docuid.request")

# No template, no static file, no database: it must render whatever else is broken.
ERROR_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Server error</title>"
    "<h1>Something went wrong</h1><p>The error has been logged. Please try again in a moment.</p>"
    "<p>Request id: <code>{request_id}</code></p></html>\n"
)


def _route(path: str) -> str:
    """The URL name of `path` (a fixed set of label values), or "unmatched"."""
    from django.urls import resolve

    try:
        return resolve(path).view_name or "unnamed"
    except Exception:  # noqa: BLE001 — Resolver404, or a broken URLconf that must not hide the original error
        return "unmatched"


class ErrorAccountingApp:
    """Outermost WSGI layer: an exception escaping Django becomes a counted, logged plain 500."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        try:
            return self.app(environ, start_response)
        except Exception:  # noqa: BLE001 — anything that escaped Django's own handling
            return self._server_error(environ, start_response, started, sys.exc_info())

    def _server_error(self, environ, start_response, started: float, exc_info):
        from docuid.metrics import observe_request
        from docuid.request_context import clean_request_id, request_id_var

        duration_ms = (time.perf_counter() - started) * 1000
        method = environ.get("REQUEST_METHOD", "GET")
        route = _route(environ.get("PATH_INFO", "/"))
        request_id = clean_request_id(environ.get("HTTP_X_REQUEST_ID"))
        token = request_id_var.set(request_id)
        try:
            observe_request(method=method, route=route, status_code=500, duration_ms=duration_ms)
            access_log.error(
                "%s %s %s",
                method,
                route,
                500,
                exc_info=exc_info,
                extra={
                    "method": method,
                    "route": route,
                    "status": 500,
                    "duration_ms": round(duration_ms, 2),
                    "unhandled": True,
                },
            )
        except Exception:  # noqa: BLE001, S110 — accounting must never stop the 500 page itself
            pass
        finally:
            request_id_var.reset(token)
        body = ERROR_PAGE.format(request_id=request_id).encode()
        headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Request-ID", request_id),
        ]
        start_response("500 Internal Server Error", headers, exc_info)
        return [body]


application = ErrorAccountingApp(get_wsgi_application())
