"""The Alertmanager webhook: only Alertmanager (bearer token) gets in; alerts open, refresh and mitigate incidents."""

import json

import pytest

from audit.actions import Action
from audit.models import AuditEvent
from operations.models import Incident

pytestmark = pytest.mark.django_db
URL = "/ops/alertmanager/webhook"
TOKEN = "test-webhook-token-0123456789abcdef"


@pytest.fixture(autouse=True)
def webhook_token(settings):
    settings.DOCUID_ALERTMANAGER_WEBHOOK_TOKEN = TOKEN


def alert(status="firing", fingerprint="6a3c1b2d4e5f6071", **labels):
    return {
        "status": status,
        "labels": {"alertname": "DocuIDHigh5xxRate", "severity": "critical", "component": "api", **labels},
        "annotations": {
            "summary": "DocuID is answering 3% of requests with 5xx",
            "description": "The 5xx share has been above 1.44%.",
            "runbook_url": "https://github.com/docuid/docuid/blob/main/docs/runbooks/docuid-high-5xx-rate.md",
        },
        "startsAt": "2026-01-05T10:00:00.000Z",
        "endsAt": "2026-01-05T10:20:00.000Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": fingerprint,
    }


def payload(*alerts, status="firing"):
    return {
        "version": "4",
        "groupKey": '{}:{alertname="DocuIDHigh5xxRate"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "docuid-webhook",
        "groupLabels": {"alertname": "DocuIDHigh5xxRate"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


def post(client, body, token=TOKEN, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(URL, data=data, content_type="application/json", **headers, **extra)


# --- who may call it -------------------------------------------------------------------


def test_without_a_configured_token_the_webhook_refuses_everything(client, settings):
    settings.DOCUID_ALERTMANAGER_WEBHOOK_TOKEN = ""
    response = post(client, payload(alert()), token="")
    assert response.status_code == 404
    assert response.json()["error"] == "not_configured"
    assert not Incident.objects.exists()


def test_an_anonymous_post_to_an_unconfigured_webhook_is_no_server_error(client, settings, caplog):
    # Issue #12 F17: it answered 503, which Django logged at ERROR and error_rate_5xx counted,
    # so anyone on the internet could page on-call for a deployment without incident intake.
    from prometheus_client import REGISTRY

    settings.DOCUID_ALERTMANAGER_WEBHOOK_TOKEN = ""
    labels = {"method": "POST", "route": "operations:alertmanager-webhook", "status": "5xx"}
    server_errors_before = REGISTRY.get_sample_value("api_latency_ms_count", labels) or 0.0
    with caplog.at_level("INFO"):
        for _ in range(3):
            assert post(client, payload(alert()), token=None).status_code == 404
    assert (REGISTRY.get_sample_value("api_latency_ms_count", labels) or 0.0) == server_errors_before
    assert not [r for r in caplog.records if r.levelno >= 40], [r.getMessage() for r in caplog.records]
    assert any(r.levelname == "WARNING" and r.name == "docuid.operations" for r in caplog.records)


def test_a_request_without_a_bearer_token_is_refused(client):
    response = post(client, payload(alert()), token=None)
    assert response.status_code == 401
    assert not Incident.objects.exists()


def test_a_wrong_token_is_refused(client):
    response = post(client, payload(alert()), token=TOKEN[:-1] + "x")
    assert response.status_code == 403
    assert not Incident.objects.exists()


def test_a_token_that_merely_starts_like_the_right_one_is_refused(client):
    assert post(client, payload(alert()), token=TOKEN[:8]).status_code == 403
    assert post(client, payload(alert()), token=TOKEN + "extra").status_code == 403


def test_the_token_cannot_be_sent_as_basic_auth(client):
    response = client.post(
        URL, data=json.dumps(payload(alert())), content_type="application/json", HTTP_AUTHORIZATION=f"Basic {TOKEN}"
    )
    assert response.status_code == 401


def test_get_is_not_allowed(client):
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


def test_the_webhook_needs_no_csrf_token_but_a_session_does_not_replace_the_bearer(client):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    assert post(csrf_client, payload(alert())).status_code == 200
    assert post(csrf_client, payload(alert(fingerprint="ffff")), token=None).status_code == 401


# --- what it accepts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        b"\xff\xfe",
        "[]",
        json.dumps({"version": "3", "alerts": []}),
        json.dumps(payload()),
        json.dumps(
            payload(
                {
                    "status": "exploding",
                    "labels": {"alertname": "X"},
                    "fingerprint": "a",
                    "startsAt": "2026-01-01T00:00:00Z",
                }
            )
        ),
        json.dumps(payload({"status": "firing", "labels": {"alertname": "X"}, "startsAt": "2026-01-01T00:00:00Z"})),
        json.dumps(
            payload(
                {
                    "status": "firing",
                    "labels": {"alertname": "X"},
                    "fingerprint": "a" * 65,
                    "startsAt": "2026-01-01T00:00:00Z",
                }
            )
        ),
        json.dumps(payload({"status": "firing", "labels": {}, "fingerprint": "a", "startsAt": "2026-01-01T00:00:00Z"})),
        json.dumps(
            payload(
                {"status": "firing", "labels": {"alertname": 5}, "fingerprint": "a", "startsAt": "2026-01-01T00:00:00Z"}
            )
        ),
        json.dumps(
            payload({"status": "firing", "labels": {"alertname": "X"}, "fingerprint": "a", "startsAt": "yesterday"})
        ),
        json.dumps(
            payload(
                {
                    "status": "firing",
                    "labels": {"alertname": "X"},
                    "fingerprint": "a",
                    "startsAt": "2026-01-01T00:00:00",
                }
            )
        ),
        json.dumps(payload("not an alert")),
    ],
)
def test_a_malformed_payload_gets_a_clear_400_and_changes_nothing(client, body):
    response = post(client, body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"
    assert response.json()["message"]
    assert not Incident.objects.exists()


def test_an_oversized_payload_is_refused(client):
    big = payload(alert(description="x"))
    big["padding"] = "x" * (1024 * 1024 + 1)
    response = post(client, big)
    assert response.status_code == 413


# --- what it does ------------------------------------------------------------------------


def test_a_firing_alert_opens_an_incident_with_the_alerts_details(client):
    response = post(client, payload(alert()))
    assert response.status_code == 200
    incident = Incident.objects.get()
    assert incident.status == Incident.Status.TRIGGERED
    assert incident.severity == Incident.Severity.CRITICAL
    assert incident.component == Incident.Component.WEB
    assert incident.alert_name == "DocuIDHigh5xxRate"
    assert incident.alert_fingerprint == "6a3c1b2d4e5f6071"
    assert incident.title.startswith("DocuIDHigh5xxRate: DocuID is answering 3%")
    assert incident.runbook_url.endswith("docuid-high-5xx-rate.md")
    assert incident.started_at.isoformat() == "2026-01-05T10:00:00+00:00"
    assert response.json()["alerts"][0] == {
        "fingerprint": "6a3c1b2d4e5f6071",
        "incident": incident.pk,
        "result": "opened",
    }


def test_opening_an_incident_is_recorded_in_the_audit_trail(client):
    post(client, payload(alert()))
    event = AuditEvent.objects.get(action=Action.OPS_INCIDENT)
    assert event.data["event"] == "opened"
    assert event.target_id == str(Incident.objects.get().pk)


def test_the_same_alert_delivered_again_does_not_open_a_second_incident(client):
    post(client, payload(alert()))
    response = post(client, payload(alert()))
    assert Incident.objects.count() == 1
    assert response.json()["alerts"][0]["result"] == "unchanged"


def test_critical_alerts_are_public_and_warnings_are_not(client):
    post(client, payload(alert(fingerprint="aa"), alert(fingerprint="bb", severity="warning")))
    assert Incident.objects.get(alert_fingerprint="aa").public is True
    assert Incident.objects.get(alert_fingerprint="bb").public is False


def test_a_fraud_alert_never_goes_public_by_itself(client):
    post(client, payload(alert(alertname="DocuIDFraudReports", severity="critical", component="fraud")))
    incident = Incident.objects.get()
    assert incident.public is False
    assert incident.component == Incident.Component.LOGIN


def test_a_resolved_alert_marks_its_incident_mitigated(client):
    post(client, payload(alert()))
    response = post(client, payload(alert(status="resolved"), status="resolved"))
    incident = Incident.objects.get()
    assert incident.status == Incident.Status.MITIGATED
    assert incident.mitigated_at.isoformat() == "2026-01-05T10:20:00+00:00"
    assert response.json()["alerts"][0]["result"] == "mitigated"


def test_a_resolved_alert_never_seen_firing_opens_nothing(client):
    response = post(client, payload(alert(status="resolved"), status="resolved"))
    assert response.status_code == 200
    assert response.json()["alerts"][0]["result"] == "ignored"
    assert not Incident.objects.exists()


def test_an_alert_firing_again_puts_its_mitigated_incident_back_to_work(client):
    post(client, payload(alert()))
    post(client, payload(alert(status="resolved"), status="resolved"))
    post(client, payload(alert()))
    incident = Incident.objects.get()
    assert incident.status == Incident.Status.TRIGGERED
    assert incident.mitigated_at is None


def test_after_an_incident_is_resolved_the_same_alert_opens_a_new_one(client):
    from operations.services.incidents import incident_resolve

    post(client, payload(alert(severity="warning")))
    incident_resolve(incident=Incident.objects.get())
    post(client, payload(alert(severity="warning")))
    assert Incident.objects.count() == 2
    assert Incident.objects.filter(status=Incident.Status.TRIGGERED).count() == 1


def test_a_start_time_in_the_future_is_clamped_to_now(client):
    future = alert()
    future["startsAt"] = "2999-01-01T00:00:00Z"
    post(client, payload(future))
    from django.utils import timezone

    assert Incident.objects.get().started_at <= timezone.now()


def test_a_runbook_url_with_a_dangerous_scheme_is_dropped(client):
    evil = alert()
    evil["annotations"]["runbook_url"] = "javascript:alert(1)"
    post(client, payload(evil))
    assert Incident.objects.get().runbook_url == ""
