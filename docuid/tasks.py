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
