"""The audit trail: one append-only table of security-relevant events, sealed into hash-linked batches.

Appending is a plain INSERT (no lock): `hash` is the event's content hash and, on
PostgreSQL, a trigger stamps `txid`. The sealer (audit.sealer.audit_seal, every few
seconds) takes committed events in (txid, id) order and records each run of them as
an AuditBatch: how many, the (txid, id) of its last event, a Merkle root over them and
the previous batch's hash. Events are never updated, not even to be sealed: a batch's
events are the next `event_count` events in (txid, id) order. Events written before
migration 0005 keep their per-event chain (`prev_hash`); the first batch follows it.
"""

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
        raise AppendOnlyError("Audit events are written one at a time through audit.record(), which hashes them.")

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
        null=True,
        editable=False,
        help_text="Legacy chain (before migration 0005): hash of the previous event. Empty for sealed events.",
    )
    hash = models.CharField(
        max_length=64,
        editable=False,
        help_text="SHA-256 of this event's fields (legacy events: and of the previous hash).",
    )
    txid = models.BigIntegerField(
        null=True,
        editable=False,
        help_text="PostgreSQL: id of the inserting transaction (set by a trigger); the sealing order is (txid, id).",
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
            # Sealing order: the sealer's next events, the batches' members, the unsealed tail.
            models.Index(
                fields=["txid", "id"], condition=models.Q(prev_hash__isnull=True), name="audit_seal_order_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.outcome} #{self.pk}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None or not self._state.adding:
            raise AppendOnlyError("Audit events are append-only: an existing event cannot be saved again.")
        if not self.hash:
            raise AppendOnlyError("Audit events are written only through audit.record(), which hashes them.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events are append-only: they cannot be deleted.")


class AuditChainHeadQuerySet(models.QuerySet):
    def delete(self):
        raise AppendOnlyError("The audit chain head is never removed; it only moves forward.")


class AuditChainHead(models.Model):
    """The trail's head: the legacy chain's newest event (frozen since 0005) and the newest sealed batch.

    A chain alone cannot show its newest links gone: what is left still links up.
    `audit_verify` checks that the trail still reaches what this row records. One row
    (id 1); only the batch head moves, only forward, in the sealer's transaction
    (triggers on both databases, migrations audit/0004 and 0005).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    last_event_id = models.BigIntegerField(editable=False, help_text="Id of the legacy chain's newest event (0: none).")
    last_hash = models.CharField(max_length=64, editable=False, help_text="Hash of the legacy chain's newest event.")
    last_batch_seq = models.BigIntegerField(default=0, editable=False, help_text="Seq of the newest batch (0: none).")
    last_batch_hash = models.CharField(
        max_length=64, default="", blank=True, editable=False, help_text="Hash of the newest batch."
    )

    objects = AuditChainHeadQuerySet.as_manager()

    class Meta:
        db_table = "audit_chainhead"  # named in audit/migrations/0004's SQL
        verbose_name = "audit chain head"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_chainhead_single_row")]

    def __str__(self) -> str:
        return f"audit chain head: event {self.last_event_id}"

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("The audit chain head is never removed; it only moves forward.")


class AuditBatchQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Sealed audit batches are append-only: they cannot be updated.")

    def delete(self):
        raise AppendOnlyError("Sealed audit batches are append-only: they cannot be deleted.")


class AuditBatch(models.Model):
    """One run of sealed events, their Merkle root, and the previous batch's hash.

    Its events are the sealed trail's positions first..last: in (txid, id) order, the
    `event_count` events after the previous batch's last one, ending at (last_txid,
    last_event_id). Written only by the sealer (audit.sealer.audit_seal); never changed
    (triggers, migrations audit/0005, 0006). `hash` covers every field, `prev_hash`
    among them, so the batches form a chain that starts at the legacy chain's head
    (64 zeros if none).
    """

    seq = models.BigIntegerField(primary_key=True, editable=False, help_text="1, 2, 3, ... in sealing order.")
    first_position = models.BigIntegerField(editable=False, help_text="Position of the batch's first event (from 1).")
    last_position = models.BigIntegerField(editable=False, help_text="Position of the batch's last event.")
    last_txid = models.BigIntegerField(
        null=True, editable=False, help_text="PostgreSQL: txid of the batch's last event (the sealing order's key)."
    )
    last_event_id = models.BigIntegerField(editable=False, help_text="Id of the batch's last event.")
    event_count = models.PositiveIntegerField(editable=False)
    merkle_root = models.CharField(max_length=64, editable=False, help_text="RFC 6962 Merkle root of the events.")
    prev_hash = models.CharField(
        max_length=64,
        unique=True,  # the batch chain cannot fork
        editable=False,
        help_text="Hash of the previous batch (the legacy chain's head for the first).",
    )
    hash = models.CharField(max_length=64, editable=False, help_text="SHA-256 of this batch's fields.")
    sealed_at = models.DateTimeField(editable=False)
    horizon_txid = models.BigIntegerField(
        null=True,
        editable=False,
        help_text="PostgreSQL: events of transactions below this id were final when sealed (not hashed).",
    )

    objects = AuditBatchQuerySet.as_manager()

    class Meta:
        db_table = "audit_batch"  # named in audit/migrations/0005's SQL
        verbose_name = "sealed audit batch"
        verbose_name_plural = "sealed audit batches"

    def __str__(self) -> str:
        return f"audit batch {self.seq}: positions {self.first_position}-{self.last_position}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError("Sealed audit batches are append-only: a batch cannot be saved again.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Sealed audit batches are append-only: they cannot be deleted.")
