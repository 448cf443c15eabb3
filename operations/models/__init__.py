"""operations models, one module per concern; re-exported here for Django and for callers."""

from operations.models.backups import Backup, RecoveryDrill
from operations.models.incidents import Incident, IncidentUpdate, PostMortem, PostMortemActionItem

__all__ = ["Backup", "Incident", "IncidentUpdate", "PostMortem", "PostMortemActionItem", "RecoveryDrill"]
