"""The Celery app, configured from Django settings (CELERY_* names).

With no broker configured, settings make tasks run eagerly in the caller.

Metrics. A prefork worker runs tasks in child processes while its metrics server
(CELERY_WORKER_METRICS_PORT, job docuid-worker) runs in the parent: a counter a
task increments (auth.expired from the login sweep) lived only in the child. So a
worker runs prometheus_client's multiprocess mode in its own directory
(CELERY_WORKER_PROMETHEUS_MULTIPROC_DIR, never the web's: gunicorn wipes that one
at start) and the parent serves the MultiProcessCollector. The variable must be set
before prometheus_client is first imported (it picks its value class at import):
this module is what `celery -A docuid` imports first, so it is set here.

Logging. Celery replaces the root logger's handlers with its own text format;
answering its setup_logging signal makes worker and beat use settings.LOGGING
(JSON lines, PII masked) instead.
"""

import logging
import logging.config
import os
import sys
import time
from pathlib import Path

from celery import Celery
from celery.beat import PersistentScheduler
from celery.signals import setup_logging, task_prerun, worker_process_shutdown, worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docuid.settings")

beat_log = logging.getLogger("docuid.beat")


def _celery_command() -> str | None:
    """'worker' / 'beat' when this process is `celery ... worker|beat`, else None."""
    program = Path(sys.argv[0] if sys.argv else "")
    if program.name != "celery" and program.parts[-2:] != ("celery", "__main__.py"):
        return None
    return next((arg for arg in sys.argv[1:] if arg in {"worker", "beat"}), None)


def worker_multiproc_dir() -> Path:
    """The worker's own multiprocess directory (read before Django's settings are set up)."""
    value = os.environ.get("CELERY_WORKER_PROMETHEUS_MULTIPROC_DIR", "").strip()
    if value:
        return Path(value)
    var_dir = os.environ.get("DOCUID_VAR_DIR", "").strip() or Path(__file__).resolve().parent.parent / "var"
    return Path(var_dir) / "prometheus-worker"


def prepare_worker_metrics(directory: Path) -> None:
    """Point this process (and the children it forks) at an empty worker metrics directory."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # a previous run's values: counters restart at 0
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


if _celery_command() == "worker":
    prepare_worker_metrics(worker_multiproc_dir())
elif _celery_command() == "beat":
    # Beat counts nothing; an inherited PROMETHEUS_MULTIPROC_DIR (the web's) must not get its files.
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

app = Celery("docuid")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect(dispatch_uid="docuid.celery.logging")
def configure_logging(**kwargs) -> None:
    """Worker and beat log through settings.LOGGING: JSON, PII masked, like the web."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@worker_ready.connect(dispatch_uid="docuid.celery.serve_worker_metrics")
def serve_worker_metrics(sender=None, **kwargs) -> None:
    """Expose the worker's metrics (all its processes) for Prometheus (job docuid-worker)."""
    from django.conf import settings

    from docuid import worker_metrics
    from docuid.metrics import start_worker_metrics_server

    worker_metrics.worker_started()
    if settings.CELERY_WORKER_METRICS_PORT:
        start_worker_metrics_server(settings.CELERY_WORKER_METRICS_PORT)


@worker_shutdown.connect(dispatch_uid="docuid.celery.worker_down")
def worker_down(sender=None, **kwargs) -> None:
    from docuid import worker_metrics

    worker_metrics.worker_up.set(0)


@worker_process_shutdown.connect(dispatch_uid="docuid.celery.child_exit")
def child_exit(pid=None, **kwargs) -> None:
    """A pool child's live gauges go with it (its counters stay in the totals)."""
    from prometheus_client import multiprocess

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid or os.getpid())


@task_prerun.connect(dispatch_uid="docuid.celery.task_started")
def task_started(sender=None, **kwargs) -> None:
    from docuid import worker_metrics

    worker_metrics.task_started(getattr(sender, "name", ""))


class LoggingScheduler(PersistentScheduler):
    """Beat's scheduler, logging every entry it sends (one JSON line each) and keeping its file under the var dir."""

    def __init__(self, *args, **kwargs):
        filename = kwargs.get("schedule_filename")
        if filename:
            Path(filename).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(*args, **kwargs)

    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        started = time.monotonic()
        result = super().apply_async(entry, producer=producer, advance=advance, **kwargs)
        beat_log.info(
            "beat sent %s",
            entry.name,
            extra={
                "entry": entry.name,
                "task": entry.task,
                "task_id": result.id,
                "duration_ms": round((time.monotonic() - started) * 1000, 2),
            },
        )
        return result
