"""Extracting each version's text (issue #14): queued after upload, run in a limited child process, stored on VersionText."""

import logging
import os
import shutil
import tempfile
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from documents import metrics, search
from documents.extraction import Limits, sandbox
from documents.models import DocumentVersion, ExtractionStatus, VersionText

logger = logging.getLogger("docuid.documents")

COPY_CHUNK = 1024 * 1024


def extraction_limits() -> Limits:
    return Limits(max_chars=settings.DOCUID_EXTRACT_MAX_CHARS, ocr_languages=settings.DOCUID_OCR_LANGUAGES)


def version_text_queue(*, version: DocumentVersion) -> VersionText:
    """Mark the version's text pending and extract it once the surrounding transaction commits."""
    text, _ = VersionText.objects.update_or_create(version=version, defaults={"status": ExtractionStatus.PENDING})
    transaction.on_commit(partial(_enqueue, version.pk), robust=True)
    return text


def _enqueue(version_id: int) -> None:
    from documents.tasks import extract_version_text

    # A broker outage must not turn a stored upload into an error: the version stays pending,
    # counted by docuid_extraction_pending, and `search_reindex` picks it up.
    try:
        extract_version_text.delay(version_id)
    except Exception:  # noqa: BLE001
        logger.warning("text extraction not queued", extra={"version_id": version_id})


def version_text_extract(*, version: DocumentVersion) -> VersionText:
    """Extract the version's text now and store it; a failure is recorded on the VersionText, never raised."""
    text, _ = VersionText.objects.get_or_create(version=version)
    text.attempts += 1
    try:
        outcome = _run(version)
    except Exception:  # whatever broke, the version records it and the caller carries on
        logger.exception("text extraction failed unexpectedly", extra={"version_id": version.pk})
        outcome = sandbox.Outcome("failed", error="Extraction failed unexpectedly.", reason="error")
    text.status = outcome.status
    # PostgreSQL text cannot hold NUL characters.
    text.content = (
        outcome.text.replace("\x00", "")[: settings.DOCUID_EXTRACT_MAX_CHARS] if outcome.status == "done" else ""
    )
    text.extractor = outcome.extractor[:30]
    text.error = outcome.error[:255]
    text.duration_ms = round(outcome.seconds * 1000)
    text.extracted_at = timezone.now()
    text.save()
    if outcome.status == ExtractionStatus.DONE:
        metrics.extraction_seconds.labels(extractor=outcome.extractor or "unknown").observe(outcome.seconds)
        logger.info(
            "text extracted",
            extra={"version_id": version.pk, "extractor": outcome.extractor, "duration_ms": text.duration_ms},
        )
    elif outcome.status == ExtractionStatus.FAILED:
        metrics.extraction_failures.labels(reason=outcome.reason or "error").inc()
        logger.warning("text extraction failed", extra={"version_id": version.pk, "reason": outcome.reason})
    search.refresh_search_vector(version.document)
    return text


def _run(version: DocumentVersion) -> sandbox.Outcome:
    # A private folder (0700): the copy of the file is readable by this user only, and goes with it.
    folder = tempfile.mkdtemp(prefix="docuid-extract-")
    try:
        path = os.path.join(folder, "input")
        try:
            with version.file.open("rb") as source, open(path, "wb") as target:
                while chunk := source.read(COPY_CHUNK):
                    target.write(chunk)
        except OSError:
            logger.warning("text extraction: stored file unreadable", extra={"version_id": version.pk})
            return sandbox.Outcome("failed", error="The stored file could not be read.", reason="storage")
        return sandbox.run(
            path,
            version.mime_type,
            extraction_limits(),
            cpu_seconds=settings.DOCUID_EXTRACT_CPU_SECONDS,
            memory_mb=settings.DOCUID_EXTRACT_MEMORY_MB,
            timeout_seconds=settings.DOCUID_EXTRACT_TIMEOUT_SECONDS,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
