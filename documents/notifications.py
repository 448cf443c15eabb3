"""Telling a person that a document was shared with them (after the grant commits)."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

logger = logging.getLogger("docuid.documents")


def notify_grant(grant_id: int) -> None:
    """Email the grantee, if they have an email; a mail failure never undoes the grant."""
    from documents.models import Grant

    grant = Grant.objects.select_related("user", "document", "granted_by").filter(pk=grant_id).first()
    if grant is None or grant.user is None or not grant.user.email:
        return
    link = getattr(settings, "DOCUID_SITE_URL", "").rstrip("/") + reverse("documents:detail", args=[grant.document_id])
    sharer = grant.granted_by.name if grant.granted_by else "Someone"
    try:
        send_mail(
            subject=f"{sharer} shared “{grant.document.title}” with you",
            message=f"{sharer} gave you {grant.get_permission_display().lower()} access to “{grant.document.title}”.\n"
            f"Open it in DocuID: {link}\n",
            from_email=None,
            recipient_list=[grant.user.email],
        )
    except Exception:  # noqa: BLE001 — notification is best effort; the grant stands
        logger.warning("grant notification could not be sent", extra={"grant_id": grant_id})
