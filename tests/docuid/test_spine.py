"""Issue #16 item 5: the lean request spine keeps every guarantee of the one it replaced.

The CSP header is built once but equals django-csp's own policy (and still honours a
response's own policy, decorators and nonces); CORS answers only under /api/; the session
layers run only with a session cookie (and then still end an idle session); the access
line skips the masking regexes but can carry no PII; metric children are bound once and
the metrics still count. Each "skipped" claim is checked by making the skipped work fail.
"""

import json
import logging

import pytest
from csp.constants import NONCE
from csp.utils import build_policy
from django.http import HttpResponse
from django.test import Client, RequestFactory

from accounts.middleware import SESSION_LAST_SEEN_KEY
from docuid import logging as docuid_logging
from docuid import metrics
from docuid import middleware as spine
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ORIGIN = "https://addin.example.com"


@pytest.fixture(autouse=True)
def _fresh_policy():
    spine.ContentSecurityPolicyMiddleware._built = None
    yield
    spine.ContentSecurityPolicyMiddleware._built = None


# --- CSP --------------------------------------------------------------------------------


def test_the_precomputed_header_is_django_csps_policy(client):
    response = client.get("/healthz")
    assert response["Content-Security-Policy"] == build_policy()
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_the_policy_is_built_once_not_per_response(client, monkeypatch):
    client.get("/healthz")

    def refuse(*args, **kwargs):
        raise AssertionError("the policy was rebuilt for a response")

    monkeypatch.setattr(spine, "build_policy", refuse)
    for _ in range(3):
        assert "default-src 'self'" in client.get("/healthz")["Content-Security-Policy"]


def test_a_changed_policy_setting_is_picked_up(client, settings):
    client.get("/healthz")
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    assert client.get("/healthz")["Content-Security-Policy"] == "default-src 'none'"


def _through_csp(view, request=None):
    request = request or RequestFactory().get("/somewhere")
    middleware = spine.ContentSecurityPolicyMiddleware(view)
    return middleware(request)


def test_a_response_with_its_own_policy_keeps_it():
    def inline_pdf(request):
        response = HttpResponse(b"%PDF")
        response["Content-Security-Policy"] = "default-src 'none'; plugin-types application/pdf"
        return response

    assert _through_csp(inline_pdf)["Content-Security-Policy"] == "default-src 'none'; plugin-types application/pdf"


def test_a_per_response_update_still_goes_through_django_csp():
    def view(request):
        response = HttpResponse("ok")
        response._csp_update = {"img-src": ["https://images.example.com"]}
        return response

    header = _through_csp(view)["Content-Security-Policy"]
    assert "https://images.example.com" in header
    assert "default-src 'self'" in header


def test_an_exempt_response_gets_no_policy():
    def view(request):
        response = HttpResponse("ok")
        response._csp_exempt = True
        return response

    assert "Content-Security-Policy" not in _through_csp(view)


def test_a_nonce_used_by_the_page_is_in_its_header_and_fresh_per_request(settings):
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'self'"], "script-src": ["'self'", NONCE]}}
    seen = []

    def view(request):
        seen.append(str(request.csp_nonce))
        return HttpResponse(f"<script nonce='{seen[-1]}'></script>")

    headers = []
    for _ in range(2):
        request = RequestFactory().get("/page")
        middleware = spine.ContentSecurityPolicyMiddleware(view)
        middleware.process_request(request)
        headers.append(middleware(request)["Content-Security-Policy"])
    assert seen[0] != seen[1]
    assert f"'nonce-{seen[0]}'" in headers[0]
    assert f"'nonce-{seen[1]}'" in headers[1]


def test_without_a_nonce_the_sentinel_is_dropped_as_django_csp_does(settings, client):
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'self'"], "script-src": ["'self'", NONCE]}}
    header = client.get("/healthz")["Content-Security-Policy"]
    assert header == build_policy()
    assert "nonce" not in header


def test_a_nonce_asked_for_after_the_header_is_written_is_an_error():
    from csp.exceptions import CSPNonceError

    request = RequestFactory().get("/page")
    middleware = spine.ContentSecurityPolicyMiddleware(lambda r: HttpResponse("ok"))
    middleware.process_request(request)
    middleware(request)
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)


# --- CORS only under /api/ ----------------------------------------------------------


@pytest.fixture
def addin_client(db):
    from accounts.services.api_tokens import api_client_create

    api_client_create(name="Office add-in", origins=[ORIGIN])
    return Client()


def test_an_api_preflight_from_a_registered_origin_is_answered(addin_client):
    response = addin_client.options(
        "/api/v1/documents",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"},
    )
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert response["Access-Control-Allow-Credentials"] == "true"


def test_an_unregistered_origin_gets_no_cors_headers(addin_client):
    response = addin_client.options(
        "/api/v1/documents",
        headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "GET"},
    )
    assert "Access-Control-Allow-Origin" not in response


def test_pages_outside_the_api_never_reach_the_cors_layer(addin_client, monkeypatch):
    def refuse(self, request):
        raise AssertionError("CORS ran outside /api/")

    monkeypatch.setattr(spine.CorsMiddleware, "__call__", refuse)
    response = Client().get("/healthz", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response


# --- Session layers only with a session cookie -----------------------------------------


def test_a_request_without_a_session_cookie_skips_otp_and_session_activity():
    calls = []
    middleware = spine.SessionLayersMiddleware(lambda request: HttpResponse("ok"))
    middleware.layers = lambda request: calls.append(request) or HttpResponse("layers")
    assert middleware(RequestFactory().get("/api/v1/documents")).content == b"ok"
    assert calls == []
    with_cookie = RequestFactory().get("/documents/")
    with_cookie.COOKIES["sessionid"] = "x"
    assert middleware(with_cookie).content == b"layers"


def test_an_idle_session_still_ends(client, settings):
    from django.utils import timezone

    user = UserFactory()
    client.force_login(user)
    session = client.session
    session[SESSION_LAST_SEEN_KEY] = timezone.now().timestamp() - settings.DOCUID_SESSION_IDLE_SECONDS - 5
    session.save()
    response = client.get("/documents/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_a_signed_in_request_still_gets_the_otp_accessors(client):
    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware

    client.force_login(UserFactory())
    seen = {}

    def view(request):
        seen["verified"] = request.user.is_verified()
        return HttpResponse("ok")

    request = RequestFactory().get("/documents/")
    request.COOKIES["sessionid"] = client.cookies["sessionid"].value
    SessionMiddleware(view).process_request(request)
    AuthenticationMiddleware(view).process_request(request)
    spine.SessionLayersMiddleware(view)(request)
    assert seen["verified"] is False  # signed in without a verified device, as django-otp says


# --- Access log and metrics --------------------------------------------------------------


@pytest.fixture
def access_lines():
    """The access log lines as production writes them (the JSON formatter and both filters)."""
    import io

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(docuid_logging.RequestContextFilter())
    handler.addFilter(docuid_logging.PIIMaskingFilter())
    handler.setFormatter(docuid_logging.JsonFormatter())
    logger = logging.getLogger("docuid.request")
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def test_the_access_line_skips_the_masking_regexes_and_holds_no_pii(client, access_lines, monkeypatch):
    def refuse(text):
        raise AssertionError(f"mask_pii ran on the access line: {text!r}")

    monkeypatch.setattr(docuid_logging, "mask_pii", refuse)
    response = client.get("/healthz?phone=%2B12025550123&email=ada%40example.com")
    assert response.status_code == 200
    (line,) = access_lines()
    assert {k: line[k] for k in ("method", "route", "status", "user_id")} == {
        "method": "GET",
        "route": "healthz",
        "status": 200,
        "user_id": "-",
    }
    assert line["request_id"] == response["X-Request-ID"] and len(line["request_id"]) == 32
    text = json.dumps(line)
    assert "2025550123" not in text and "example.com" not in text


def test_an_invented_method_is_logged_and_counted_as_other(client, access_lines):
    response = client.generic("+12025550123", "/healthz")
    assert response.status_code == 405
    (line,) = access_lines()
    assert line["method"] == "other"
    assert "2025550123" not in json.dumps(line)


def test_other_log_lines_are_still_masked(access_lines):
    logging.getLogger("docuid.request").info("call me on +1 202 555 0123", extra={"mail": "ada@example.com"})
    (line,) = access_lines()
    assert "555 0123" not in line["message"] and "ada@example.com" not in json.dumps(line)


def _sample(name: str, labels: dict) -> float:
    import prometheus_client

    return prometheus_client.REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_still_count_with_children_bound_once(client, monkeypatch):
    labels = {"method": "GET", "route": "healthz", "status": "2xx"}
    client.get("/healthz")  # binds the children
    latency_before = _sample("api_latency_ms_count", labels)
    by_status_before = _sample("django_http_responses_total_by_status_total", {"status": "200"})

    def refuse(*args, **kwargs):
        raise AssertionError("a label lookup on a request whose labels were already bound")

    monkeypatch.setattr(metrics.api_latency_ms, "labels", refuse)
    after = spine.PrometheusAfterMiddleware.metrics_cls.get_instance()
    monkeypatch.setattr(after.responses_by_status, "labels", refuse)
    for _ in range(2):
        assert client.get("/healthz").status_code == 200
    assert _sample("api_latency_ms_count", labels) == latency_before + 2
    assert _sample("django_http_responses_total_by_status_total", {"status": "200"}) == by_status_before + 2


@pytest.mark.parametrize(
    "extra",
    [
        {"method": "GET", "route": "documents:list", "status": 200, "duration_ms": 1.23, "_pii_masked": True},
        {"text": 'é ü \u2028 "quoted"', "nothing": None, "flag": True, "ratio": 3.0, "big": 10**20},
        {"nested": {"k": "v"}, "items": [1, 2]},  # not plain: the library's own path
        {},
    ],
)
def test_the_direct_json_line_is_the_librarys_line(extra):
    """JsonFormatter builds the common line itself; it must be byte for byte python-json-logger's."""
    from pythonjsonlogger.json import JsonFormatter as LibraryFormatter

    formatter = docuid_logging.JsonFormatter()

    def record():
        made = logging.LogRecord("docuid.request", logging.INFO, __file__, 1, "%s %s", ("GET", 200), None)
        made.created = 1765000000.123456
        made.__dict__.update(extra)
        docuid_logging.RequestContextFilter().filter(made)
        docuid_logging.PIIMaskingFilter().filter(made)
        return made

    assert formatter.format(record()) == LibraryFormatter.format(formatter, record())
