"""Writes of the operations app; commands, tasks and the admin call these and nothing lower."""

from operations.services.backups import backup_retention_apply, backup_run
from operations.services.drills import recovery_drill_run
from operations.services.restore import backup_restore, restore_plan
from operations.services.verify import backup_verify

__all__ = [
    "backup_restore",
    "backup_retention_apply",
    "backup_run",
    "backup_verify",
    "recovery_drill_run",
    "restore_plan",
]
