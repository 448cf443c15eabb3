"""Backups and recovery drills: what was backed up, where, whether it restores, how fast."""

from django.db import models


class Backup(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        PRUNED = "pruned", "Pruned by retention"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Manual (manage.py backup)"
        SCHEDULED = "scheduled", "Scheduled (Celery beat)"
        DRILL = "drill", "Recovery drill"

    class VerifyStatus(models.TextChoices):
        NEVER = "never", "Not verified"
        OK = "ok", "Verified"
        FAILED = "failed", "Verification failed"

    name = models.CharField(max_length=100, unique=True, help_text="Archive name in every backup storage.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING, help_text="Outcome.")
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL, help_text="Who ran it.")
    started_at = models.DateTimeField(help_text="When the backup started (UTC).")
    finished_at = models.DateTimeField(null=True, blank=True, help_text="When it succeeded or failed (UTC).")
    snapshot_at = models.DateTimeField(
        null=True, blank=True, help_text="Time of the database snapshot: the newest data the backup holds."
    )
    size_bytes = models.BigIntegerField(null=True, blank=True, help_text="Size of the encrypted archive.")
    sha256 = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the encrypted archive.")
    locations = models.JSONField(
        default=list, blank=True, help_text="Storages holding a checked copy (backups, backups_<replica>)."
    )
    app_version = models.CharField(max_length=32, blank=True, help_text="DocuID version that made it.")
    database_vendor = models.CharField(max_length=32, blank=True, help_text="postgresql or sqlite.")
    file_count = models.IntegerField(null=True, blank=True, help_text="Document files in the archive.")
    error = models.TextField(blank=True, help_text="Why it failed.")
    verify_status = models.CharField(
        max_length=16, choices=VerifyStatus.choices, default=VerifyStatus.NEVER, help_text="Last restore test."
    )
    verified_at = models.DateTimeField(null=True, blank=True, help_text="When the last restore test finished.")
    verify_error = models.TextField(blank=True, help_text="Why the last restore test failed.")
    pinned = models.BooleanField(
        default=False, help_text="Kept by retention whatever its age (`manage.py backup pin ID`, or the admin)."
    )
    replicas_pending = models.JSONField(
        default=list,
        blank=True,
        help_text="Replica storages that still lack a checked copy (unreachable, or a bad copy found by "
        "`backup_verify --replica`); retried every hour. Not empty: the backup is degraded.",
    )
    replica_error = models.TextField(blank=True, help_text="Why the last copy to (or check of) a replica failed.")
    replica_checks = models.JSONField(
        default=dict,
        blank=True,
        help_text="Last read-back of each replica copy: {storage: {checked_at, ok, error}} (backup_verify --replica).",
    )

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            # The newest successful backup: metrics, retention, backup age alerts.
            models.Index(fields=["status", "-finished_at"], name="ops_backup_status_fin_idx"),
            # The newest verified backup: metrics and retention's "never delete the only verified one".
            models.Index(fields=["verify_status", "-verified_at"], name="ops_backup_verified_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def degraded(self) -> bool:
        """Succeeded, but not every replica holds a checked copy yet."""
        return self.status == self.Status.SUCCEEDED and bool(self.replicas_pending)


class RecoveryDrill(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed (met RTO and RPO)"
        MISSED = "missed", "Restored, but missed a target"
        FAILED = "failed", "Failed"

    backup = models.ForeignKey(
        Backup, null=True, blank=True, on_delete=models.SET_NULL, related_name="drills", help_text="Backup drilled."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING, help_text="Outcome.")
    started_at = models.DateTimeField(help_text="When the drill started (UTC).")
    finished_at = models.DateTimeField(null=True, blank=True, help_text="When it finished (UTC).")
    rto_seconds = models.FloatField(
        null=True, blank=True, help_text="Achieved recovery time: fetch, decrypt, restore and verify."
    )

    class RpoBasis(models.TextChoices):
        WAL = "wal", "Last archived WAL segment (PITR)"
        BACKUP = "backup", "Last verified backup before the drill's own"
        NONE = "none", "Nothing: no verified backup or archived WAL existed when the drill started"

    rpo_seconds = models.FloatField(
        null=True,
        blank=True,
        help_text="Data a failure when the drill started would have lost: time since the newest restorable point "
        "(empty: no restorable point at all).",
    )
    restore_point_at = models.DateTimeField(
        null=True, blank=True, help_text="Newest restorable point when the drill started (see RPO basis)."
    )
    rpo_basis = models.CharField(
        max_length=16, choices=RpoBasis.choices, blank=True, help_text="What the newest restorable point was."
    )
    backup_age_seconds = models.FloatField(
        null=True,
        blank=True,
        help_text="Age of the drill's own backup when its restore was verified (not the RPO: that backup did not "
        "exist when the drill started).",
    )
    wal_lag_seconds = models.FloatField(
        null=True, blank=True, help_text="PostgreSQL: seconds since the last WAL segment was archived (PITR)."
    )
    rto_target_seconds = models.IntegerField(help_text="DOCUID_RTO_SECONDS at the time.")
    rpo_target_seconds = models.IntegerField(help_text="DOCUID_RPO_SECONDS at the time.")
    error = models.TextField(blank=True, help_text="Why it failed.")

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["status", "-finished_at"], name="ops_drill_status_fin_idx")]

    def __str__(self) -> str:
        return f"drill {self.started_at:%Y-%m-%d %H:%M} {self.status}"

    @property
    def passed(self) -> bool:
        return self.status == self.Status.PASSED
