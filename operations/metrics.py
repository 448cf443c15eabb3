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

from prometheus_client import Gauge

from audit import metrics
from operations import selectors

logger = logging.getLogger("docuid.operations")

# What tells a fresh install from a broken one (deploy/prometheus/rules.yml): a last-success
# timestamp of 0 means "never", and "never" is only alarming once the install is older than the
# schedule allows. Read from the database at scrape time like the gauges above.
installed_timestamp = Gauge(
    "docuid_installed_timestamp_seconds",
    "Unix time the database was installed (operations' first migration applied).",
    multiprocess_mode="max",
)
recovery_drill_last_timestamp = Gauge(
    "docuid_recovery_drill_last_timestamp_seconds",
    "Unix time the last recovery drill finished, whatever its result; 0: no drill ever ran.",
    multiprocess_mode="max",
)
backup_replicas_pending = Gauge(
    "docuid_backup_replicas_pending",
    "Succeeded backups still missing a checked copy on some replica (kept locally, retried hourly).",
    multiprocess_mode="mostrecent",
)


def refresh_backup_gauges() -> None:
    try:
        backup = selectors.backup_latest_succeeded()
        verified = selectors.backup_latest_verified()
        drill = selectors.drill_latest_finished()
        passed = selectors.drill_latest_passed()
        installed = selectors.installed_at()
        pending = selectors.backups_replica_pending_count()
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
    if installed is not None:
        installed_timestamp.set(installed.timestamp())
    backup_replicas_pending.set(pending)
    if drill is not None:
        if drill.rto_seconds is not None:
            metrics.recovery_drill_rto.set(drill.rto_seconds)
        if drill.rpo_seconds is not None:
            metrics.recovery_drill_rpo.set(drill.rpo_seconds)
        elif drill.rpo_basis == drill.RpoBasis.NONE and drill.status != drill.Status.FAILED:
            # Nothing could have been restored when the drill started: all data was at risk.
            metrics.recovery_drill_rpo.set(float("inf"))
        metrics.recovery_drill_passed.set(1 if drill.passed else 0)
        if drill.finished_at is not None:
            recovery_drill_last_timestamp.set(drill.finished_at.timestamp())
    if passed is not None and passed.finished_at is not None:
        metrics.recovery_drill_last_success_timestamp.set(passed.finished_at.timestamp())
