"""Scheduled checks of the audit trail (CELERY_BEAT_SCHEDULE: daily)."""

import logging

from celery import shared_task

from audit.selectors import audit_chain_verify

logger = logging.getLogger("docuid.audit")


@shared_task(acks_late=True)
def verify_chain() -> dict:
    """Verify the whole hash chain; log ERROR naming the first broken link."""
    result = audit_chain_verify()
    broken = result.first_broken
    if broken is None:
        logger.info(
            "audit chain verified: %s events, head %s",
            result.checked,
            result.head,
            extra={"checked": result.checked, "head": result.head},
        )
    else:
        logger.error(
            "audit chain BROKEN: %s",
            broken.describe(),
            extra={"checked": result.checked, "first_broken_id": broken.id},
        )
    return {"ok": result.ok, "checked": result.checked, "first_broken_id": broken.id if broken else None}
