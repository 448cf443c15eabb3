"""Auditing reads of documents: detail views, opens and downloads, allowed or not."""

from django.db import transaction

from audit import record
from audit.actions import Action, Outcome
from documents import watermark
from documents.models import Document


def document_access_record(
    *,
    action: str,
    actor,
    document: Document | None = None,
    document_id=None,
    outcome: str = Outcome.SUCCESS,
    reason: str = "",
    request=None,
    data: dict | None = None,
) -> None:
    """Record document.view / document.open / document.download for one attempt.

    Failures carry `reason` ("denied": the document exists but not for this
    caller; "not_found": no such document) — audit.record turns document.open
    events into docuid_document_opens_total{outcome}. An unknown document is
    recorded with no target and the id that was asked for.
    """
    payload = dict(data or {})
    if outcome == Outcome.SUCCESS:
        # A stamped copy: its reference leads a leaked page back to this one event.
        payload |= watermark.audit_data(request)
    if reason:
        payload["reason"] = reason
    if document is None:
        payload["document_id"] = str(document_id)[:32]
    with transaction.atomic():
        record(
            Action(action),
            outcome=outcome,
            actor=actor if actor is not None and actor.is_authenticated else None,
            target=document,
            request=request,
            data=payload,
        )
