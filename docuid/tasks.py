from celery import shared_task

from docuid.health import readiness_checks, run_checks


@shared_task(name="docuid.readiness_probe", soft_time_limit=25, time_limit=30)
def readiness_probe() -> dict:
    """Run the readiness checks from a worker's side of the network (database, cache, storage)."""
    checks = readiness_checks()
    checks.pop("broker", None)  # the task arrived: the broker works
    checks.pop("static", None)  # a worker serves no pages
    ready, results = run_checks(checks)
    return {"ready": ready, "checks": results}


@shared_task(name="docuid.beat_heartbeat", ignore_result=True, soft_time_limit=10, time_limit=15)
def beat_heartbeat() -> None:
    """Sent by beat every DOCUID_BEAT_HEARTBEAT_SECONDS; its age on the worker's metrics shows a stall."""
    from docuid.worker_metrics import beat_heartbeat_received

    beat_heartbeat_received()
