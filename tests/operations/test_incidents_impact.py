"""An incident opened from an alert starts at the impact, not when Prometheus's `for:` ran out (issue 11)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from operations.models import Incident
from operations.services.incidents import Alert, incident_alerts_receive

pytestmark = pytest.mark.django_db
FIRED = datetime(2026, 1, 5, 10, 1, tzinfo=UTC)


def alert(status="firing", **annotations) -> Alert:
    return Alert(
        status=status,
        fingerprint="0f1e2d3c4b5a6978",
        labels={"alertname": "DocuIDAuthServiceDown", "cause": "app_unreachable", "severity": "critical"},
        annotations={"summary": "DocuID is unreachable", **annotations},
        starts_at=FIRED,
        ends_at=FIRED + timedelta(minutes=3) if status == "resolved" else None,
    )


def test_the_incident_starts_at_the_impact_the_rule_declares():
    [(incident, result)] = incident_alerts_receive(alerts=[alert(impact_lead_seconds="60")])
    assert result == "opened"
    assert incident.started_at == FIRED - timedelta(seconds=60)


def test_mttr_runs_from_the_impact():
    incident_alerts_receive(alerts=[alert(impact_lead_seconds="60")])
    incident_alerts_receive(alerts=[alert("resolved", impact_lead_seconds="60")])
    incident = Incident.objects.get()
    assert incident.mitigated_at - incident.started_at == timedelta(minutes=4)


def test_without_a_lead_the_incident_starts_at_starts_at():
    [(incident, _)] = incident_alerts_receive(alerts=[alert()])
    assert incident.started_at == FIRED


@pytest.mark.parametrize("lead", ["-60", "sixty", "999999999", "0"])
def test_a_nonsensical_lead_is_ignored(lead):
    [(incident, _)] = incident_alerts_receive(alerts=[alert(impact_lead_seconds=lead)])
    assert incident.started_at == FIRED


def test_a_shipped_rules_relative_runbook_link_does_not_stop_the_incident(settings):
    """The shipped rules link docs/runbooks/<alert>.md; with no DOCUID_RUNBOOK_BASE_URL that failed
    Incident.full_clean (a URL field) and every delivery answered 500: no alert became an incident."""
    settings.DOCUID_RUNBOOK_BASE_URL = ""
    relative = alert(runbook_url="docs/runbooks/docuid-auth-service-down.md")
    [(incident, result)] = incident_alerts_receive(alerts=[relative])
    assert result == "opened" and incident.runbook_url == ""
    settings.DOCUID_RUNBOOK_BASE_URL = "https://runbooks.example.org/docuid/"
    another = replace(relative, fingerprint="1a2b3c4d5e6f7081")
    [(incident, _)] = incident_alerts_receive(alerts=[another])
    assert incident.runbook_url == "https://runbooks.example.org/docuid/docuid-auth-service-down.md"
