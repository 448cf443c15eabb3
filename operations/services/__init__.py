"""Writes of the operations app; commands, tasks and the admin call these and nothing lower."""

from operations.services.backups import backup_pin, backup_replicas_retry, backup_retention_apply, backup_run
from operations.services.drills import recovery_drill_run
from operations.services.restore import backup_restore, restore_plan
from operations.services.verify import backup_replicas_verify, backup_verify

__all__ = [
    "backup_pin",
    "backup_replicas_retry",
    "backup_replicas_verify",
    "backup_restore",
    "backup_retention_apply",
    "backup_run",
    "backup_verify",
    "recovery_drill_run",
    "restore_plan",
]
