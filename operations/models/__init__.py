"""operations models, one module per concern; re-exported here for Django and for callers."""

from operations.models.backups import Backup, RecoveryDrill

__all__ = ["Backup", "RecoveryDrill"]
