import pytest
from django.core.cache import cache


@pytest.mark.django_db
def test_healthz_answers_ok_without_touching_dependencies(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_readyz_reports_each_check_with_its_latency(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert {"database", "cache", "storage"} <= set(checks)
    assert all(c["status"] == "ok" and c["latency_ms"] >= 0 for c in checks.values())


@pytest.mark.django_db
def test_readyz_is_503_when_the_cache_fails(client, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("down")

    monkeypatch.setattr(cache, "set", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["cache"] == {
        "status": "error",
        "latency_ms": body["checks"]["cache"]["latency_ms"],
        "error": "ConnectionError",
    }


def test_every_response_carries_a_request_id(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc12345-caller")
    assert response["X-Request-ID"] == "abc12345-caller"
    forged = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\r\nSet-Cookie: x")
    assert forged["X-Request-ID"] != "bad id\r\nSet-Cookie: x"
    assert len(forged["X-Request-ID"]) == 32
