"""Reads about backups and drills (the list command, the admin, the metrics), incidents and the status page."""

from datetime import UTC, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from operations.models import Backup, Incident, IncidentUpdate, RecoveryDrill


def backups_list(*, limit: int = 50) -> QuerySet[Backup]:
    return Backup.objects.order_by("-started_at")[:limit]


def backup_latest_succeeded() -> Backup | None:
    """ops_backup_status_fin_idx."""
    return Backup.objects.filter(status=Backup.Status.SUCCEEDED).order_by("-finished_at").first()


def backup_latest_verified() -> Backup | None:
    """ops_backup_verified_idx."""
    return Backup.objects.filter(verify_status=Backup.VerifyStatus.OK).order_by("-verified_at").first()


def backups_replica_pending_count() -> int:
    return Backup.objects.filter(status=Backup.Status.SUCCEEDED).exclude(replicas_pending=[]).count()


def installed_at():
    """When this database's schema was created: operations' first migration (None if unrecorded)."""
    from django.db.migrations.recorder import MigrationRecorder

    return (
        MigrationRecorder.Migration.objects.filter(app="operations", name="0001_initial")
        .values_list("applied", flat=True)
        .first()
    )


def drill_latest_finished() -> RecoveryDrill | None:
    return RecoveryDrill.objects.exclude(status=RecoveryDrill.Status.RUNNING).order_by("-finished_at").first()


def drill_latest_passed() -> RecoveryDrill | None:
    """ops_drill_status_fin_idx."""
    return RecoveryDrill.objects.filter(status=RecoveryDrill.Status.PASSED).order_by("-finished_at").first()


# --- incidents and the status page ---------------------------------------------------
# (incidents: operations/models/incidents.py; writes in operations/services/incidents.py)

STATUS_CACHE_KEY = "operations:status-snapshot:v1"
STATUS_CACHE_SECONDS = 30
BACKUP_STALE_SECONDS = 26 * 3600  # as DocuIDBackupMissing: daily schedule plus 2 hours
# Documents are degraded while recent opens and downloads fail in storage (audit reason
# storage_error): at least DOCUMENTS_FAILING_MIN of them in the last DOCUMENTS_WINDOW_SECONDS,
# and at least half of all attempts. Nothing read recently (a fresh install, a quiet night) is no
# evidence of a fault; one unlucky read is not an outage.
DOCUMENTS_WINDOW_SECONDS = 10 * 60
DOCUMENTS_FAILING_MIN = 3


def incidents_list(*, include_resolved: bool = False, limit: int = 50):
    incidents = Incident.objects.select_related("acknowledged_by", "resolved_by")
    if not include_resolved:
        incidents = incidents.exclude(status=Incident.Status.RESOLVED)
    return incidents.order_by("-started_at")[:limit]


def incident_get(*, incident_id: int):
    """The incident, or None; ids come from people typing them."""
    return Incident.objects.filter(pk=incident_id).first()


def status_snapshot() -> dict:
    """What /status shows, as plain data cached for STATUS_CACHE_SECONDS (two indexed queries per refresh)."""
    snapshot = cache.get(STATUS_CACHE_KEY)
    if snapshot is None:
        snapshot = _status_snapshot_build()
        cache.set(STATUS_CACHE_KEY, snapshot, STATUS_CACHE_SECONDS)
    return snapshot


def status_snapshot_forget() -> None:
    cache.delete(STATUS_CACHE_KEY)


_STATE_RANK = {"operational": 0, "monitoring": 1, "degraded": 2, "outage": 3}


def documents_failing(*, now) -> bool:
    from audit.selectors import document_reads_since

    succeeded, failed = document_reads_since(since=now - timedelta(seconds=DOCUMENTS_WINDOW_SECONDS))
    return failed >= DOCUMENTS_FAILING_MIN and failed >= succeeded


def backup_first_pending(*, now) -> bool:
    """No backup is due yet: the schema is younger than BACKUP_STALE_SECONDS (a fresh install)."""
    installed = installed_at()
    return installed is not None and (now - installed).total_seconds() <= BACKUP_STALE_SECONDS


def backup_next_scheduled(*, now):
    """The next run of the daily scheduled backup (DOCUID_BACKUP_TIME, UTC)."""
    at = now.astimezone(UTC).replace(
        hour=settings.DOCUID_BACKUP_HOUR, minute=settings.DOCUID_BACKUP_MINUTE, second=0, microsecond=0
    )
    return at if at > now else at + timedelta(days=1)


SERVICE_WIDE = (Incident.Component.WEB, Incident.Component.LOGIN, Incident.Component.DOCUMENTS)


def _status_snapshot_build() -> dict:
    public_updates = IncidentUpdate.objects.filter(public=True).order_by("-time", "-id")
    ongoing = list(
        Incident.objects.filter(public=True)
        .exclude(status=Incident.Status.RESOLVED)
        .order_by("-started_at")
        .prefetch_related(Prefetch("updates", queryset=public_updates, to_attr="public_updates"))[:20]
    )
    states = dict.fromkeys(Incident.Component.values, "operational")
    for incident in ongoing:
        if incident.status == Incident.Status.MITIGATED:
            state = "monitoring"
        elif incident.severity == Incident.Severity.CRITICAL:
            state = "outage"
        else:
            state = "degraded"
        # An alert with `scope: service` (DocuID unreachable) takes every part people use down with it.
        affected = SERVICE_WIDE if incident.alert_labels.get("scope") == "service" else (incident.component,)
        for component in affected:
            if _STATE_RANK[state] > _STATE_RANK[states[component]]:
                states[component] = state
    backup = backup_latest_succeeded()
    now = timezone.now()
    if documents_failing(now=now) and _STATE_RANK[states[Incident.Component.DOCUMENTS]] < _STATE_RANK["degraded"]:
        states[Incident.Component.DOCUMENTS] = "degraded"
    backup_stale = backup is None or (now - backup.finished_at).total_seconds() > BACKUP_STALE_SECONDS
    first_backup_at = {}
    if backup is None and backup_first_pending(now=now):
        # A fresh install has no backup yet and none is due: as DocuIDBackupMissing, no alarm
        # until BACKUP_STALE_SECONDS after the install, only a note saying when the first runs.
        backup_stale = False
        first_backup_at[Incident.Component.BACKUPS] = backup_next_scheduled(now=now)
    if backup_stale and states[Incident.Component.BACKUPS] == "operational":
        states[Incident.Component.BACKUPS] = "degraded"
    labels = dict(Incident.Component.choices)
    return {
        "generated_at": now,
        "components": [
            {"key": key, "label": labels[key], "state": states[key], "first_backup_at": first_backup_at.get(key)}
            for key in Incident.Component.values
        ],
        "incidents": [
            {
                "id": incident.pk,
                "title": incident.title,
                "component": labels[incident.component],
                "severity": incident.severity,
                "status": incident.get_status_display(),
                "started_at": incident.started_at,
                "updates": [{"time": u.time, "message": u.message} for u in incident.public_updates[:10]],
            }
            for incident in ongoing
        ],
    }
