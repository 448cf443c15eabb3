"""DocuIDAppHostDown (one app host of several lost) reaches the ops webhook as a staff-only incident.

The alert's labels are read from the shipped rule (deploy/prometheus/rules.yml), so a change of
its severity or scope that would put a capacity warning on the public status page fails here.
"""

import json
from pathlib import Path

import pytest
import yaml

from operations.models import Incident
from operations.selectors import status_snapshot_forget
from tests.operations.test_incidents_webhook import TOKEN, URL
from tests.operations.test_status_page import fresh_backup, state_of

pytestmark = pytest.mark.django_db
RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules.yml"


@pytest.fixture(autouse=True)
def webhook_token(settings):
    settings.DOCUID_ALERTMANAGER_WEBHOOK_TOKEN = TOKEN
    status_snapshot_forget()
    yield
    status_snapshot_forget()


def _rule() -> dict:
    rules = yaml.safe_load(RULES.read_text())
    [rule] = [r for group in rules["groups"] for r in group["rules"] if r.get("alert") == "DocuIDAppHostDown"]
    return rule


def _delivery(status: str) -> dict:
    rule = _rule()
    labels = {"alertname": "DocuIDAppHostDown", "job": "docuid", "instance": "10.0.0.11:8000", **rule["labels"]}
    annotations = {
        **rule["annotations"],
        "summary": "App host 10.0.0.11:8000 has not answered Prometheus for 5 minutes; the others do",
    }
    alert = {
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": "2026-12-06T10:05:00Z",
        "endsAt": "2026-12-06T10:20:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": "a0b1c2d3e4f50617",
    }
    return {
        "version": "4",
        "groupKey": '{}:{alertname="DocuIDAppHostDown"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "docuid-webhook",
        "groupLabels": {"alertname": "DocuIDAppHostDown"},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "http://alertmanager:9093",
        "alerts": [alert],
    }


def _post(client, body: dict):
    return client.post(
        URL, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    )


def test_one_host_down_is_a_staff_incident_and_the_status_page_stays_operational(client):
    fresh_backup()
    assert _post(client, _delivery("firing")).status_code == 200

    incident = Incident.objects.get(alert_name="DocuIDAppHostDown")
    assert (incident.severity, incident.component, incident.public) == ("warning", "web", False)
    assert incident.alert_labels["scope"] == "host" and incident.alert_labels["instance"] == "10.0.0.11:8000"
    # It began when the host stopped answering: startsAt less the rule's `for:` (5 minutes).
    assert incident.started_at.isoformat() == "2026-12-06T10:00:00+00:00"
    page = client.get("/status")
    assert [state_of(page, c) for c in ("web", "login", "documents", "backups")] == ["operational"] * 4
    assert "No ongoing incidents." in page.content.decode() and "10.0.0.11" not in page.content.decode()

    assert _post(client, _delivery("resolved")).status_code == 200
    incident.refresh_from_db()
    assert incident.status == Incident.Status.MITIGATED and not incident.public
