"""Uploading documents and new versions, and deleting documents."""

import hashlib
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from audit import record
from audit.actions import Action, Outcome
from documents import filetypes, renditions, search
from documents.errors import DuplicateDocument, UnsupportedFormat, UploadTooLarge
from documents.models import Document, DocumentVersion, Family, SecurityLevel, Tag
from documents.services import extraction

logger = logging.getLogger("docuid.documents")

HASH_CHUNK = 1024 * 1024


def max_upload_bytes() -> int:
    return settings.DOCUID_MAX_UPLOAD_MB * 1024 * 1024


@dataclass(frozen=True)
class Ingested:
    key: str
    original_name: str
    file_type: filetypes.FileType
    size: int
    sha256: str
    page_count: int | None


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _storage_key() -> str:
    # Random and flat per month: the user's file name never reaches the storage layer.
    now = timezone.now()
    return f"documents/{now:%Y/%m}/{uuid.uuid4().hex}"


def _pdf_page_count(fileobj) -> int:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    fileobj.seek(0)
    try:
        count = len(PdfReader(fileobj).pages)
    except (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError) as exc:
        raise UnsupportedFormat("The PDF could not be read; it may be damaged. Save it again and retry.") from exc
    finally:
        fileobj.seek(0)
    return count


def _inspect(file: File, name: str) -> tuple[filetypes.FileType, int, str, int | None]:
    """Type, size, hash and page count of an uploaded file, refusing what is not allowed."""
    size = file.size
    limit = max_upload_bytes()
    if size is not None and size > limit:
        raise UploadTooLarge(
            f"'{name}' is {size / 1024 / 1024:.1f} MB; the limit is {settings.DOCUID_MAX_UPLOAD_MB} MB per file."
        )
    try:
        file_type = filetypes.sniff(file, name)
    except filetypes.UnsupportedFileType as exc:
        raise UnsupportedFormat(f"'{name}': {exc}") from None
    digest = hashlib.sha256()
    size = 0
    file.seek(0)
    for chunk in file.chunks(HASH_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    if size > limit:  # a file object whose .size lied
        raise UploadTooLarge(f"'{name}' is larger than the {settings.DOCUID_MAX_UPLOAD_MB} MB limit.")
    page_count = _pdf_page_count(file) if file_type.family == Family.PDF else None
    file.seek(0)
    return file_type, size, digest.hexdigest(), page_count


def _store(file: File, *, name: str) -> Ingested:
    original_name = filetypes.sanitize_filename(name)
    file_type, size, sha256, page_count = _inspect(file, original_name)
    file.seek(0)
    key = default_storage.save(_storage_key(), file)
    return Ingested(key, original_name, file_type, size, sha256, page_count)


def _discard(key: str) -> None:
    try:
        default_storage.delete(key)
    except Exception:
        logger.exception("could not delete the stored file of a failed upload")


def _tags(names: Iterable[str]) -> list[Tag]:
    cleaned = sorted({n.strip().lower()[:50] for n in names if n and n.strip()})
    existing = {t.name: t for t in Tag.objects.filter(name__in=cleaned)}
    return [existing.get(n) or Tag.objects.get_or_create(name=n)[0] for n in cleaned]


def document_upload(
    *,
    acting_user,
    file: File,
    name: str | None = None,
    owner=None,
    title: str = "",
    description: str = "",
    category: str = "",
    tags: Iterable[str] = (),
    security_level: str = SecurityLevel.INTERNAL,
    request=None,
) -> Document:
    """Store an uploaded file as a new document of `owner` (default: the uploader).

    Raises UploadTooLarge, UnsupportedFormat or DuplicateDocument. A failure at
    any step leaves neither a stored file nor a row behind.
    """
    owner = owner or acting_user
    name = name or getattr(file, "name", "") or "document"
    original_name = filetypes.sanitize_filename(name)
    ingested = _store(file, name=name)
    try:
        with transaction.atomic():
            existing = Document.objects.filter(owner=owner, sha256=ingested.sha256).first()
            if existing is not None:
                raise DuplicateDocument(
                    f"'{original_name}' is already in your documents as '{existing.title}'.", existing=existing
                )
            now = timezone.now()
            document = Document(
                owner=owner,
                title=(title or original_name)[:255],
                description=description,
                category=category.strip()[:100],
                family=ingested.file_type.family,
                mime_type=ingested.file_type.mime_type,
                size=ingested.size,
                sha256=ingested.sha256,
                page_count=ingested.page_count,
                security_level=security_level,
                created_at=now,
                updated_at=now,
            )
            document.full_clean(exclude=["current_version"])
            document.save()
            version = _add_version(document=document, ingested=ingested, author=acting_user, note="", number=1)
            document.current_version = version
            document.save(update_fields=["current_version"])
            document.tags.set(_tags(tags))
            search.refresh_search_vector(document)
            extraction.version_text_queue(version=version)
            renditions.queue(version=version)
            record(
                Action.DOCUMENT_UPLOAD,
                outcome=Outcome.SUCCESS,
                actor=acting_user,
                target=document,
                request=request,
                data={
                    "owner_id": owner.pk,
                    "on_behalf": owner.pk != acting_user.pk,
                    "type": ingested.file_type.key,
                    "size": ingested.size,
                    "sha256": ingested.sha256,
                },
            )
    except BaseException:
        _discard(ingested.key)
        raise
    return document


def _add_version(*, document: Document, ingested: Ingested, author, note: str, number: int) -> DocumentVersion:
    version = DocumentVersion(
        document=document,
        number=number,
        file=ingested.key,
        original_name=ingested.original_name,
        mime_type=ingested.file_type.mime_type,
        size=ingested.size,
        sha256=ingested.sha256,
        page_count=ingested.page_count,
        author=author,
        note=note[:255],
    )
    version.full_clean()
    version.save()
    return version


def document_version_add(
    *, acting_user, document: Document, file: File, name: str | None = None, note: str = "", request=None
) -> DocumentVersion:
    """Store a new version of `document` and make it current. Callers check `manage` permission first."""
    name = name or getattr(file, "name", "") or document.file_name
    ingested = _store(file, name=name)
    try:
        with transaction.atomic():
            # Lock the document so two concurrent uploads cannot take the same number.
            locked = Document.objects.select_for_update().get(pk=document.pk)
            if locked.sha256 == ingested.sha256:
                raise DuplicateDocument("This file is identical to the current version.", existing=locked)
            if ingested.file_type.family != locked.family:
                raise UnsupportedFormat(
                    f"A new version must be the same kind of file ({locked.get_family_display()}), "
                    f"not {ingested.file_type.key.upper()}."
                )
            last = locked.versions.order_by("-number").values_list("number", flat=True).first() or 0
            version = _add_version(document=locked, ingested=ingested, author=acting_user, note=note, number=last + 1)
            locked.current_version = version
            locked.mime_type = ingested.file_type.mime_type
            locked.size = ingested.size
            locked.sha256 = ingested.sha256
            locked.page_count = ingested.page_count
            locked.updated_at = timezone.now()
            locked.save(update_fields=["current_version", "mime_type", "size", "sha256", "page_count", "updated_at"])
            extraction.version_text_queue(version=version)
            renditions.queue(version=version)
            record(
                Action.DOCUMENT_VERSION,
                outcome=Outcome.SUCCESS,
                actor=acting_user,
                target=locked,
                request=request,
                data={"version": version.number, "size": ingested.size, "sha256": ingested.sha256},
            )
    except BaseException:
        _discard(ingested.key)
        raise
    document.refresh_from_db()
    return version


def document_delete(*, acting_user, document: Document, request=None) -> None:
    """Delete a document, its versions, grants and shares; files go once the deletion commits."""
    with transaction.atomic():
        keys = list(document.versions.values_list("file", flat=True))
        record(
            Action.DOCUMENT_DELETE,
            outcome=Outcome.SUCCESS,
            actor=acting_user,
            target=document,
            request=request,
            data={"title": document.title, "versions": len(keys)},
        )
        document.current_version = None
        document.save(update_fields=["current_version"])
        document.delete()
        # Files are not transactional: remove them only when the rows are gone for good.
        transaction.on_commit(lambda: [_discard(key) for key in keys])
