"""JSON request bodies are bounded in depth and size: a deeply nested body is a 400, never a 500 (issue #12 F4)."""

import logging

import pytest
from django.core.cache import cache

from accounts.context import ClientContext
from accounts.services.api_tokens import api_client_create, api_token_issue
from docuid.json_parsing import MAX_DEPTH, JSONBodyError, parse_json
from tests.factories import UserFactory

# The attack as reported: about 6 KB, nested 1,000 deep (RecursionError in json.loads).
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000
DEEP_ARRAY = "[" * 3000 + "]" * 3000


def nested(depth: int) -> str:
    return '{"a":' * (depth - 1) + "[]" + "}" * (depth - 1)


@pytest.fixture
def error_logs():
    """Every record at ERROR or above, from any logger (django.request does not propagate to the root)."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Collect(level=logging.ERROR)
    loggers = [logging.getLogger(name) for name in ("", "django", "django.request", "django.security", "docuid")]
    for each in loggers:
        each.addHandler(handler)
    yield records
    for each in loggers:
        each.removeHandler(handler)


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "json"}}
    settings.DOCUID_NOTIFIERS = []
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_key(db):
    return api_client_create(name="Office add-in", origins=["https://addin.example.com"])[1]


def post(client, path, body, **headers):
    return client.post(path, body, content_type="application/json", headers=headers)


# --- the parser ---------------------------------------------------------------------------


def test_a_body_nested_to_the_limit_parses():
    assert parse_json(nested(MAX_DEPTH)) is not None


@pytest.mark.parametrize("body", [nested(MAX_DEPTH + 1), DEEP_OBJECT, DEEP_ARRAY, DEEP_ARRAY.encode()])
def test_a_body_nested_past_the_limit_is_refused_as_too_deep(body):
    with pytest.raises(JSONBodyError) as refused:
        parse_json(body)
    assert refused.value.reason == "too_deep"


def test_a_body_past_the_size_limit_is_refused_before_parsing():
    with pytest.raises(JSONBodyError) as refused:
        parse_json(b'"' + b"x" * 100 + b'"', max_bytes=50)
    assert refused.value.reason == "too_large"


@pytest.mark.parametrize("body", [b"{", b"\xff\xfe\xfa", b"NaN", b'{"a": Infinity}', b""])
def test_what_is_not_json_is_refused_as_malformed(body):
    with pytest.raises(JSONBodyError) as refused:
        parse_json(body)
    assert refused.value.reason == "malformed"


# --- the API: 400 VALIDATION_ERROR in the documented envelope ------------------------------


def assert_v1_validation_error(response):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["success"] is False
    assert body["error"] == "VALIDATION_ERROR"
    assert {"message", "details", "timestamp", "requestId"} <= body.keys()


@pytest.mark.django_db
@pytest.mark.parametrize("deep", [DEEP_OBJECT, DEEP_ARRAY])
def test_an_anonymous_deep_body_to_refresh_is_a_400(client, api_key, error_logs, deep):
    assert_v1_validation_error(post(client, "/api/v1/auth/refresh", deep, **{"x-api-key": api_key}))
    assert not error_logs


@pytest.mark.django_db
def test_a_deep_body_to_refresh_without_an_api_key_is_a_400(client, error_logs):
    assert_v1_validation_error(post(client, "/api/v1/auth/refresh", DEEP_OBJECT))
    assert not error_logs


@pytest.mark.django_db
def test_a_deep_body_to_login_is_a_400(client, api_key, error_logs):
    assert_v1_validation_error(post(client, "/api/v1/auth/login", DEEP_OBJECT, **{"x-api-key": api_key}))
    assert not error_logs


@pytest.mark.django_db
def test_a_deep_body_to_search_is_a_400(client, api_key, error_logs):
    token = api_token_issue(user=UserFactory(), client=None, client_context=ClientContext(), method="test")
    headers = {"x-api-key": api_key, "Authorization": f"Bearer {token.access_token}"}
    assert_v1_validation_error(post(client, "/api/v1/documents/search", DEEP_OBJECT, **headers))
    # Deep inside an otherwise valid search: the filters object.
    search = '{"query": "x", "filters": ' + nested(MAX_DEPTH + 5) + "}"
    assert_v1_validation_error(post(client, "/api/v1/documents/search", search, **headers))
    assert not error_logs


@pytest.mark.django_db
def test_a_deep_body_to_the_add_in_api_is_a_400_in_its_own_envelope(client, api_key, error_logs):
    response = post(client, "/api/biometric/auth-request", DEEP_OBJECT, **{"x-api-key": api_key})
    assert response.status_code == 400
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert not error_logs


# --- the web JSON endpoints: 400 in their own {"ok": false, "error", "message"} shape -------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/login/passkey/complete", "/approve/not-a-real-token/verify", "/approve/not-a-real-token/push"]
)
@pytest.mark.parametrize("deep", [DEEP_OBJECT, DEEP_ARRAY])
def test_a_deep_body_to_a_web_json_endpoint_is_a_400(client, error_logs, path, deep):
    response = post(client, path, deep)
    assert response.status_code == 400, response.content
    assert response.json() == {"ok": False, "error": "malformed", "message": "The request was not understood."}
    assert not error_logs


# --- the Alertmanager webhook ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_deep_body_to_the_alertmanager_webhook_is_a_400(client, settings, error_logs):
    settings.DOCUID_ALERTMANAGER_WEBHOOK_TOKEN = "webhook-token-for-the-json-depth-test"
    response = post(
        client, "/ops/alertmanager/webhook", DEEP_OBJECT, Authorization="Bearer webhook-token-for-the-json-depth-test"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"
    assert not error_logs
