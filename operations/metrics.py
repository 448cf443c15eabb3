"""Backup and drill gauges, derived from the database at scrape time.

A backup runs in a Celery worker or a management command; a gauge set there is
invisible to the web process that serves /metrics (or dies with a Celery child).
The database is the one place every process agrees on, so /metrics sets the
gauges declared in audit/metrics.py from the newest Backup / RecoveryDrill rows
just before it renders (four indexed single-row queries). In multiprocess mode
the scraping process's values are the most recent ("mostrecent") or the newest
("max"), so the aggregate is the database's truth too.
"""

import logging

from audit import metrics
from operations import selectors

logger = logging.getLogger("docuid.operations")


def refresh_backup_gauges() -> None:
    try:
        backup = selectors.backup_latest_succeeded()
        verified = selectors.backup_latest_verified()
        drill = selectors.drill_latest_finished()
        passed = selectors.drill_latest_passed()
    except Exception:  # noqa: BLE001 — e.g. DatabaseError; /metrics must never fail because of it
        # /metrics must answer while the database is down (or being restored); stale gauges then
        # age, which is what the backup-age alerts watch.
        logger.warning("backup metrics not refreshed: database unavailable")
        return
    if backup is not None and backup.finished_at is not None:
        metrics.backup_last_success_timestamp.set(backup.finished_at.timestamp())
        metrics.backup_duration.set(backup.duration_seconds or 0)
        metrics.backup_size.set(backup.size_bytes or 0)
    if verified is not None and verified.verified_at is not None:
        metrics.backup_verify_last_success_timestamp.set(verified.verified_at.timestamp())
    if drill is not None:
        if drill.rto_seconds is not None:
            metrics.recovery_drill_rto.set(drill.rto_seconds)
        if drill.rpo_seconds is not None:
            metrics.recovery_drill_rpo.set(drill.rpo_seconds)
        metrics.recovery_drill_passed.set(1 if drill.passed else 0)
    if passed is not None and passed.finished_at is not None:
        metrics.recovery_drill_last_success_timestamp.set(passed.finished_at.timestamp())
