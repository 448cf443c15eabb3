"""Scheduled work on the audit trail (CELERY_BEAT_SCHEDULE): sealing every few seconds, verifying daily."""

import logging

from celery import shared_task

from audit.sealer import audit_seal
from audit.selectors import audit_chain_verify

logger = logging.getLogger("docuid.audit")


@shared_task(acks_late=True, ignore_result=True)
def seal() -> dict:
    """Seal every committed event into batches (audit.sealer); a run that finds another sealer working does nothing."""
    result = audit_seal()
    return {"batches": result.batches, "events": result.events, "busy": result.busy}


@shared_task(acks_late=True)
def verify_chain() -> dict:
    """Verify the whole trail; log ERROR naming the first broken link, WARNING for events unsealed too long."""
    result = audit_chain_verify()
    broken = result.first_broken
    if broken is None:
        logger.info(
            "audit chain verified: %s events, %s batches, head %s",
            result.checked,
            result.batches,
            result.head,
            extra={"checked": result.checked, "batches": result.batches, "head": result.head},
        )
    else:
        logger.error(
            "audit chain BROKEN: %s",
            broken.describe(),
            extra={"checked": result.checked, "first_broken_id": broken.id},
        )
    if result.overdue.count:
        logger.warning(
            "audit trail: %s events unsealed for longer than the sealing delay, oldest event %s",
            result.overdue.count,
            result.overdue.oldest_id,
            extra={"overdue": result.overdue.count, "oldest_id": result.overdue.oldest_id},
        )
    return {
        "ok": result.ok,
        "checked": result.checked,
        "first_broken_id": broken.id if broken else None,
        "unsealed_overdue": result.overdue.count,
    }
