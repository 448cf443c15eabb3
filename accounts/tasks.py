from celery import shared_task

from accounts import services
from accounts.services.login import NOTIFY_TASK


@shared_task(name=NOTIFY_TASK, time_limit=60, soft_time_limit=50)
def login_request_notify(request_id: str, approval_url: str) -> None:
    services.login_request_notify(request_id=request_id, approval_url=approval_url)


@shared_task(name="accounts.tasks.login_requests_sweep", time_limit=300, soft_time_limit=280)
def login_requests_sweep() -> int:
    return services.login_requests_sweep()
