"""Recovery drills: back up, restore into scratch, verify, and measure the RTO and RPO achieved."""

import logging
import time

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from audit import record
from audit.actions import Action, Outcome
from operations import dbtools
from operations.errors import OperationsError
from operations.models import Backup, RecoveryDrill
from operations.services.backups import backup_run
from operations.services.common import Progress, no_progress
from operations.services.verify import backup_verify

logger = logging.getLogger("docuid.operations")


def _wal_lag() -> float | None:
    try:
        return dbtools.wal_archive_lag_seconds()
    except DatabaseError:
        return None


def recovery_drill_run(*, acting_user=None, progress: Progress | None = None) -> RecoveryDrill:
    """Run a drill and record it; a drill that cannot restore is recorded as failed, not raised.

    RTO is the wall time from "we have an archive in storage" to "a restored copy
    passed every check" (fetch, decrypt, restore, verify). RPO is what a restore
    at that moment would lose: with WAL archiving (PITR) the archive lag, else the
    age of the backup's snapshot.
    """
    progress = progress or no_progress
    drill = RecoveryDrill(
        started_at=timezone.now(),
        rto_target_seconds=settings.DOCUID_RTO_SECONDS,
        rpo_target_seconds=settings.DOCUID_RPO_SECONDS,
    )
    drill.full_clean()
    drill.save()
    try:
        drill.backup = backup_run(trigger=Backup.Trigger.DRILL, acting_user=acting_user, progress=progress)
        clock = time.monotonic()
        report = backup_verify(backup=drill.backup, acting_user=acting_user, progress=progress)
        drill.rto_seconds = time.monotonic() - clock
        if not report.ok:
            raise OperationsError("the restored copy failed verification: " + "; ".join(report.problems))
        drill.backup_age_seconds = (report.finished_at - drill.backup.snapshot_at).total_seconds()
        drill.wal_lag_seconds = _wal_lag()
        drill.rpo_seconds = drill.wal_lag_seconds if drill.wal_lag_seconds is not None else drill.backup_age_seconds
        met = drill.rto_seconds <= drill.rto_target_seconds and drill.rpo_seconds <= drill.rpo_target_seconds
        drill.status = RecoveryDrill.Status.PASSED if met else RecoveryDrill.Status.MISSED
    except OperationsError as exc:
        drill.status = RecoveryDrill.Status.FAILED
        drill.error = str(exc)[:2000]
    drill.finished_at = timezone.now()
    with transaction.atomic():
        drill.save()
        record(
            Action.OPS_RECOVERY_DRILL,
            outcome=Outcome.SUCCESS if drill.passed else Outcome.FAILURE,
            actor=acting_user,
            target=drill,
            data={
                "status": drill.status,
                "backup": drill.backup.name if drill.backup else None,
                "rto_seconds": drill.rto_seconds,
                "rpo_seconds": drill.rpo_seconds,
                "rto_target_seconds": drill.rto_target_seconds,
                "rpo_target_seconds": drill.rpo_target_seconds,
                "error": drill.error[:300],
            },
        )
    level = logging.INFO if drill.passed else logging.ERROR
    logger.log(
        level, "recovery drill %s: RTO %.1fs, RPO %.1fs", drill.status, drill.rto_seconds or -1, drill.rpo_seconds or -1
    )
    return drill
