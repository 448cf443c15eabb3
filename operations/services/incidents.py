"""Incidents: opened and mitigated by Alertmanager, worked through by on-call (admin or `incident`).

Every change of state is an `ops.incident` audit event in the same transaction.
Status moves triggered -> acknowledged -> mitigated -> resolved; an alert that
fires again on a mitigated incident puts it back to work, and a resolved
incident stays closed (the same alert later opens a new one).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit import record
from audit.actions import Action, Outcome
from operations.errors import OperationsError
from operations.models import Incident, IncidentUpdate, PostMortem
from operations.selectors import status_snapshot_forget
from operations.services.status import status_page_publish

logger = logging.getLogger("docuid.operations")

# Alert rules label each alert with the part of DocuID it concerns (deploy/prometheus/rules.yml);
# the status page speaks of components people recognise.
ALERT_COMPONENTS = {
    "api": Incident.Component.WEB,
    "traffic": Incident.Component.WEB,
    "web": Incident.Component.WEB,
    "auth": Incident.Component.LOGIN,
    "login": Incident.Component.LOGIN,
    "fraud": Incident.Component.LOGIN,
    "documents": Incident.Component.DOCUMENTS,
    "backup": Incident.Component.BACKUPS,
    "backups": Incident.Component.BACKUPS,
}
# Only critical alerts go public on their own; warnings (and anything about fraud, which
# would tell an attacker they were noticed) are for staff, who can still publish by hand.
AUTO_PUBLIC_EXCLUDED_LABELS = frozenset({"fraud"})
# An alert's impact_lead_seconds annotation (its rule's `for:`) is believed up to a day.
IMPACT_LEAD_MAX_SECONDS = 24 * 3600


class IncidentError(OperationsError):
    """A change the incident's state does not allow; the message says why and what to do."""


@dataclass(frozen=True)
class Alert:
    """One alert of an Alertmanager webhook payload, already validated."""

    status: str  # firing | resolved
    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None


def _record(incident: Incident, event: str, *, acting_user=None, request=None, **extra) -> None:
    record(
        Action.OPS_INCIDENT,
        outcome=Outcome.SUCCESS,
        actor=acting_user,
        target=incident,
        request=request,
        data={"event": event, "status": incident.status, "severity": incident.severity, **extra},
    )
    # The status page shows the change at once rather than after its cache expires, and the copy
    # nginx serves when the app does not answer is rewritten with it.
    transaction.on_commit(status_snapshot_forget, robust=True)
    transaction.on_commit(status_page_publish, robust=True)


def _locked(incident: Incident) -> Incident:
    # Two on-call people clicking at once, or a webhook arriving mid-click: one wins, the other sees its result.
    return Incident.objects.select_for_update().get(pk=incident.pk)


def _save(incident: Incident, fields: list[str]) -> None:
    incident.full_clean()
    incident.save(update_fields=fields)


def _add_update(incident: Incident, *, message: str, public: bool, author=None) -> IncidentUpdate:
    update = IncidentUpdate(incident=incident, time=timezone.now(), author=author, message=message, public=public)
    update.full_clean()
    update.save()
    return update


# --- opened by hand ------------------------------------------------------------------


def incident_open(
    *,
    title: str,
    severity: str,
    component: str,
    description: str = "",
    public: bool = False,
    acting_user=None,
    request=None,
) -> Incident:
    with transaction.atomic():
        incident = Incident(
            title=title,
            severity=severity,
            component=component,
            description=description,
            public=public,
            source=Incident.Source.MANUAL,
            started_at=timezone.now(),
        )
        incident.full_clean()
        incident.save()
        _record(incident, "opened", acting_user=acting_user, request=request, source="manual")
    return incident


# --- from Alertmanager ---------------------------------------------------------------


def _component(labels: dict[str, str]) -> str:
    return ALERT_COMPONENTS.get(labels.get("component", ""), Incident.Component.WEB)


def _severity(labels: dict[str, str]) -> str:
    severity = labels.get("severity", "")
    return severity if severity in Incident.Severity.values else Incident.Severity.WARNING


def _title(alert: Alert) -> str:
    name = alert.labels.get("alertname", "Alert")
    summary = alert.annotations.get("summary", "")
    return (f"{name}: {summary}" if summary else name)[:200]


def _runbook(alert: Alert) -> str:
    from docuid.runbooks import resolve_runbook_url

    # The shipped rules link `docs/runbooks/<alert>.md`: joined to DOCUID_RUNBOOK_BASE_URL. Without
    # one the link is left out: Incident.runbook_url is a URL (a repository path failed full_clean and
    # answered Alertmanager 500, so no alert became an incident), and the alert name says which
    # runbook. Anything else must be a web address: no javascript: links.
    url = resolve_runbook_url(alert.annotations.get("runbook_url", ""))
    return url if url.startswith(("https://", "http://")) and len(url) <= 500 else ""


def alert_impact_lead(alert: Alert) -> timedelta:
    """How long before its startsAt the alert's condition began: its rule's `for:`.

    Prometheus sends an alert's startsAt when it starts firing, after `for:`; a rule that
    carries `impact_lead_seconds` (the same duration) lets the incident, and so its MTTR,
    start at the impact instead.
    """
    try:
        seconds = int(alert.annotations.get("impact_lead_seconds", "0"))
    except ValueError:
        return timedelta(0)
    return timedelta(seconds=seconds) if 0 < seconds <= IMPACT_LEAD_MAX_SECONDS else timedelta(0)


def _open_from_alert(alert: Alert, now: datetime) -> Incident:
    component = _component(alert.labels)
    severity = _severity(alert.labels)
    incident = Incident(
        title=_title(alert),
        severity=severity,
        component=component,
        public=severity == Incident.Severity.CRITICAL
        and alert.labels.get("component", "") not in AUTO_PUBLIC_EXCLUDED_LABELS,
        source=Incident.Source.ALERTMANAGER,
        alert_name=alert.labels.get("alertname", "")[:200],
        alert_fingerprint=alert.fingerprint,
        alert_labels=alert.labels,
        description=alert.annotations.get("description", "")[:5000],
        runbook_url=_runbook(alert),
        # A startsAt in the future (clock skew) would make MTTA negative.
        started_at=min(alert.starts_at - alert_impact_lead(alert), now),
        last_alert_at=now,
    )
    incident.full_clean(validate_constraints=False)  # the insert below enforces the one-open constraint
    with transaction.atomic():  # savepoint: a concurrent delivery's insert may win the constraint
        incident.save()
    _record(incident, "opened", source="alertmanager", alertname=incident.alert_name, fingerprint=alert.fingerprint)
    return incident


def _firing(alert: Alert, now: datetime) -> tuple[Incident, str]:
    incident = (
        Incident.objects.select_for_update()
        .filter(alert_fingerprint=alert.fingerprint)
        .exclude(status=Incident.Status.RESOLVED)
        .first()
    )
    if incident is None:
        try:
            return _open_from_alert(alert, now), "opened"
        except IntegrityError:
            # Another delivery of the same alert (another receiver, a retry) opened it first.
            incident = (
                Incident.objects.select_for_update()
                .filter(alert_fingerprint=alert.fingerprint)
                .exclude(status=Incident.Status.RESOLVED)
                .get()
            )
    incident.last_alert_at = now
    incident.alert_labels = alert.labels
    if incident.status != Incident.Status.MITIGATED:
        _save(incident, ["last_alert_at", "alert_labels"])
        return incident, "unchanged"
    incident.status = Incident.Status.ACKNOWLEDGED if incident.acknowledged_at else Incident.Status.TRIGGERED
    incident.mitigated_at = None
    _save(incident, ["last_alert_at", "alert_labels", "status", "mitigated_at"])
    _add_update(incident, message="The alert is firing again.", public=False)
    _record(incident, "refired", fingerprint=alert.fingerprint)
    return incident, "refired"


def _resolved(alert: Alert, now: datetime) -> tuple[Incident | None, str]:
    incident = (
        Incident.objects.select_for_update()
        .filter(alert_fingerprint=alert.fingerprint)
        .exclude(status=Incident.Status.RESOLVED)
        .first()
    )
    if incident is None:
        # Resolved before we ever saw it firing (or already closed by hand): nothing to mitigate.
        return None, "ignored"
    incident.last_alert_at = now
    if incident.status == Incident.Status.MITIGATED:
        _save(incident, ["last_alert_at"])
        return incident, "unchanged"
    incident.status = Incident.Status.MITIGATED
    incident.mitigated_at = min(alert.ends_at or now, now)
    _save(incident, ["last_alert_at", "status", "mitigated_at"])
    _add_update(
        incident,
        message="The alert has resolved: we are monitoring the recovery.",
        public=incident.public,
    )
    _record(incident, "mitigated", source="alertmanager", fingerprint=alert.fingerprint)
    return incident, "mitigated"


def incident_alerts_receive(*, alerts: list[Alert]) -> list[tuple[Incident | None, str]]:
    """Apply one webhook delivery: each firing alert opens or refreshes its incident, each resolved one mitigates it."""
    now = timezone.now()
    results = []
    with transaction.atomic():
        for alert in alerts:
            results.append(_firing(alert, now) if alert.status == "firing" else _resolved(alert, now))
    return results


# --- the on-call console (admin, `manage.py incident`) --------------------------------


def _require_open(incident: Incident) -> None:
    if incident.status == Incident.Status.RESOLVED:
        raise IncidentError(f"Incident #{incident.pk} is resolved; open a new incident instead.")


def incident_acknowledge(*, incident: Incident, acting_user=None, request=None) -> Incident:
    with transaction.atomic():
        incident = _locked(incident)
        _require_open(incident)
        if incident.acknowledged_at is not None:
            raise IncidentError(
                f"Incident #{incident.pk} was already acknowledged at {incident.acknowledged_at:%H:%M} UTC."
            )
        incident.acknowledged_at = timezone.now()
        incident.acknowledged_by = acting_user if getattr(acting_user, "is_authenticated", False) else None
        fields = ["acknowledged_at", "acknowledged_by"]
        if incident.status == Incident.Status.TRIGGERED:
            incident.status = Incident.Status.ACKNOWLEDGED
            fields.append("status")
        _save(incident, fields)
        _record(incident, "acknowledged", acting_user=acting_user, request=request)
    return incident


def incident_assess_impact(*, incident: Incident, impact: str, acting_user=None, request=None) -> Incident:
    impact = impact.strip()
    if not impact:
        raise IncidentError("Describe the impact: who is affected, how, and how many.")
    with transaction.atomic():
        incident = _locked(incident)
        _require_open(incident)
        incident.impact = impact
        _save(incident, ["impact"])
        _record(incident, "impact_assessed", acting_user=acting_user, request=request)
    return incident


def incident_escalate(*, incident: Incident, escalated_to: str, acting_user=None, request=None) -> Incident:
    escalated_to = escalated_to.strip()
    if not escalated_to:
        raise IncidentError("Name the team or person the incident is escalated to.")
    with transaction.atomic():
        incident = _locked(incident)
        _require_open(incident)
        incident.escalated_to = escalated_to
        incident.escalated_at = timezone.now()
        _save(incident, ["escalated_to", "escalated_at"])
        _add_update(incident, message=f"Escalated to {escalated_to}.", public=False, author=_person(acting_user))
        _record(incident, "escalated", acting_user=acting_user, request=request, escalated_to=escalated_to[:200])
    return incident


def _person(user):
    return user if getattr(user, "is_authenticated", False) else None


def incident_post_update(
    *, incident: Incident, message: str, public: bool, acting_user=None, request=None
) -> IncidentUpdate:
    message = message.strip()
    if not message:
        raise IncidentError("An update needs a message.")
    with transaction.atomic():
        incident = _locked(incident)
        _require_open(incident)
        update = _add_update(incident, message=message, public=public, author=_person(acting_user))
        _record(incident, "update_posted", acting_user=acting_user, request=request, public=public, update=update.pk)
    return update


def incident_set_public(*, incident: Incident, public: bool, acting_user=None, request=None) -> Incident:
    with transaction.atomic():
        incident = _locked(incident)
        incident.public = public
        _save(incident, ["public"])
        _record(incident, "published" if public else "unpublished", acting_user=acting_user, request=request)
    return incident


def incident_mitigate(*, incident: Incident, acting_user=None, request=None) -> Incident:
    with transaction.atomic():
        incident = _locked(incident)
        _require_open(incident)
        if incident.status == Incident.Status.MITIGATED:
            raise IncidentError(f"Incident #{incident.pk} is already mitigated.")
        incident.status = Incident.Status.MITIGATED
        incident.mitigated_at = timezone.now()
        _save(incident, ["status", "mitigated_at"])
        _record(incident, "mitigated", acting_user=acting_user, request=request, source="manual")
    return incident


def incident_resolve(*, incident: Incident, acting_user=None, request=None) -> Incident:
    """Close the incident. Trap: a critical incident needs a complete post-mortem first (the guide's rule)."""
    with transaction.atomic():
        incident = _locked(incident)
        _require_open(incident)
        if incident.severity == Incident.Severity.CRITICAL:
            postmortem = PostMortem.objects.filter(incident=incident).first()
            if postmortem is None or not postmortem.is_complete:
                raise IncidentError(
                    f"Incident #{incident.pk} is critical: it cannot be closed without a blameless post-mortem "
                    "(summary, impact, timeline, root cause, what went well, and at least one action item with "
                    "an owner). Write it in the admin (Post-mortems), then resolve."
                )
        now = timezone.now()
        incident.status = Incident.Status.RESOLVED
        incident.resolved_at = now
        incident.resolved_by = _person(acting_user)
        incident.mitigated_at = incident.mitigated_at or now
        _save(incident, ["status", "resolved_at", "resolved_by", "mitigated_at"])
        _add_update(incident, message="This incident has been resolved.", public=incident.public)
        _record(incident, "resolved", acting_user=acting_user, request=request)
    return incident


def postmortem_save(*, postmortem: PostMortem, acting_user=None, request=None) -> PostMortem:
    """Write a post-mortem (its action items are saved with it by the admin's inline)."""
    created = postmortem.pk is None
    with transaction.atomic():
        postmortem.full_clean()
        postmortem.save()
        _record(
            postmortem.incident,
            "postmortem_written" if created else "postmortem_changed",
            acting_user=acting_user,
            request=request,
        )
    return postmortem
