"""Celery tasks of documents: extracting each version's text and rendering it (PDF, thumbnail) after upload."""

from celery import shared_task

from documents.models import DocumentVersion
from documents.services.extraction import version_text_extract


@shared_task(name="documents.tasks.extract_version_text", acks_late=True)
def extract_version_text(version_id: int) -> str:
    # The sandbox bounds the time one extraction takes; a failure is stored, not raised.
    version = DocumentVersion.objects.select_related("document").filter(pk=version_id).first()
    if version is None:  # deleted before its turn came
        return "gone"
    return version_text_extract(version=version).status


@shared_task(name="documents.tasks.render_version", acks_late=True)
def render_version(version_id: int) -> str:
    # LibreOffice and the thumbnail child are limited in time; a failure is stored, not raised.
    from documents import renditions

    version = DocumentVersion.objects.select_related("document").filter(pk=version_id).first()
    if version is None:  # deleted before its turn came
        return "gone"
    return renditions.build(version=version).status
