"""Liveness of the Celery worker and beat, and of the scheduled backup, for Prometheus (job docuid-worker).

- docuid_worker_up: 1 while the worker's consumer is ready (set in the parent on worker_ready).
- docuid_beat_heartbeat_timestamp_seconds: beat sends `docuid.beat_heartbeat` every
  DOCUID_BEAT_HEARTBEAT_SECONDS and a worker child sets it, so its age proves the whole
  chain beat -> broker -> worker; it stops moving when any of them stalls.
- docuid_scheduled_backup_last_start_timestamp_seconds: when the worker last started the
  scheduled backup task. Seeded at worker start from the newest backup in the database (or
  the start time on a fresh install), so a restart neither hides a missed backup nor fakes one.

Gauges written in pool children survive them ("max"); the parent's up gauge goes with it ("livemax").
"""

import logging
import time

from prometheus_client import Gauge

BACKUP_TASK = "operations.tasks.backup_scheduled"

logger = logging.getLogger("docuid.worker")

worker_up = Gauge("docuid_worker_up", "1 while the Celery worker is consuming tasks.", multiprocess_mode="livemax")
beat_heartbeat = Gauge(
    "docuid_beat_heartbeat_timestamp_seconds",
    "Unix time a worker last ran beat's heartbeat task (beat, broker and worker all work).",
    multiprocess_mode="max",
)
scheduled_backup_last_start = Gauge(
    "docuid_scheduled_backup_last_start_timestamp_seconds",
    "Unix time the worker last started the scheduled backup task.",
    multiprocess_mode="max",
)


def worker_started() -> None:
    worker_up.set(1)
    scheduled_backup_last_start.set(_last_backup_start() or time.time())


def _last_backup_start() -> float | None:
    try:
        from operations.models import Backup

        newest = Backup.objects.order_by("-started_at").values_list("started_at", flat=True).first()
    except Exception:  # noqa: BLE001 — a worker must start (and report up) while the database is down
        logger.warning("last backup start not read: database unavailable")
        return None
    return newest.timestamp() if newest else None


def task_started(task_name: str) -> None:
    if task_name == BACKUP_TASK:
        scheduled_backup_last_start.set(time.time())


def beat_heartbeat_received() -> None:
    beat_heartbeat.set(time.time())
