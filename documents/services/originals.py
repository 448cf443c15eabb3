"""Whether a confidential Office document's downloads get the original or its stamped PDF (issue #15)."""

from django.db import transaction
from django.utils import timezone

from audit import record
from audit.actions import Action
from documents.errors import DocumentError
from documents.models import Document


def document_original_download_set(*, acting_user, document: Document, allowed: bool, request=None) -> Document:
    """Let downloads of `document` get its original file (True) or its stamped PDF (False, the default).

    Only the owner decides (the caller checks permissions.manage); audited as a metadata change.
    An original leaves unstamped, so allowing it is a deliberate, recorded choice.
    """
    if document.owner_id != getattr(acting_user, "pk", None):
        raise DocumentError("Only the owner can change how this document is downloaded.")
    with transaction.atomic():
        changed = Document.objects.filter(pk=document.pk).exclude(allow_original_download=allowed)
        if changed.update(allow_original_download=allowed, updated_at=timezone.now()):
            record(
                Action.DOCUMENT_UPDATE,
                actor=acting_user,
                target=document,
                request=request,
                data={"allow_original_download": allowed},
            )
    document.allow_original_download = allowed
    return document
