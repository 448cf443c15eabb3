"""The audit trail: one append-only, hash-chained table of security-relevant events."""

from django.conf import settings
from django.db import models

from audit.actions import Action, Outcome


class AppendOnlyError(RuntimeError):
    """Raised on any attempt to change or remove an audit event."""


class ChoiceCharField(models.CharField):
    """A CharField whose choices stay out of migrations.

    Every app adds Action members as it grows; with the choices in the migration
    state each addition would need a new audit migration (and parallel ones would
    conflict). Validation and display still use the choices.
    """

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("choices", None)
        return name, path, args, kwargs


class AuditEventQuerySet(models.QuerySet):
    """Reads only: bulk writes would bypass the chain, bulk changes would break it."""

    def update(self, **kwargs):
        raise AppendOnlyError("Audit events are append-only: they cannot be updated.")

    def delete(self):
        raise AppendOnlyError("Audit events are append-only: they cannot be deleted.")

    def bulk_create(self, objs, *args, **kwargs):
        raise AppendOnlyError("Audit events are written one at a time through audit.record(), which chains them.")

    def bulk_update(self, objs, fields, *args, **kwargs):
        raise AppendOnlyError("Audit events are append-only: they cannot be updated.")


class AuditEvent(models.Model):
    time = models.DateTimeField(editable=False, help_text="When the event was recorded (UTC).")
    action = ChoiceCharField(max_length=64, choices=Action.choices, help_text="What happened.")
    outcome = ChoiceCharField(max_length=16, choices=Outcome.choices, help_text="Whether it succeeded.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
        db_index=False,  # audit_actor_time_idx starts with actor_id
        help_text="Who did it; empty for the system, or once the person has been deleted.",
    )
    actor_repr = models.CharField(
        max_length=255, blank=True, help_text="Who did it, as text (name and masked phone); kept after deletion."
    )
    target_type = models.CharField(max_length=100, blank=True, help_text="Kind of object acted on, as app_label.model.")
    target_id = models.CharField(max_length=64, blank=True, help_text="Primary key of the object acted on.")
    target_repr = models.CharField(max_length=255, blank=True, help_text="The object acted on, as text.")
    request_id = models.CharField(
        max_length=128, blank=True, help_text="X-Request-ID of the request; matches the log lines."
    )
    masked_ip = models.CharField(
        max_length=64, blank=True, help_text="Client network: IPv4 /24 (203.0.113.x) or IPv6 /48. Never the full IP."
    )
    user_agent = models.CharField(max_length=256, blank=True, help_text="Client user agent (truncated).")
    data = models.JSONField(default=dict, blank=True, help_text="Details of the event. Never secrets.")
    prev_hash = models.CharField(
        max_length=64,
        unique=True,  # two events can never claim the same predecessor: the chain cannot fork
        editable=False,
        help_text="Hash of the previous event (64 zeros for the first).",
    )
    hash = models.CharField(
        max_length=64, editable=False, help_text="SHA-256 of the previous hash and this event's fields."
    )

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = "audit event"
        indexes = [
            # audit_events_by_actor: "what did this person do", newest first.
            models.Index(fields=["actor", "-time"], name="audit_actor_time_idx"),
            # audit_events_for_target: "who touched this document", newest first.
            models.Index(fields=["target_type", "target_id", "-time"], name="audit_target_time_idx"),
            # audit_events_for_export(action=...) and reports per kind of event.
            models.Index(fields=["action", "-time"], name="audit_action_time_idx"),
            # audit_events_for_export(since/until) and the admin's date hierarchy.
            models.Index(fields=["time"], name="audit_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.outcome} #{self.pk}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None or not self._state.adding:
            raise AppendOnlyError("Audit events are append-only: an existing event cannot be saved again.")
        if not self.hash:
            raise AppendOnlyError("Audit events are written only through audit.record(), which chains them.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events are append-only: they cannot be deleted.")


class AuditChainHeadQuerySet(models.QuerySet):
    def delete(self):
        raise AppendOnlyError("The audit chain head is never removed; it only moves forward.")


class AuditChainHead(models.Model):
    """The newest event of the chain, recorded beside it in the same transaction as each append.

    The chain alone cannot show its newest events gone: what is left still links up.
    `audit_verify` checks that the chain still reaches this event with this hash. One
    row (id 1); it only moves forward (triggers on both databases, migration audit/0004).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    last_event_id = models.BigIntegerField(editable=False, help_text="Id of the newest event (0: none yet).")
    last_hash = models.CharField(max_length=64, editable=False, help_text="Hash of the newest event.")

    objects = AuditChainHeadQuerySet.as_manager()

    class Meta:
        db_table = "audit_chainhead"  # named in audit/migrations/0004's SQL
        verbose_name = "audit chain head"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_chainhead_single_row")]

    def __str__(self) -> str:
        return f"audit chain head: event {self.last_event_id}"

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("The audit chain head is never removed; it only moves forward.")
