"""The outermost WSGI layer: a 500 that escapes Django is answered, logged and counted."""

import json
from wsgiref.util import setup_testing_defaults

import pytest
from django.test import override_settings
from prometheus_client import REGISTRY

from docuid.wsgi import ErrorAccountingApp, application

MANIFEST_STORAGE = {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}


def call(app, path: str, **environ) -> tuple[str, dict, bytes]:
    env = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "SERVER_NAME": "testserver", **environ}
    setup_testing_defaults(env)
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app(env, start_response))
    return seen["status"], seen["headers"], body


def errors_5xx(route: str) -> float:
    return REGISTRY.get_sample_value("api_latency_ms_count", {"method": "GET", "route": route, "status": "5xx"}) or 0


def _storages() -> dict:
    from django.conf import settings

    return dict(settings.STORAGES)


def access_lines(handler) -> list[dict]:
    lines = [json.loads(line) for line in handler.stream.getvalue().splitlines()]
    return [line for line in lines if line["logger"] == "docuid.request"]


@pytest.mark.django_db
def test_a_missing_staticfiles_manifest_entry_is_a_counted_logged_plain_500(tmp_path, no_pii_in_logs):
    # The production incident: DEBUG=0, the manifest storage, no collectstatic. Every page's
    # template fails on {% static %}, and so does the 500 page: the error escapes Django.
    before = errors_5xx("home")
    with override_settings(STORAGES={**_storages(), "staticfiles": MANIFEST_STORAGE}, STATIC_ROOT=tmp_path):
        status, headers, body = call(application, "/", HTTP_X_REQUEST_ID="req-escaped-500")
    assert status.startswith("500")
    assert headers["Content-Type"].startswith("text/html")
    assert headers["X-Request-ID"] == "req-escaped-500"
    assert b"Something went wrong" in body and b"req-escaped-500" in body
    assert b"Traceback" not in body and b"manifest" not in body
    assert errors_5xx("home") == before + 1
    [line] = [line for line in access_lines(no_pii_in_logs) if line.get("unhandled")]
    assert line["level"] == "ERROR" and line["status"] == 500 and line["route"] == "home"
    assert line["request_id"] == "req-escaped-500"
    assert "Missing staticfiles manifest entry" in line["exception"]


def test_an_exception_from_any_inner_app_is_caught_with_an_unmatched_route(no_pii_in_logs):
    def broken(environ, start_response):
        raise RuntimeError("boom for +12025550123")

    before = errors_5xx("unmatched")
    status, _, _ = call(ErrorAccountingApp(broken), "/no/such/page")
    assert status.startswith("500")
    assert errors_5xx("unmatched") == before + 1
    [line] = access_lines(no_pii_in_logs)
    assert "12025550123" not in line["exception"]  # the traceback is masked like every line


def test_a_normal_response_passes_through_untouched(db):
    status, _, body = call(application, "/healthz")
    assert status.startswith("200")
    assert json.loads(body)["status"] == "ok"
