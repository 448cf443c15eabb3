"""What docs/OPERATIONS_GUIDE.md says about the scheduled backup's retries is what Celery does."""

import re

from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings

from operations.tasks import backup_scheduled

GUIDE = settings.BASE_DIR / "docs" / "OPERATIONS_GUIDE.md"


def longest_waits_minutes() -> list[int]:
    task = backup_scheduled
    return [min(task.retry_backoff_max, task.retry_backoff * 2**retries) // 60 for retries in range(task.max_retries)]


def test_the_guide_states_the_backup_retry_waits_as_random_up_to_their_caps():
    caps = longest_waits_minutes()
    assert backup_scheduled.retry_jitter is True  # waits are random: "5, 10, 20 min" alone would be false
    text = re.sub(r"\s+", " ", GUIDE.read_text())
    expected = ", then ".join(f"0\u2013{cap}" for cap in caps) + " minutes"
    assert f"retried up to {backup_scheduled.max_retries} times, after a **random** wait of {expected}" in text


def test_celery_draws_each_wait_at_random_below_its_cap():
    # The guide's claim, as Celery computes it (celery.app.autoretry uses this function).
    for retries, cap in enumerate(longest_waits_minutes()):
        waits = {
            get_exponential_backoff_interval(
                factor=backup_scheduled.retry_backoff,
                retries=retries,
                maximum=backup_scheduled.retry_backoff_max,
                full_jitter=True,
            )
            for _ in range(200)
        }
        assert max(waits) <= cap * 60 and min(waits) < cap * 60 / 2, (retries, sorted(waits)[:3])
