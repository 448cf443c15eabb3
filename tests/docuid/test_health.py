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


MANIFEST_STORAGE = {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}


@pytest.fixture
def manifest_static(settings, tmp_path):
    """DEBUG=0's static storage (hashed names from collectstatic's manifest) over an empty STATIC_ROOT."""
    settings.STATIC_ROOT = tmp_path / "staticfiles"
    settings.STATIC_ROOT.mkdir()
    settings.STORAGES = {**settings.STORAGES, "staticfiles": MANIFEST_STORAGE}
    return settings.STATIC_ROOT


@pytest.mark.django_db
def test_readyz_is_503_when_collectstatic_never_ran(client, manifest_static):
    # The production incident: every page answered 500 (missing manifest entry) while /readyz said 200.
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["static"]["error"] == "StaticFilesMissing"


@pytest.mark.django_db
def test_readyz_is_503_when_a_hashed_static_file_is_missing(client, manifest_static):
    from django.core.management import call_command

    call_command("collectstatic", "--noinput", verbosity=0)
    assert client.get("/readyz").status_code == 200
    for hashed in manifest_static.glob("css/docuid.*.css"):
        hashed.unlink()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["static"]["status"] == "error"


@pytest.mark.django_db
def test_readyz_does_not_check_static_files_with_debugs_plain_storage(client):
    assert "static" not in client.get("/readyz").json()["checks"]
