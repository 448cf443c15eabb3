"""Recovery drills: back up, restore into scratch, verify, and measure the RTO and RPO achieved."""

import logging
import time
from datetime import datetime

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


def _wal_restore_point() -> datetime | None:
    try:
        return dbtools.wal_last_archived_at()
    except DatabaseError:
        return None


def restore_point_at(*, moment: datetime) -> tuple[datetime | None, str]:
    """The newest point a failure at `moment` could be restored to, and what it is (RecoveryDrill.RpoBasis).

    With WAL archiving (PITR) the last archived segment; otherwise the snapshot of the
    newest backup that had succeeded and been verified by then. A drill's own backup
    is taken after `moment`, so it never counts: it would make every drill's RPO a few
    seconds, whatever the real exposure of nightly backups is.
    """
    candidates: list[tuple[datetime, str]] = []
    backup = (
        Backup.objects.filter(
            status=Backup.Status.SUCCEEDED,
            verify_status=Backup.VerifyStatus.OK,
            finished_at__lte=moment,
            verified_at__lte=moment,
            snapshot_at__isnull=False,
        )
        .order_by("-snapshot_at")
        .first()
    )
    if backup is not None:
        candidates.append((backup.snapshot_at, RecoveryDrill.RpoBasis.BACKUP))
    wal = _wal_restore_point()
    if wal is not None and wal <= moment:
        candidates.append((wal, RecoveryDrill.RpoBasis.WAL))
    if not candidates:
        return None, RecoveryDrill.RpoBasis.NONE
    return max(candidates, key=lambda item: item[0])


def recovery_drill_run(*, acting_user=None, progress: Progress | None = None) -> RecoveryDrill:
    """Run a drill and record it; a drill that cannot restore is recorded as failed, not raised.

    RTO is the wall time from "we have an archive in storage" to "a restored copy
    passed every check" (fetch, decrypt, restore, verify). RPO is what a failure when
    the drill started would have lost: the time since the newest restorable point then
    (restore_point_at). No restorable point at all misses the target.
    """
    progress = progress or no_progress
    drill = RecoveryDrill(
        started_at=timezone.now(),
        rto_target_seconds=settings.DOCUID_RTO_SECONDS,
        rpo_target_seconds=settings.DOCUID_RPO_SECONDS,
    )
    drill.full_clean()
    drill.save()
    drill.restore_point_at, drill.rpo_basis = restore_point_at(moment=drill.started_at)
    if drill.restore_point_at is not None:
        drill.rpo_seconds = max(0.0, (drill.started_at - drill.restore_point_at).total_seconds())
    try:
        drill.wal_lag_seconds = dbtools.wal_archive_lag_seconds()
    except DatabaseError:
        drill.wal_lag_seconds = None
    try:
        drill.backup = backup_run(trigger=Backup.Trigger.DRILL, acting_user=acting_user, progress=progress)
        clock = time.monotonic()
        report = backup_verify(backup=drill.backup, acting_user=acting_user, progress=progress)
        drill.rto_seconds = time.monotonic() - clock
        if not report.ok:
            raise OperationsError("the restored copy failed verification: " + "; ".join(report.problems))
        drill.backup_age_seconds = (report.finished_at - drill.backup.snapshot_at).total_seconds()
        met = (
            drill.rto_seconds <= drill.rto_target_seconds
            and drill.rpo_seconds is not None
            and drill.rpo_seconds <= drill.rpo_target_seconds
        )
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
                "rpo_basis": drill.rpo_basis,
                "restore_point_at": drill.restore_point_at.isoformat() if drill.restore_point_at else None,
                "error": drill.error[:300],
            },
        )
    level = logging.INFO if drill.passed else logging.ERROR
    logger.log(
        level,
        "recovery drill %s: RTO %.1fs, RPO %s (newest restorable point: %s)",
        drill.status,
        drill.rto_seconds or -1,
        "unbounded" if drill.rpo_seconds is None else f"{drill.rpo_seconds:.1f}s",
        drill.get_rpo_basis_display(),
    )
    return drill
