import pytest

from operations.maintenance import maintenance_off, maintenance_on


@pytest.fixture
def maintenance(backup_env):
    maintenance_on(reason="test")
    yield
    maintenance_off()


def test_pages_answer_503_with_a_friendly_page_during_maintenance(client, maintenance):
    response = client.get("/")

    assert response.status_code == 503
    assert b"down for maintenance" in response.content
    assert response["Retry-After"]


def test_the_admin_login_is_also_closed_during_maintenance(client, maintenance):
    assert client.post("/admin/login/", {"username": "x", "password": "y"}).status_code == 503


def test_health_checks_and_metrics_stay_reachable_during_maintenance(client, maintenance):
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200


def test_a_path_that_only_starts_like_a_probe_is_not_exempt(client, maintenance):
    assert client.get("/metricsXYZ").status_code == 503


def test_the_site_answers_normally_when_maintenance_is_off(client, backup_env, db):
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code != 503
