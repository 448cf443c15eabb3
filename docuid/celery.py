"""The Celery app, configured from Django settings (CELERY_* names).

With no broker configured, settings make tasks run eagerly in the caller.
"""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docuid.settings")

app = Celery("docuid")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect(dispatch_uid="docuid.celery.serve_worker_metrics")
def serve_worker_metrics(sender=None, **kwargs) -> None:
    """Expose the worker's own metrics for Prometheus (job docuid-worker)."""
    from django.conf import settings

    from docuid.metrics import start_worker_metrics_server

    if settings.CELERY_WORKER_METRICS_PORT:
        start_worker_metrics_server(settings.CELERY_WORKER_METRICS_PORT)
