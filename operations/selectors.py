"""Reads about backups and drills (the list command, the admin, the metrics)."""

from django.db.models import QuerySet

from operations.models import Backup, RecoveryDrill


def backups_list(*, limit: int = 50) -> QuerySet[Backup]:
    return Backup.objects.order_by("-started_at")[:limit]


def backup_latest_succeeded() -> Backup | None:
    """ops_backup_status_fin_idx."""
    return Backup.objects.filter(status=Backup.Status.SUCCEEDED).order_by("-finished_at").first()


def backup_latest_verified() -> Backup | None:
    """ops_backup_verified_idx."""
    return Backup.objects.filter(verify_status=Backup.VerifyStatus.OK).order_by("-verified_at").first()


def drill_latest_finished() -> RecoveryDrill | None:
    return RecoveryDrill.objects.exclude(status=RecoveryDrill.Status.RUNNING).order_by("-finished_at").first()


def drill_latest_passed() -> RecoveryDrill | None:
    """ops_drill_status_fin_idx."""
    return RecoveryDrill.objects.filter(status=RecoveryDrill.Status.PASSED).order_by("-finished_at").first()
