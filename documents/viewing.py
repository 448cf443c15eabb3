"""How the open page shows a document version: which viewer, and whether its PDF is ready.

PDF originals and, once converted, Office/OpenDocument versions are drawn by the PDF
viewer (static/js/viewer.js); images are shown as images; everything else, and an
Office version whose PDF rendition is still being made or could not be made, falls
back to the text, table or slide preview of documents.previews.
"""

from dataclasses import dataclass
from typing import Literal

from django.urls import reverse

from documents import renditions
from documents.models import Document, DocumentVersion, Family

Kind = Literal["pdf", "image", "preview"]
State = Literal["ready", "pending", "failed", "none"]

CONVERTED_FAMILIES = renditions.CONVERTED_FAMILIES  # what LibreOffice turns into a PDF


@dataclass(frozen=True)
class Viewing:
    kind: Kind
    # The rendition's state; "ready" for a PDF or an image, "none" when nothing is made for this type.
    state: State
    # What the viewer loads: the PDF (original or rendition) or the image, both access-checked and audited.
    url: str = ""


def _rendition(version: DocumentVersion) -> tuple[State, str]:
    """The state of `version`'s PDF rendition and its URL when ready (documents.renditions)."""
    preview = renditions.preview_for(version)
    return preview.state, (preview.pdf_url if preview.state == "ready" else "")


def viewing_for(document: Document, version: DocumentVersion) -> Viewing:
    if document.family == Family.PDF:
        return Viewing("pdf", "ready", reverse("documents:open", args=[document.pk]))
    if document.family == Family.IMAGE:
        return Viewing("image", "ready", reverse("documents:open", args=[document.pk]))
    if document.family in CONVERTED_FAMILIES:
        state, url = _rendition(version)
        if state == "ready":
            return Viewing("pdf", state, url)
        return Viewing("preview", state)
    return Viewing("preview", "none")
