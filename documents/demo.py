"""Demo documents for `manage.py demo_data`: a handful of small real files per user, grants and a share.

Idempotent: a user who already owns a demo file (same bytes) keeps it, and
grants are set, not added. Goes through the services, so the audit trail shows
the demo uploads like any others.
"""

from django.core.files.base import ContentFile
from django.db import transaction

from documents import samples, services
from documents.models import Document, Permission, Share


def _files_for(user) -> list[tuple[str, bytes, dict]]:
    first = user.name.split()[0] if user.name else "Demo"
    return [
        (
            "Welcome to DocuID.pdf",
            samples.pdf_bytes(f"Welcome to DocuID, {first}", pages=2),
            {"category": "Guides", "tags": ["welcome", "guide"], "description": "How DocuID keeps your files."},
        ),
        (
            f"{first} - contract.docx",
            samples.docx_bytes(f"Service contract for {first}\nSigned and countersigned."),
            {"category": "Contracts", "tags": ["contract"], "security_level": "confidential"},
        ),
        (
            f"{first} - budget.xlsx",
            samples.xlsx_bytes([["Month", "Budget"], ["January", "1200"], ["February", "1350"]]),
            {"category": "Finance", "tags": ["budget", "finance"]},
        ),
        (
            f"{first} - quarterly review.pptx",
            samples.slides_bytes([f"Quarterly review by {first}", "Highlights and next steps"]),
            {"category": "Reports", "tags": ["review"]},
        ),
        (
            "Meeting notes.md",
            samples.text_bytes(f"# Meeting notes\n\n- {first} presented the budget\n- Next meeting on Monday\n"),
            {"category": "Notes", "tags": ["meeting"]},
        ),
        (
            "Logo.png",
            samples.png_bytes(32, 32, (31, 95, 191)),
            {"category": "Brand", "tags": ["image"], "security_level": "public"},
        ),
    ]


def demo_documents_ensure(*, users) -> int:
    """Give each user their demo files; the first user shares with the second. Returns the document count."""
    users = list(users)
    count = 0
    owned: dict[int, list[Document]] = {}
    for user in users:
        owned[user.pk] = []
        for name, data, meta in _files_for(user):
            content = ContentFile(data, name=name)
            existing = Document.objects.filter(owner=user, sha256=services.uploads.sha256_of(data)).first()
            if existing is None:
                existing = services.document_upload(acting_user=user, file=content, name=name, **meta)
            owned[user.pk].append(existing)
            count += 1
    if len(users) >= 2:
        first, second = users[0], users[1]
        with transaction.atomic():
            services.grant_add(
                acting_user=first,
                document=owned[first.pk][0],
                user=second,
                permission=Permission.DOWNLOAD,
                notify=False,
            )
            services.grant_add(
                acting_user=first, document=owned[first.pk][2], user=second, permission=Permission.VIEW, notify=False
            )
        if not Share.objects.filter(document=owned[first.pk][0], created_by=first, revoked_at__isnull=True).exists():
            services.share_create(acting_user=first, document=owned[first.pk][0], access="download")
    return count
