"""Incidents: what on-call and support see as the one truth, opened by Alertmanager or by hand."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q


class Incident(models.Model):
    class Severity(models.TextChoices):
        CRITICAL = "critical", "Critical (pages on-call)"
        WARNING = "warning", "Warning"
        INFO = "info", "Info"

    class Status(models.TextChoices):
        TRIGGERED = "triggered", "Triggered"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        MITIGATED = "mitigated", "Mitigated (monitoring)"
        RESOLVED = "resolved", "Resolved"

    class Component(models.TextChoices):
        # The components of the public status page.
        WEB = "web", "Web and API"
        LOGIN = "login", "Login"
        DOCUMENTS = "documents", "Documents"
        BACKUPS = "backups", "Backups"

    class Source(models.TextChoices):
        ALERTMANAGER = "alertmanager", "Alertmanager"
        MANUAL = "manual", "Opened by hand"

    title = models.CharField(max_length=200, help_text="Short description, shown on the status page if public.")
    severity = models.CharField(
        max_length=16, choices=Severity.choices, default=Severity.WARNING, help_text="Critical needs a post-mortem."
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.TRIGGERED, help_text="Where the incident stands."
    )
    component = models.CharField(
        max_length=16, choices=Component.choices, default=Component.WEB, help_text="Status page component affected."
    )
    public = models.BooleanField(
        default=False, help_text="Shown on the public status page (with its public updates) while ongoing."
    )
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL, help_text="Who opened it.")
    alert_name = models.CharField(
        max_length=200, blank=True, help_text="Alertmanager alertname, if opened by an alert."
    )
    alert_fingerprint = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="Alertmanager fingerprint: one open incident per alert."
    )
    alert_labels = models.JSONField(default=dict, blank=True, help_text="The alert's labels when it last fired.")
    description = models.TextField(blank=True, help_text="What the alert (or the person opening it) said.")
    runbook_url = models.URLField(max_length=500, blank=True, help_text="Runbook for the alert.")
    started_at = models.DateTimeField(help_text="When the problem started (the alert's startsAt).")
    last_alert_at = models.DateTimeField(null=True, blank=True, help_text="When Alertmanager last reported it.")
    acknowledged_at = models.DateTimeField(null=True, blank=True, help_text="When someone took it on.")
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who took it on.",
    )
    impact = models.TextField(blank=True, help_text="Impact assessment: who is affected, how, how many.")
    escalated_to = models.CharField(max_length=200, blank=True, help_text="Team or person it was escalated to.")
    escalated_at = models.DateTimeField(null=True, blank=True, help_text="When it was escalated.")
    mitigated_at = models.DateTimeField(
        null=True, blank=True, help_text="When users stopped being affected (alert resolved, or by hand)."
    )
    resolved_at = models.DateTimeField(null=True, blank=True, help_text="When the incident was closed.")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who closed it.",
    )

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # Alertmanager sends the same alert again and again (and to several receivers at
            # once); the database, not a read-then-write race, keeps it to one open incident.
            models.UniqueConstraint(
                fields=["alert_fingerprint"],
                condition=~Q(alert_fingerprint="") & ~Q(status="resolved"),
                name="ops_incident_open_fingerprint_uniq",
            ),
        ]
        indexes = [
            # incidents_ongoing (status page, console): not resolved, newest first.
            models.Index(fields=["status", "-started_at"], name="ops_incident_status_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.RESOLVED

    @property
    def time_to_acknowledge(self):
        """MTTA's sample: started -> acknowledged (0 if acknowledged before the alert's startsAt arrived)."""
        if self.acknowledged_at is None:
            return None
        return max(self.acknowledged_at - self.started_at, timedelta(0))

    @property
    def time_to_recover(self):
        """MTTR's sample: started -> users no longer affected (mitigated; resolving mitigates too)."""
        if self.mitigated_at is None:
            return None
        return max(self.mitigated_at - self.started_at, timedelta(0))


class IncidentUpdate(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    time = models.DateTimeField(help_text="When the update was posted.")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who posted it; empty for the system (Alertmanager).",
    )
    message = models.TextField(help_text="What is known, what is being done, when the next update comes.")
    public = models.BooleanField(default=False, help_text="Shown on the public status page.")

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [models.Index(fields=["incident", "public", "-time"], name="ops_incupdate_public_idx")]

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M} {self.message[:60]}"


class PostMortem(models.Model):
    """Blameless: systems and decisions, never people's faults."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="postmortem")
    summary = models.TextField(help_text="What happened, in two or three sentences.")
    impact = models.TextField(help_text="Who was affected, for how long, how badly (numbers where known).")
    timeline = models.TextField(help_text="Times (UTC) and what happened or was done, one per line.")
    root_cause = models.TextField(help_text="Why it happened: the conditions that allowed it, not who.")
    what_went_well = models.TextField(help_text="What helped detect, understand or fix it.")
    what_went_wrong = models.TextField(blank=True, help_text="What made it worse or slower.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Post-mortem of incident #{self.incident_id}"

    @property
    def is_complete(self) -> bool:
        required = (self.summary, self.impact, self.timeline, self.root_cause, self.what_went_well)
        return all(text.strip() for text in required) and self.action_items.exclude(owner="").exists()


class PostMortemActionItem(models.Model):
    postmortem = models.ForeignKey(PostMortem, on_delete=models.CASCADE, related_name="action_items")
    action = models.CharField(max_length=300, help_text="What will be changed so it does not happen again.")
    owner = models.CharField(max_length=200, help_text="Who owns it (person or team).")
    due = models.DateField(null=True, blank=True, help_text="Target date.")
    done = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.action} ({self.owner})"
