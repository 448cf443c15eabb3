"""Celery tasks: the daily backup (then retention and verification) and the weekly drill."""

import logging

from celery import shared_task

from operations.errors import BackupError
from operations.models import Backup
from operations.services import backup_retention_apply, backup_run, backup_verify, recovery_drill_run

logger = logging.getLogger("docuid.operations")


@shared_task(
    name="operations.tasks.backup_scheduled",
    autoretry_for=(BackupError,),
    retry_backoff=300,  # 5, 10, 20 minutes: a storage blip passes, a real outage pages (backup age alert)
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=3,
    acks_late=True,
)
def backup_scheduled() -> dict:
    backup = backup_run(trigger=Backup.Trigger.SCHEDULED)
    pruned = backup_retention_apply()
    report = backup_verify(backup=backup)
    return {"backup": backup.name, "pruned": [b.name for b in pruned], "verified": report.ok}


@shared_task(name="operations.tasks.recovery_drill_scheduled", acks_late=True)
def recovery_drill_scheduled() -> dict:
    drill = recovery_drill_run()
    return {
        "drill": drill.pk,
        "status": drill.status,
        "rto_seconds": drill.rto_seconds,
        "rpo_seconds": drill.rpo_seconds,
    }


@shared_task(name="operations.tasks.ops_report_scheduled", acks_late=True)
def ops_report_scheduled(period: str = "daily") -> dict:
    """Daily / weekly ops report mailed to DOCUID_OPS_EMAILS (operations/services/reports.py)."""
    from operations.services.reports import ops_report_build, ops_report_send

    report = ops_report_build(period=period)
    return {"period": period, "recipients": ops_report_send(report=report)}
