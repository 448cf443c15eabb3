import pytest
from celery.contrib.testing.worker import start_worker

from docuid.celery import app
from docuid.tasks import readiness_probe


@pytest.fixture
def real_worker(redis_url, transactional_db):
    """A Celery worker thread consuming from the real Redis broker."""
    saved = {k: app.conf[k] for k in ("broker_url", "result_backend", "task_always_eager")}
    app.conf.update(broker_url=redis_url, result_backend=redis_url, task_always_eager=False)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10):
            yield app
    finally:
        app.conf.update(saved)


@pytest.mark.slow
def test_a_real_worker_executes_a_task_sent_through_redis(real_worker):
    result = readiness_probe.delay()
    outcome = result.get(timeout=30)
    assert outcome["ready"] is True
    assert set(outcome["checks"]) == {"database", "cache", "storage"}


def test_without_a_broker_tasks_run_eagerly_in_the_caller(db, caplog):
    assert app.conf.task_always_eager is True
    with caplog.at_level("WARNING"):
        assert readiness_probe.delay().get(timeout=5)["ready"] is True
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []  # make run's log stays clean
