"""PDF renditions and first-page thumbnails of document versions (issue #15).

After an upload the worker (documents.tasks.render_version; eager under ``make run``)
converts every Office/OpenDocument/legacy Office version to PDF with LibreOffice
(documents.office, contained and limited) and draws the first page of that PDF — or of a
PDF original, or an image — as a thumbnail (documents.thumbnails, in a limited child).
Both files go to the same storage as the version (random keys), are reused until the
version goes, and a failure is recorded on the Rendition (status, reason, error,
attempts, duration), never raised: ``manage.py renditions_build`` retries.

The selectors here (``preview_for``, ``pdf_for``, ``thumbnail_for``) are what pages, the
API and the watermarking read; access is decided before, by documents.selectors.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Literal

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone

from documents import filetypes, metrics, office, thumbnails
from documents.models import DocumentVersion, Family, Rendition, RenditionStatus

logger = logging.getLogger("docuid.documents")

COPY_CHUNK = 1024 * 1024
# What LibreOffice converts; PDFs are their own rendition, images only get a thumbnail.
CONVERTED_FAMILIES = frozenset({Family.WORD, Family.EXCEL, Family.POWERPOINT})
THUMBNAIL_MIME = "image/webp"

State = Literal["ready", "pending", "failed", "none"]


# --- Selectors ------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    """What can be shown of a version: state of its PDF, and the URLs (empty when not ready)."""

    state: State  # ready / pending / failed / none (nothing to convert for this type)
    pdf_url: str = ""  # the PDF rendition, or the original for a PDF
    thumbnail_url: str = ""
    error: str = ""  # why it failed, for the owner
    page_count: int | None = None


def needs_pdf(version: DocumentVersion) -> bool:
    return _family(version) in CONVERTED_FAMILIES


def _family(version: DocumentVersion) -> str:
    known = filetypes.TYPES_BY_MIME.get(version.mime_type)
    return known.family if known else ""


def _rendition(version: DocumentVersion) -> Rendition | None:
    try:
        return version.rendition
    except Rendition.DoesNotExist:
        return None


def preview_for(version: DocumentVersion) -> Preview:
    """The state of ``version``'s PDF and thumbnail, with the URLs that serve them (access-checked there)."""
    document_id = version.document_id
    rendition = _rendition(version)
    thumbnail_url = (
        reverse("documents:thumbnail", args=[document_id])
        if rendition is not None and rendition.thumbnail and thumbnail_shown(version)
        else ""
    )
    family = _family(version)
    if family == Family.PDF:
        return Preview(
            "ready", reverse("documents:rendition", args=[document_id]), thumbnail_url, "", version.page_count
        )
    if family not in CONVERTED_FAMILIES:
        return Preview("none", "", thumbnail_url)
    if rendition is None or rendition.status == RenditionStatus.PENDING:
        return Preview("pending")
    if rendition.status == RenditionStatus.DONE and rendition.pdf:
        return Preview(
            "ready", reverse("documents:rendition", args=[document_id]), thumbnail_url, "", rendition.page_count
        )
    return Preview("failed", "", thumbnail_url, rendition.error or "The PDF could not be made.")


def pdf_for(version: DocumentVersion) -> File | None:
    """The PDF to show for ``version`` — its rendition, or the original when it is a PDF — or None.

    For documents.http / watermarking: open it with ``.open("rb")``; ``.name`` is its storage key.
    """
    if _family(version) == Family.PDF:
        return version.file
    rendition = _rendition(version)
    if rendition is not None and rendition.status == RenditionStatus.DONE and rendition.pdf:
        return rendition.pdf
    return None


def pdf_size_for(version: DocumentVersion) -> int | None:
    if _family(version) == Family.PDF:
        return version.size
    rendition = _rendition(version)
    return rendition.pdf_size if rendition is not None and rendition.pdf else None


def thumbnail_for(version: DocumentVersion) -> Rendition | None:
    """The rendition whose ``thumbnail`` may be shown for ``version`` (not for confidential/restricted ones)."""
    rendition = _rendition(version)
    if rendition is None or not rendition.thumbnail or not thumbnail_shown(version):
        return None
    return rendition


def pending_count() -> int:
    """Versions whose rendition is queued or was never made: the docuid_renditions_pending gauge."""
    return versions_to_render(include="missing").count()


def versions_to_render(*, include: str = "missing", document_id: int | None = None) -> QuerySet[DocumentVersion]:
    """What ``renditions_build`` renders: "missing" (never made or pending), "failed" (and those), or "all"."""
    renderable = [
        t.mime_type for t in filetypes.TYPES.values() if t.family in (*CONVERTED_FAMILIES, Family.PDF, Family.IMAGE)
    ]
    versions = DocumentVersion.objects.filter(mime_type__in=renderable).order_by("pk")
    if document_id is not None:
        return versions.filter(document_id=document_id)
    if include == "all":
        return versions
    statuses = [RenditionStatus.PENDING] + ([RenditionStatus.FAILED] if include == "failed" else [])
    return versions.filter(Q(rendition__isnull=True) | Q(rendition__status__in=statuses))


# --- Services -------------------------------------------------------------------------


def queue(*, version: DocumentVersion) -> Rendition | None:
    """Mark the version's rendition pending and render it once the surrounding transaction commits."""
    if _family(version) not in (*CONVERTED_FAMILIES, Family.PDF, Family.IMAGE):
        return None
    rendition, _ = Rendition.objects.update_or_create(version=version, defaults={"status": RenditionStatus.PENDING})
    transaction.on_commit(partial(_enqueue, version.pk), robust=True)
    return rendition


def _enqueue(version_id: int) -> None:
    from documents.tasks import render_version

    # A broker outage must not fail an upload: the rendition stays pending (counted by
    # docuid_renditions_pending) and `renditions_build` makes it.
    try:
        render_version.delay(version_id)
    except Exception:  # noqa: BLE001
        logger.warning("rendition not queued", extra={"version_id": version_id})


@dataclass
class _Made:
    pdf_path: str | None = None
    page_count: int | None = None
    thumbnail_path: str | None = None
    thumbnail_size: tuple[int, int] | None = None


class _Failed(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def build(*, version: DocumentVersion) -> Rendition:
    """Render ``version`` now (PDF if it needs one, then the thumbnail) and store the result; never raises."""
    rendition, _ = Rendition.objects.get_or_create(version=version)
    family = _family(version)
    if family not in (*CONVERTED_FAMILIES, Family.PDF, Family.IMAGE):
        rendition.status, rendition.error, rendition.reason = RenditionStatus.SKIPPED, "", ""
        rendition.save()
        return rendition
    rendition.attempts += 1
    started = time.monotonic()
    folder = tempfile.mkdtemp(prefix="docuid-render-")
    old_files = [f.name for f in (rendition.pdf, rendition.thumbnail) if f]
    try:
        made = _make(version, family, folder)
        rendition.pdf, rendition.pdf_size, rendition.page_count = "", None, made.page_count
        if made.pdf_path:
            rendition.pdf = _save(made.pdf_path)
            rendition.pdf_size = os.path.getsize(made.pdf_path)
        rendition.thumbnail, rendition.thumbnail_width, rendition.thumbnail_height = "", None, None
        if made.thumbnail_path:
            rendition.thumbnail = _save(made.thumbnail_path)
            rendition.thumbnail_width, rendition.thumbnail_height = made.thumbnail_size
        rendition.status, rendition.error, rendition.reason = RenditionStatus.DONE, "", ""
    except _Failed as failure:
        rendition.status, rendition.error, rendition.reason = (
            RenditionStatus.FAILED,
            failure.message[:255],
            failure.reason,
        )
    except Exception:  # whatever broke, the version records it and the caller carries on
        logger.exception("rendition failed unexpectedly", extra={"version_id": version.pk})
        rendition.status, rendition.reason = RenditionStatus.FAILED, "error"
        rendition.error = "The rendition failed unexpectedly."
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    seconds = time.monotonic() - started
    rendition.duration_ms = round(seconds * 1000)
    rendition.rendered_at = timezone.now()
    rendition.save()
    kind = "pdf" if family in CONVERTED_FAMILIES else "thumbnail"
    if rendition.status == RenditionStatus.DONE:
        metrics.rendition_seconds.labels(kind=kind).observe(seconds)
        logger.info(
            "rendition made", extra={"version_id": version.pk, "kind": kind, "duration_ms": rendition.duration_ms}
        )
        _delete_files([name for name in old_files if name not in (rendition.pdf.name, rendition.thumbnail.name)])
    else:
        metrics.rendition_failures.labels(reason=rendition.reason or "error").inc()
        logger.warning("rendition failed", extra={"version_id": version.pk, "kind": kind, "reason": rendition.reason})
    return rendition


def _make(version: DocumentVersion, family: str, folder: str) -> _Made:
    source = os.path.join(folder, "source")
    try:
        with version.file.open("rb") as stored, open(source, "wb") as target:
            while chunk := stored.read(COPY_CHUNK):
                target.write(chunk)
    except OSError:
        raise _Failed("storage", "The stored file could not be read.") from None
    made = _Made()
    pdf = source if family == Family.PDF else None
    if family in CONVERTED_FAMILIES:
        extension = filetypes.TYPES_BY_MIME[version.mime_type].key
        try:
            converted = office.convert(
                source,
                "pdf",
                folder,
                source_ext=extension,
                timeout_seconds=settings.DOCUID_RENDITION_TIMEOUT_SECONDS,
                memory_mb=settings.DOCUID_RENDITION_MEMORY_MB,
                reuse_profile=True,  # the worker lives long: copy a seed profile instead of a first start each time
            )
        except office.ConversionError as error:
            raise _Failed(error.reason, error.message) from None
        pdf = made.pdf_path = str(converted)
        made.page_count = _page_count(pdf)
    thumbnail = os.path.join(folder, "thumbnail.webp")
    try:
        made.thumbnail_size = thumbnails.run(
            pdf or source,
            "pdf" if pdf else "image",
            thumbnail,
            timeout_seconds=settings.DOCUID_THUMBNAIL_TIMEOUT_SECONDS,
            memory_mb=settings.DOCUID_THUMBNAIL_MEMORY_MB,
        )
        made.thumbnail_path = thumbnail
    except thumbnails.ThumbnailError as error:
        if family in CONVERTED_FAMILIES:
            # The PDF is what matters; a missing thumbnail shows the type's icon instead.
            logger.warning("thumbnail not drawn", extra={"version_id": version.pk, "reason": error.reason})
        else:
            raise _Failed(error.reason, error.message) from None
    return made


def _page_count(path: str) -> int | None:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError:
        raise _Failed("failed", "LibreOffice wrote a PDF that cannot be read.") from None
    try:
        return len(document)
    finally:
        document.close()


def _storage_key() -> str:
    # Random and flat per month, like the versions' keys (documents.services.uploads).
    now = timezone.now()
    return f"renditions/{now:%Y/%m}/{uuid.uuid4().hex}"


def _save(path: str) -> str:
    with open(path, "rb") as handle:
        return default_storage.save(_storage_key(), File(handle))


def _delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # noqa: BLE001 — an orphan file is logged, never an error for the person
            logger.warning("rendition file not deleted", extra={"key": name})


@receiver(post_delete, sender=Rendition)
def _files_go_with_the_rendition(sender, instance: Rendition, **kwargs) -> None:
    """A deleted version (or document) takes its rendition's files along, once the deletion is committed."""
    names = [f.name for f in (instance.pdf, instance.thumbnail) if f]
    if names:
        transaction.on_commit(partial(_delete_files, names), robust=True)


# Thumbnails are not stamped, so the levels whose every view is stamped show the type's icon instead.
UNTHUMBNAILED_LEVELS = frozenset({"confidential", "restricted"})


def thumbnail_shown(version: DocumentVersion) -> bool:
    return version.document.security_level not in UNTHUMBNAILED_LEVELS


def pdf_version(version: DocumentVersion) -> DocumentVersion | None:
    """The PDF to serve for ``version`` as an unsaved DocumentVersion, or None when there is none (yet).

    documents.http.file_response serves it like any version (ranges, nginx, and the per-viewer
    stamp of confidential documents): same document, the rendition's file, "<name>.pdf".
    """
    if _family(version) == Family.PDF:
        return version
    rendition = _rendition(version)
    if rendition is None or rendition.status != RenditionStatus.DONE or not rendition.pdf:
        return None
    stem = os.path.splitext(version.original_name)[0] or "document"
    return DocumentVersion(
        pk=version.pk,
        document=version.document,
        number=version.number,
        file=rendition.pdf.name,
        original_name=f"{stem}.pdf",
        mime_type="application/pdf",
        size=rendition.pdf_size or rendition.pdf.size,
        # The ETag: the rendition's random key identifies its bytes (they never change under it).
        sha256=hashlib.sha256(rendition.pdf.name.encode()).hexdigest(),
        page_count=rendition.page_count,
        created_at=rendition.rendered_at or version.created_at,
    )
