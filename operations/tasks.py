"""Celery tasks: the daily backup (then retention and verification) and the weekly drill."""

import logging

from celery import shared_task

from operations.errors import BackupError, OperationsError
from operations.models import Backup
from operations.services import (
    backup_replicas_retry,
    backup_replicas_verify,
    backup_retention_apply,
    backup_run,
    backup_verify,
    recovery_drill_run,
)
from operations.services.status import status_page_publish

logger = logging.getLogger("docuid.operations")


@shared_task(
    name="operations.tasks.backup_scheduled",
    autoretry_for=(BackupError,),
    # Retries wait a random 0-5, 0-10, 0-20 minutes (full jitter): a storage blip passes, a real outage
    # pages (backup age alert). docs/OPERATIONS_GUIDE.md says the same; tests/docuid/test_ops_guide_claims.py checks.
    retry_backoff=300,
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


@shared_task(name="operations.tasks.backup_replicas_retry_scheduled", acks_late=True)
def backup_replicas_retry_scheduled() -> dict:
    """Hourly: copy backups kept locally while a replica was down (or held a bad copy) to that replica."""
    try:
        completed = backup_replicas_retry()
    except OperationsError as exc:  # a backup or restore holds the lock: the next hour tries again
        logger.info("replica retry skipped: %s", exc)
        return {"skipped": str(exc)}
    return {"completed": [b.name for b in completed]}


@shared_task(name="operations.tasks.backup_replicas_verify_scheduled", acks_late=True)
def backup_replicas_verify_scheduled() -> dict:
    """Weekly: read every replica copy back and check it (backup_verify --replica)."""
    checks = backup_replicas_verify()
    return {"ok": sum(c.ok for c in checks), "failed": [f"{c.backup}@{c.storage}" for c in checks if not c.ok]}


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


@shared_task(name="operations.tasks.status_publish", ignore_result=True)
def status_publish() -> None:
    """Keep the status page nginx falls back to fresh (components change without an incident too)."""
    status_page_publish()
