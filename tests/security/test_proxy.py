"""Behind nginx every request comes from the proxy: the client address must come from X-Forwarded-For,
and only from the entry our own proxy wrote."""

import pytest

from accounts.models import LoginRequest
from audit.models import AuditEvent
from documents.services import share_create

pytestmark = pytest.mark.django_db

PROXY = "127.0.0.1"


@pytest.fixture
def behind_nginx(settings):
    settings.DOCUID_TRUSTED_PROXY_HOPS = 1
    settings.DOCUID_RATE_LIMIT_IP = 2
    settings.DOCUID_RATE_LIMIT_PHONE = settings.DOCUID_LOGIN_PROMPTS_PER_HOUR = 100


def _start_login(client, number: int, forwarded_for: str):
    return client.post(
        "/login/",
        {"phone_number": f"+1312555{7000 + number:04d}"},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


def test_behind_a_proxy_one_client_using_up_the_login_limit_does_not_lock_out_another(client, behind_nginx):
    for number in range(3):
        _start_login(client, number, "198.51.100.7")
    assert _start_login(client, 3, "198.51.100.7").status_code == 429
    assert _start_login(client, 4, "203.0.113.20").status_code == 302


def test_a_client_cannot_dodge_the_login_limit_by_forging_x_forwarded_for(client, behind_nginx):
    # nginx appends the address it saw; whatever the client sent stays to the left of it.
    statuses = [_start_login(client, n, f"10.9.9.{n}, 198.51.100.7").status_code for n in range(4)]
    assert statuses[-1] == 429


def test_the_login_request_shows_the_phone_the_clients_network_not_the_proxys(client, behind_nginx):
    _start_login(client, 0, "198.51.100.7")
    assert LoginRequest.objects.get().ip_masked == "198.51.100.x"


def test_the_audit_trail_records_the_clients_network_not_the_proxys(client, behind_nginx, owner, document):
    _, token = share_create(acting_user=owner, document=document)
    client.get(f"/s/{token}", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.7")
    event = AuditEvent.objects.filter(action="share.access").get()
    assert event.masked_ip == "198.51.100.x"


def test_behind_a_load_balancer_the_internet_does_not_inherit_its_metrics_access(client, settings):
    settings.DOCUID_TRUSTED_PROXY_HOPS = 1
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    settings.METRICS_TOKEN = ""
    through_the_balancer = client.get("/metrics", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="198.51.100.7")
    prometheus_in_the_network = client.get("/metrics", REMOTE_ADDR="10.0.0.9")
    assert through_the_balancer.status_code == 403
    assert prometheus_in_the_network.status_code == 200


def test_without_a_configured_proxy_x_forwarded_for_is_not_believed(client, settings):
    settings.DOCUID_TRUSTED_PROXY_HOPS = 0
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 403


def test_a_garbage_forwarded_for_keeps_the_peer_address_and_is_not_a_500(client, settings):
    settings.DOCUID_TRUSTED_PROXY_HOPS = 1
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="127.0.0.1, not-an-ip\x00")
    assert response.status_code == 403
