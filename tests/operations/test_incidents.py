"""Incident services, the on-call admin console and `manage.py incident`."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.actions import Action
from audit.models import AuditEvent
from operations.models import Incident, IncidentUpdate, PostMortem, PostMortemActionItem
from operations.services.incidents import (
    IncidentError,
    incident_acknowledge,
    incident_assess_impact,
    incident_escalate,
    incident_mitigate,
    incident_open,
    incident_post_update,
    incident_resolve,
    postmortem_save,
)
from tests.audit.test_admin import verified_client
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def critical(**fields):
    return incident_open(title="Login is down", severity="critical", component="login", public=True, **fields)


def warning():
    return incident_open(title="More failed logins", severity="warning", component="login")


def complete_postmortem(incident):
    postmortem = postmortem_save(
        postmortem=PostMortem(
            incident=incident,
            summary="The push provider rejected our requests.",
            impact="Nobody could log in for 20 minutes.",
            timeline="10:00 alert fired\n10:05 acknowledged\n10:20 provider key rotated",
            root_cause="An expired provider key; no alert on its expiry date.",
            what_went_well="The alert fired within 5 minutes.",
        )
    )
    PostMortemActionItem.objects.create(postmortem=postmortem, action="Alert 14 days before key expiry", owner="SRE")
    return postmortem


def audit_events(incident):
    return list(
        AuditEvent.objects.filter(action=Action.OPS_INCIDENT, target_id=str(incident.pk))
        .order_by("id")
        .values_list("data__event", flat=True)
    )


# --- the state machine ------------------------------------------------------------------


def test_acknowledging_records_who_and_when():
    staff = StaffFactory()
    incident = incident_acknowledge(incident=critical(), acting_user=staff)
    assert incident.status == Incident.Status.ACKNOWLEDGED
    assert incident.acknowledged_by == staff
    assert incident.time_to_acknowledge is not None


def test_an_incident_cannot_be_acknowledged_twice():
    incident = incident_acknowledge(incident=critical())
    with pytest.raises(IncidentError, match="already acknowledged"):
        incident_acknowledge(incident=incident)


def test_a_critical_incident_refuses_to_close_without_a_post_mortem():
    incident = critical()
    with pytest.raises(IncidentError, match="post-mortem"):
        incident_resolve(incident=incident)
    incident.refresh_from_db()
    assert incident.status == Incident.Status.TRIGGERED


def test_a_critical_incident_refuses_to_close_with_a_post_mortem_lacking_action_items():
    incident = critical()
    complete_postmortem(incident).action_items.all().delete()
    with pytest.raises(IncidentError, match="post-mortem"):
        incident_resolve(incident=incident)


def test_a_critical_incident_closes_once_its_post_mortem_is_complete():
    incident = critical()
    complete_postmortem(incident)
    incident = incident_resolve(incident=incident)
    assert incident.status == Incident.Status.RESOLVED
    assert incident.resolved_at is not None
    assert incident.mitigated_at is not None


def test_a_warning_closes_without_a_post_mortem():
    assert incident_resolve(incident=warning()).status == Incident.Status.RESOLVED


def test_a_resolved_incident_cannot_be_changed_any_more():
    incident = incident_resolve(incident=warning())
    for change in (
        lambda: incident_acknowledge(incident=incident),
        lambda: incident_post_update(incident=incident, message="late", public=True),
        lambda: incident_resolve(incident=incident),
        lambda: incident_mitigate(incident=incident),
    ):
        with pytest.raises(IncidentError, match="resolved"):
            change()


def test_every_state_change_is_in_the_audit_trail():
    incident = critical()
    incident_acknowledge(incident=incident)
    incident_assess_impact(incident=incident, impact="All web logins fail.")
    incident_escalate(incident=incident, escalated_to="Identity team")
    incident_post_update(incident=incident, message="We found the cause.", public=True)
    incident_mitigate(incident=incident)
    complete_postmortem(incident)
    incident_resolve(incident=incident)
    assert audit_events(incident) == [
        "opened",
        "acknowledged",
        "impact_assessed",
        "escalated",
        "update_posted",
        "mitigated",
        "postmortem_written",
        "resolved",
    ]


def test_an_empty_update_or_impact_is_refused():
    incident = warning()
    with pytest.raises(IncidentError):
        incident_post_update(incident=incident, message="   ", public=False)
    with pytest.raises(IncidentError):
        incident_assess_impact(incident=incident, impact="")


def test_mtta_and_mttr_come_from_the_incident_timestamps():
    incident = warning()
    start = timezone.now() - timedelta(minutes=30)
    Incident.objects.filter(pk=incident.pk).update(
        started_at=start, acknowledged_at=start + timedelta(minutes=4), mitigated_at=start + timedelta(minutes=25)
    )
    incident.refresh_from_db()
    assert incident.time_to_acknowledge == timedelta(minutes=4)
    assert incident.time_to_recover == timedelta(minutes=25)


# --- the admin console -------------------------------------------------------------------


@pytest.fixture
def oncall(client):
    return verified_client(client, StaffFactory(is_superuser=True))


def change_url(incident):
    return f"/admin/operations/incident/{incident.pk}/change/"


def form_data(incident, **extra):
    return {
        "public": "on" if incident.public else "",
        "impact": incident.impact,
        "escalated_to": incident.escalated_to,
        "new_update": "",
        "updates-TOTAL_FORMS": "0",
        "updates-INITIAL_FORMS": "0",
        **extra,
    }


def test_the_admin_lists_incidents_opened_by_the_webhook(oncall):
    incident = critical()
    response = oncall.get("/admin/operations/incident/")
    assert response.status_code == 200
    assert incident.title in response.content.decode()


def test_on_call_acknowledges_assesses_escalates_and_posts_an_update_in_the_admin(oncall):
    incident = critical()
    data = form_data(
        incident,
        impact="Every login fails.",
        escalated_to="Identity team",
        new_update="Investigating.",
        new_update_public="on",
        _acknowledge="Acknowledge",
    )
    response = oncall.post(change_url(incident), data)
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == Incident.Status.ACKNOWLEDGED
    assert incident.impact == "Every login fails."
    assert incident.escalated_to == "Identity team"
    assert IncidentUpdate.objects.filter(incident=incident, public=True, message="Investigating.").exists()


def test_the_admin_refuses_to_resolve_a_critical_incident_without_a_post_mortem(oncall):
    incident = critical()
    response = oncall.post(change_url(incident), form_data(incident, _resolve="Resolve"), follow=True)
    assert "cannot be closed without a blameless post-mortem" in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == Incident.Status.TRIGGERED


def test_the_admin_cannot_delete_an_incident(oncall):
    incident = warning()
    assert oncall.post(f"/admin/operations/incident/{incident.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Incident.objects.filter(pk=incident.pk).exists()


def test_staff_without_incident_permissions_cannot_open_the_console(client):
    staff_client = verified_client(client, StaffFactory())
    assert staff_client.get("/admin/operations/incident/").status_code == 403
    assert staff_client.get("/admin/operations/incident/report/").status_code == 403


def test_a_post_mortem_written_in_the_admin_lets_the_incident_close(oncall):
    incident = critical()
    response = oncall.post(
        "/admin/operations/postmortem/add/",
        {
            "incident": incident.pk,
            "summary": "s",
            "impact": "i",
            "timeline": "t",
            "root_cause": "r",
            "what_went_well": "w",
            "what_went_wrong": "",
            "action_items-TOTAL_FORMS": "1",
            "action_items-INITIAL_FORMS": "0",
            "action_items-0-action": "Add an alert",
            "action_items-0-owner": "SRE",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert incident_resolve(incident=incident).status == Incident.Status.RESOLVED
    assert "postmortem_written" in audit_events(incident)


# --- manage.py incident --------------------------------------------------------------------


def run(*args):
    out = StringIO()
    call_command("incident", *args, stdout=out)
    return out.getvalue()


def test_incident_list_shows_open_incidents():
    incident = critical()
    output = run("list")
    assert f"{incident.pk:>5}  critical" in output
    assert "Login is down" in output


def test_incident_ack_update_and_resolve_from_the_terminal():
    staff = StaffFactory(phone_number="+13125559876")
    incident = warning()
    assert "acknowledged" in run("ack", str(incident.pk), "--by", "+1 312 555 9876")
    assert "posted" in run("update", str(incident.pk), "-m", "Rolled back.", "--public")
    assert "resolved" in run("resolve", str(incident.pk))
    incident.refresh_from_db()
    assert incident.acknowledged_by == staff
    assert incident.status == Incident.Status.RESOLVED


def test_incident_resolve_of_a_critical_incident_without_post_mortem_is_a_clear_error():
    incident = critical()
    with pytest.raises(CommandError, match="post-mortem"):
        run("resolve", str(incident.pk))


def test_incident_commands_name_a_missing_incident_clearly():
    with pytest.raises(CommandError, match="No incident #999"):
        run("ack", "999")


def test_incident_by_must_be_a_staff_member():
    StaffFactory(phone_number="+13125559877", is_staff=False)
    incident = warning()
    with pytest.raises(CommandError, match="no active staff"):
        run("ack", str(incident.pk), "--by", "+13125559877")
