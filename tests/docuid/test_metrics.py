"""/metrics: the api_latency_ms histogram, its labels, django-prometheus, and who may scrape."""

import re

import pytest
from django.db import connection
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from docuid.metrics import LATENCY_BUCKETS_MS


def scrape(client, **extra) -> str:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200
    return response.content.decode()


def latency_count(route: str, method: str = "GET", status: str = "2xx") -> float:
    labels = {"method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("api_latency_ms_count", labels) or 0.0


def test_a_request_is_counted_under_its_url_name(client):
    before = latency_count("healthz")
    client.get("/healthz")
    assert latency_count("healthz") == before + 1
    assert re.search(r'^api_latency_ms_bucket\{[^}]*route="healthz"[^}]*\} [1-9]', scrape(client), re.MULTILINE)


def test_the_histogram_is_in_milliseconds_from_5_ms_to_10_s(client):
    client.get("/healthz")
    [family] = [f for f in text_string_to_metric_families(scrape(client)) if f.name == "api_latency_ms"]
    bounds = {s.labels["le"] for s in family.samples if s.name == "api_latency_ms_bucket"}
    assert bounds == {f"{float(b)}" for b in LATENCY_BUCKETS_MS} | {"+Inf"}
    assert min(LATENCY_BUCKETS_MS) == 5
    assert max(LATENCY_BUCKETS_MS) == 10_000


@pytest.mark.django_db
def test_an_unknown_path_is_labelled_unmatched_and_never_appears_in_metrics(client):
    before = latency_count("unmatched", status="4xx")
    client.get("/does/not/exist/12025550123")
    assert latency_count("unmatched", status="4xx") == before + 1
    text = scrape(client)
    assert "12025550123" not in text
    assert "/does/not" not in text
    assert "exist" not in text


def test_an_invented_http_method_is_refused_and_labelled_other_in_every_metric(client):
    before = latency_count("unmatched", method="other", status="4xx")
    response = client.generic("FROBNICATE12025550123", "/healthz")
    assert response.status_code == 405
    assert latency_count("unmatched", method="other", status="4xx") == before + 1
    # django-prometheus labels its view histogram with the raw method: it must never see this one.
    assert "FROBNICATE" not in scrape(client)


@pytest.mark.django_db
def test_django_prometheus_request_and_database_metrics_are_exported(client):
    client.get("/readyz")  # runs SELECT 1 through django-prometheus' database wrapper
    text = scrape(client)
    assert re.search(r'django_http_responses_total_by_status_total\{status="200"\} [1-9]', text)
    assert re.search(rf'django_db_execute_total\{{alias="default",vendor="{connection.vendor}"\}} [1-9]', text)
    assert "django_http_requests_latency_including_middlewares_seconds_bucket" in text


def test_per_view_families_that_repeat_api_latency_ms_are_not_exported(client):
    client.get("/healthz")
    text = scrape(client)
    assert "by_view" not in text
    assert "templatename" not in text


# --- Who may scrape -----------------------------------------------------------------


def test_metrics_refuses_an_address_outside_the_allow_list(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    settings.METRICS_TOKEN = "metrics-token-0123456789abcdef"
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403
    assert b"api_latency_ms" not in response.content


def test_metrics_accepts_an_address_inside_an_allowed_network(client, settings):
    settings.METRICS_ALLOWED_IPS = ["not-an-address", "10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200


def test_metrics_ignores_a_forged_forwarded_for_header(client, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert response.status_code == 403


def test_metrics_accepts_the_metrics_token_bearer_from_anywhere(client, settings):
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_TOKEN = "metrics-token-0123456789abcdef"
    response = client.get(
        "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer metrics-token-0123456789abcdef"
    )
    assert response.status_code == 200
    assert b"api_latency_ms" in response.content


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer wrong-token-0123456789abcdef",
        "Bearer metrics-token-0123456789abcde",
        "Bearer metrics-token-0123456789abcdefX",
        "Basic metrics-token-0123456789abcdef",
        "metrics-token-0123456789abcdef",
        "Bearer ",
        "",
    ],
)
def test_metrics_refuses_any_other_credential(client, settings, authorization):
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_TOKEN = "metrics-token-0123456789abcdef"
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=authorization)
    assert response.status_code == 403


def test_an_empty_bearer_never_matches_an_unset_token(client, settings):
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_a_refused_scrape_is_itself_counted_and_logged_without_the_token(client, settings, no_pii_in_logs):
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_TOKEN = "metrics-token-0123456789abcdef"
    before = latency_count("metrics", status="4xx")
    client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer guessed-0123456789abcdef")
    assert latency_count("metrics", status="4xx") == before + 1
    assert "guessed-0123456789abcdef" not in no_pii_in_logs.stream.getvalue()
