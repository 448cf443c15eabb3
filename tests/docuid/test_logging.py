"""PII masking, the JSON log line and the request id.

This module is also the URLconf of the tests that need a view which logs what it
was sent or raises (`@pytest.mark.urls(__name__)`).
"""

import io
import json
import logging
import time
from datetime import datetime

import pytest
from django.http import HttpResponse
from django.urls import include, path

from docuid.logging import mask_pii, mask_value
from docuid.request_context import clean_request_id
from tests.factories import UserFactory

PHONE = "+12025550123"
view_log = logging.getLogger("docuid.tests.view")


# --- A test-only URLconf --------------------------------------------------------------


def echo_and_log(request):
    # The kind of line a careless view writes: the whole URL and the raw body.
    view_log.error("could not process %s with body %s", request.get_full_path(), request.body.decode())
    return HttpResponse("logged")


def explode(request):
    raise ValueError(f"lookup failed for {request.GET.get('mobile')} / {request.GET.get('email')}")


urlpatterns = [
    path("test/echo", echo_and_log, name="test-echo"),
    path("test/explode", explode, name="test-explode"),
    path("", include("docuid.urls")),
]
handler404 = "docuid.views.page_not_found"
handler500 = "docuid.views.server_error"


def log_lines(handler) -> list[dict]:
    return [json.loads(line) for line in handler.stream.getvalue().splitlines() if line.strip()]


# --- mask_pii: what must disappear --------------------------------------------------

# (text, the part that must not survive, the masked form that must appear)
PII_CASES = [
    ("+12025550123", "2025550123", "+*******0123"),
    ("12025550123", "2025550123", "*******0123"),
    ("call 2025550123 now", "2025550123", "******0123"),
    ("(202) 555-0123", "555-0123", "******0123"),
    ("202.555.0123", "555.0123", "******0123"),
    ("202 555 0123", "555 0123", "******0123"),
    ("202-555-0123", "555-0123", "******0123"),
    ("+1 (202) 555-0123", "555-0123", "+*******0123"),
    ("+1-202-555-0123", "555-0123", "+*******0123"),
    ("+44 20 7946 0958", "7946 0958", "+********0958"),
    ("00 44 20 7946 0958", "7946 0958", "+**********0958"),
    ("0044 20 7946 0958", "7946 0958", "+**********0958"),
    ("+33 6 12 34 56 78", "12 34 56", "+*******5678"),
    ("07700 900123", "07700", "*******0123"),
    ("tel:+1 202 555 0123", "202 555", "+*******0123"),
    ("mobile=%2B12025550123&x=1", "2025550123", "%2B*******0123"),
    ("mobile=%2b1%20202%20555%200123", "202%20555", "%2b*******0123"),
    ("phone=202+555+0123", "202+555", "******0123"),
    ('{"mobile": "+12025550123", "requestFrom": "DocuID"}', "2025550123", '"+*******0123"'),
    ('{"phoneNumber":"2025550123"}', "2025550123", '"******0123"'),
    ("/api/biometric/auth-result?mobile=+12025550123&a=b", "2025550123", "+*******0123"),
    ("/does/not/exist/12025550123", "2025550123", "/*******0123"),
    ("numbers 12025550123 12025550124", "2025550124", "****"),
    ("alice@example.com", "alice", "a***@***"),
    ("first.last+invoices@mail.sub.example.co.uk", "last+invoices", "f***@***"),
    ("X_Y-Z@EXAMPLE.ORG", "EXAMPLE", "X***@***"),
    ("write to bob@example.com.", "bob@", "b***@***."),
    ('{"email":"carol@example.org"}', "carol", '"c***@***"'),
    ("email=dave%40example.com", "dave", "d***@***"),
    ("mailto:erin%2Btag@example.com", "erin", "e***@***"),
    ("Authorization: Bearer abcdef1234567890", "abcdef1234567890", "Authorization: [REDACTED]"),
    ("{'HTTP_AUTHORIZATION': 'Bearer abcdef1234567890'}", "abcdef1234567890", "[REDACTED]"),
    ("sent bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "eyJzdWIiOiIxIn0", "bearer [REDACTED]"),
    ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl in body", "eyJzdWIiOiIxIn0", "[REDACTED]"),
    ("Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b", "9944b091", "[REDACTED]"),
    ("x-api-key: sk_live_ABCDEF1234567890", "sk_live", "x-api-key: [REDACTED]"),
    ('{"x-api-key": "k-123456789abc"}', "k-123456789abc", '"x-api-key": "[REDACTED]"'),
    ("/api/v1/documents?token=abc123def456ghi789&page=2", "abc123def456", "token=[REDACTED]&page=2"),
    ('{"refreshToken": "rt.abc.def.123", "password": "correct horse battery"}', "horse", '"[REDACTED]"'),
    ("Cookie: sessionid=abcd1234efgh5678; csrftoken=zzzz9999", "abcd1234efgh5678", "sessionid=[REDACTED]"),
    ("Set-Cookie: token=abcdefgh12345678; HttpOnly", "abcdefgh12345678", "token=[REDACTED]"),
    ("open https://docuid.example/approve/AbCdEfGhIjKlMnOpQrSt12345?x=1", "AbCdEfGh", "/approve/[REDACTED]?x=1"),
    ("/s/Zx9_yy-AAAAAAAAAAAAAAAAAAAAA", "Zx9_yy", "/s/[REDACTED]"),
    ("/accounts/enroll/0123456789abcdef0123", "0123456789abcdef", "/enroll/[REDACTED]"),
    ("client 192.168.1.23 connected", "1.23", "192.168.x.x"),
    ("from 10.0.0.5:51234", "0.5", "10.0.x.x:51234"),
    ("X-Forwarded-For: 203.0.113.7, 198.51.100.22", "113.7", "203.0.x.x, 198.51.x.x"),
    ("2001:db8:85a3::8a2e:370:7334", "8a2e", "2001:db8:85a3::x"),
    ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "8a2e", "2001:db8:85a3::x"),
    ("peer fe80::1ff:fe23:4567:890a.", "fe23", "fe80:0:0::x."),
]


@pytest.mark.parametrize(("text", "secret", "masked"), PII_CASES)
def test_mask_pii_hides_the_secret_part_and_leaves_a_recognisable_mask(text, secret, masked):
    result = mask_pii(text)
    assert secret not in result
    assert masked in result


@pytest.mark.parametrize(
    "text",
    [
        "+12025550123",
        "2025550123",
        "(202) 555-0123",
        "202-555-0123",
        "user@example.com",
        "Bearer abcdefgh12345678",
        "10.20.30.40",
    ],
)
def test_mask_pii_is_idempotent(text):
    assert mask_pii(mask_pii(text)) == mask_pii(text)


# --- mask_pii: what must survive ----------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-01T12:34:56.789012+00:00",
        "2024-05-01 12:34:56,789",
        "2024-05-01",
        "01-05-2024",
        "12:34:56",
        "550e8400-e29b-41d4-a716-446655440000",
        "3f2a9c0e1b7d4e5f8a6b2c3d4e5f6a7b",
        "request 9037e1e859a94e838c06d93c695dd6b2 done",
        "a1234567890123b",
        "took 12.5 ms",
        "duration_ms=1234.56",
        "size 12345678.123 bytes",
        "GET healthz 200",
        "status 404",
        "500",
        "count=3",
        "retry 2 of 5",
        "version 0.1.0",
        "Python 3.11.7",
        "drf-spectacular-sidecar==2026.10.1",
        "document 123",
        "document id 1234567",
        "/api/v1/documents/1234567/download",
        "page=2&limit=20",
        "worker (pid: 12345)",
        "Listening at: http://localhost:8000 (16333)",
        "::1",
        "match code 42",
        "token expired",
        "Bearer",
        "",
    ],
)
def test_mask_pii_leaves_ordinary_values_alone(text):
    assert mask_pii(text) == text


ADVERSARIAL_100K = {
    "digits": "1" * 100_000,
    "spaced digits": "12 " * 33_000,
    "dotted digits": "1." * 50_000,
    "dashed digits": "1-" * 50_000,
    "letters": "a" * 100_000,
    "email without domain": "a." * 50_000 + "@",
    "many at signs": "a@" * 50_000,
    "hex and colons": "a:" * 50_000,
    "plus digits": "+1" * 50_000,
    "percent encoded": "%2B1%20" * 15_000,
    "bearer words": "bearer " * 15_000,
    "key value pairs": "token=a&" * 12_000,
    "ip fragments": "1.2.3.4." * 12_000,
    "brackets": "(1) " * 25_000,
    "unterminated quote": 'password: "' + "x" * 100_000,
    "times": "1:" * 50_000,
    "long link": "/approve/" + "a" * 100_000,
    "mixed pii": "(202) 555-0123 a@b.co 10.0.0.1 Bearer abcdefgh123 " * 2_000,
}


@pytest.mark.parametrize("name", ADVERSARIAL_100K)
def test_mask_pii_stays_fast_on_100_kb_of_hostile_input(name):
    text = ADVERSARIAL_100K[name]
    started = time.perf_counter()
    mask_pii(text)
    # Linear patterns take ~0.1 s here; a backtracking one takes minutes.
    assert time.perf_counter() - started < 2


def test_mask_value_masks_nested_fields_and_phone_numbers_sent_as_integers():
    masked = mask_value({"user": {"mobile": 12025550123, "emails": ["a@example.com"]}, "count": 3, "ok": True})
    assert masked == {"user": {"mobile": "*******0123", "emails": ["a***@***"]}, "count": 3, "ok": True}


# --- The JSON line ------------------------------------------------------------------


@pytest.mark.django_db
def test_the_access_log_line_is_json_with_every_required_field(client, no_pii_in_logs):
    client.get("/healthz", HTTP_X_REQUEST_ID="req-abc-12345678")
    [line] = [entry for entry in log_lines(no_pii_in_logs) if entry["logger"] == "docuid.request"]
    assert {"timestamp", "level", "logger", "message", "request_id", "user_id"} <= set(line)
    assert {"method", "route", "status", "duration_ms"} <= set(line)
    assert datetime.fromisoformat(line["timestamp"]).tzinfo is not None
    assert line["level"] == "INFO"
    assert line["message"] == "GET healthz 200"
    assert line["request_id"] == "req-abc-12345678"
    assert (line["method"], line["route"], line["status"]) == ("GET", "healthz", 200)
    assert isinstance(line["duration_ms"], float)


@pytest.mark.django_db
def test_the_access_log_names_the_user_by_id_never_by_phone_number(client, no_pii_in_logs):
    user = UserFactory()
    # Reloaded: the factory sets an unusable password after saving, so the unsaved in-memory
    # hash would not match the session's and the login would silently not stick.
    user.refresh_from_db()
    client.force_login(user)
    client.get("/", secure=True)
    [line] = [entry for entry in log_lines(no_pii_in_logs) if entry["logger"] == "docuid.request"]
    assert line["user_id"] == str(user.pk)
    assert user.phone_number.lstrip("+") not in no_pii_in_logs.stream.getvalue()


@pytest.mark.django_db
def test_a_server_error_is_logged_at_error_level_with_its_route(client, no_pii_in_logs, settings):
    settings.ROOT_URLCONF = __name__
    client.raise_request_exception = False
    client.get("/test/explode")
    [line] = [entry for entry in log_lines(no_pii_in_logs) if entry["logger"] == "docuid.request"]
    assert (line["level"], line["route"], line["status"]) == ("ERROR", "test-explode", 500)


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_phone_number_in_the_query_and_the_body_reaches_the_log_only_masked(client, no_pii_in_logs):
    UserFactory(phone_number=PHONE, email="victim@example.com")  # arms the suite-wide guard too
    client.post(
        "/test/echo?mobile=%2B12025550123&email=victim%40example.com&alt=202-555-0123",
        data=json.dumps({"mobile": PHONE, "email": "victim@example.com"}),
        content_type="application/json",
    )
    output = no_pii_in_logs.stream.getvalue()
    [line] = [entry for entry in log_lines(no_pii_in_logs) if entry["logger"] == "docuid.tests.view"]
    assert "%2B*******0123" in line["message"]
    assert '"+*******0123"' in line["message"]
    for leaked in ("2025550123", "555-0123", "victim"):
        assert leaked not in output


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_an_exception_traceback_is_logged_with_its_pii_masked(client, no_pii_in_logs):
    client.raise_request_exception = False
    response = client.get("/test/explode", {"mobile": PHONE, "email": "victim@example.com"})
    assert response.status_code == 500
    output = no_pii_in_logs.stream.getvalue()
    [error] = [entry for entry in log_lines(no_pii_in_logs) if entry["logger"] == "django.request"]
    assert "Traceback" in error["exception"]
    assert "ValueError: lookup failed for +*******0123 / v***@***" in error["exception"]
    assert "2025550123" not in output
    assert "victim" not in output


def test_a_log_call_with_a_broken_format_string_is_kept_and_masked(no_pii_in_logs):
    logging.getLogger("docuid.tests").warning("mobile %s %s", PHONE)
    [line] = log_lines(no_pii_in_logs)
    assert "+*******0123" in line["message"]
    assert "2025550123" not in line["message"]


def test_extra_fields_are_masked_like_the_message(no_pii_in_logs):
    logging.getLogger("docuid.tests").info("lookup", extra={"mobile": PHONE, "ip": "198.51.100.22", "n": 3})
    [line] = log_lines(no_pii_in_logs)
    assert (line["mobile"], line["ip"], line["n"]) == ("+*******0123", "198.51.x.x", 3)


# --- Request id ---------------------------------------------------------------------


def test_a_well_formed_request_id_is_kept_and_echoed(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a-0001:trace.5")
    assert response["X-Request-ID"] == "lb-7f3a-0001:trace.5"


@pytest.mark.parametrize(
    "candidate",
    [
        "short",
        "x" * 129,
        "bad id with spaces",
        "abcdefgh12\n",
        "abc<script>alert(1)</script>",
        "12025550123",
        "req-192.168.1.23",
        "",
        None,
    ],
)
def test_a_malformed_or_pii_carrying_request_id_is_replaced_by_a_fresh_one(candidate):
    replaced = clean_request_id(candidate)
    assert replaced != candidate
    assert len(replaced) == 32
    assert int(replaced, 16) >= 0


def test_a_request_id_made_of_a_phone_number_is_not_echoed_or_logged(client, no_pii_in_logs):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="12025550123")
    assert response["X-Request-ID"] != "12025550123"
    assert "2025550123" not in no_pii_in_logs.stream.getvalue()


@pytest.mark.django_db
def test_the_404_page_shows_the_request_id(client):
    response = client.get("/no/such/page", HTTP_X_REQUEST_ID="support-ref-404-abc")
    assert response.status_code == 404
    assert response["X-Request-ID"] == "support-ref-404-abc"
    assert b"support-ref-404-abc" in response.content


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_the_500_page_shows_the_request_id_and_no_stack_trace(client):
    client.raise_request_exception = False
    response = client.get("/test/explode", {"mobile": PHONE}, HTTP_X_REQUEST_ID="support-ref-500-abc")
    assert response.status_code == 500
    assert response["X-Request-ID"] == "support-ref-500-abc"
    body = response.content.decode()
    assert "support-ref-500-abc" in body
    assert "Traceback" not in body
    assert "ValueError" not in body


def test_a_generated_request_id_is_shown_when_the_caller_sent_none(client):
    response = client.get("/no/such/page")
    assert response["X-Request-ID"].encode() in response.content


# --- The dev server's access lines ----------------------------------------------------------

ACCESS_LINES = [
    '"POST /login/ HTTP/1.1" 429 2055',
    '"GET /documents/?page=9 HTTP/1.1" 404 12345',
    '"GET /static/app.css HTTP/2" 200 1234567',
    '"GET /missing HTTP/1.1" 404 2025550',
    '"POST /admin/login/ HTTP/1.1" 302 -',
    '[06/Dec/2026 09:40:01] "POST /login/ HTTP/1.1" 403 3456',
]


@pytest.mark.parametrize("line", ACCESS_LINES)
def test_mask_pii_never_masks_an_access_lines_status_code_or_size(line):
    assert mask_pii(line) == line


def test_a_phone_number_in_an_access_lines_request_is_still_masked():
    masked = mask_pii('"GET /login/?phone=202-555-0123&next=%2B12025550123 HTTP/1.1" 429 2055')
    assert masked == '"GET /login/?phone=******0123&next=%2B*******0123 HTTP/1.1" 429 2055'


def test_only_an_access_lines_exact_tail_is_kept_out_of_the_phone_pass():
    # Text that merely mentions HTTP/1.1" is masked as usual when it does not end like an access line.
    assert "555 0123" not in mask_pii('HTTP/1.1" 202 555 0123 tomorrow')


def _server_log_through_its_configured_handler(status: str, size: str) -> str:
    """Log one access line the way runserver does, through the handlers settings.LOGGING gave django.server."""
    from django.core.servers.basehttp import WSGIRequestHandler

    handler = WSGIRequestHandler.__new__(WSGIRequestHandler)
    handler.request = None
    stream = io.StringIO()
    # pytest's live-logging handler sits beside the configured one: take the stdout handlers settings made.
    handlers = [h for h in logging.getLogger("django.server").handlers if type(h) is logging.StreamHandler]
    assert handlers, "django.server has no handler of its own"
    previous = [h.setStream(stream) for h in handlers]
    try:
        handler.log_message('"%s" %s %s', "POST /login/ HTTP/1.1", status, size)
    finally:
        for h, old in zip(handlers, previous, strict=True):
            h.setStream(old)
    return stream.getvalue()


@pytest.mark.parametrize(("status", "size"), [("429", "2055"), ("404", "179"), ("500", "145"), ("403", "2025550")])
def test_the_dev_servers_4xx_and_5xx_lines_keep_their_status_and_size(status, size):
    [line] = [json.loads(text) for text in _server_log_through_its_configured_handler(status, size).splitlines()]
    assert line["message"] == f'"POST /login/ HTTP/1.1" {status} {size}'
    assert line["status_code"] == int(status)
