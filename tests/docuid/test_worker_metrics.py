"""Worker/beat liveness gauges, the recovery objectives, and every series the dashboard reads exists."""

import time

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from docuid import celery as docuid_celery
from docuid import worker_metrics
from tests.deploy.test_grafana_dashboard import CONTRACT


def scraped(client) -> dict[str, float]:
    text = client.get("/metrics").content.decode()
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples if not s.labels}


def test_the_recovery_objectives_are_exported_from_settings(client, db, settings):
    settings.DOCUID_RTO_SECONDS, settings.DOCUID_RPO_SECONDS = 3600, 600
    values = scraped(client)
    assert values["docuid_rto_target_seconds"] == 3600
    assert values["docuid_rpo_target_seconds"] == 600


def test_every_series_of_the_dashboards_contract_is_declared_by_the_app():
    # The dashboard test allows CONTRACT's names; this proves the app really exports each one.
    import audit.metrics  # noqa: F401 — the domain metrics, as the web imports them
    import operations.metrics  # noqa: F401

    families = {family.name for family in REGISTRY.collect()}
    for series in (name for name in CONTRACT if name.startswith(("docuid_", "api_latency_ms"))):
        family = series
        for suffix in ("_bucket", "_count", "_sum", "_total"):
            family = family.removesuffix(suffix)
        assert family in families, f"{series} is on the dashboard but no process exports it"


def test_the_scheduled_backup_task_starting_moves_its_gauge(db):
    before = time.time()
    docuid_celery.task_started(sender=type("Task", (), {"name": "operations.tasks.readiness"})())
    docuid_celery.task_started(sender=type("Task", (), {"name": worker_metrics.BACKUP_TASK})())
    assert worker_metrics.scheduled_backup_last_start._value.get() >= before


def test_a_worker_start_seeds_the_last_backup_start_from_the_database(db):
    from datetime import timedelta

    from django.utils import timezone

    from operations.models import Backup

    started = timezone.now() - timedelta(hours=30)
    Backup.objects.create(name="b.tar", started_at=started)
    worker_metrics.worker_started()
    assert worker_metrics.scheduled_backup_last_start._value.get() == started.timestamp()
    assert worker_metrics.worker_up._value.get() == 1


def test_the_heartbeat_task_sets_the_beat_gauge():
    from docuid.tasks import beat_heartbeat

    before = time.time()
    beat_heartbeat.delay()
    assert worker_metrics.beat_heartbeat._value.get() >= before
