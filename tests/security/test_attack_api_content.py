"""Attack on the API's inline content (format=office) of a confidential Office file (issues #15, #16).

format=office answers the file as base64 inside JSON, so it is read whole into memory and
bounded by DOCUID_API_CONTENT_MAX_MB, checked before anything is read. For a confidential
Word/Excel/PowerPoint original what is sent is its stamped PDF rendition, and the check
looked at the size of the original: a small spreadsheet whose PDF runs to thousands of
pages had the worker hold that whole PDF (and its base64, and the JSON) per request. The
limit must apply to what is sent.
"""

import io

import pikepdf
import pytest
from django.core.files.base import ContentFile

from documents import samples, services
from documents.models import Permission, Rendition, RenditionStatus
from tests.documents.test_watermark import api_get
from tests.factories import UserFactory, make_document

pytestmark = pytest.mark.django_db


def big_pdf(megabytes: float) -> bytes:
    """A valid one-page PDF of about `megabytes` (a long content stream of comments)."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(612, 792))
    filler = b"".join(b"%" + b"x" * 1022 + b"\n" for _ in range(int(megabytes * 1024)))
    pdf.pages[0].obj.Contents = pdf.make_stream(filler + b"BT ET\n")
    buffer = io.BytesIO()
    pdf.save(buffer, compress_streams=False)
    return buffer.getvalue()


@pytest.fixture
def sheet(owner, settings):
    settings.DOCUID_API_CONTENT_MAX_MB = 1
    document, data = _confidential_docx_with_pdf(owner, "Ledger", megabytes=1.5)
    assert document.current_version.size < 1024 * 1024 < len(data)
    return document


def _confidential_docx_with_pdf(owner, title: str, *, megabytes: float):
    """A confidential Word document whose PDF rendition (of about `megabytes`) is ready."""
    document = make_document(owner, name=f"{title}.docx", data=samples.docx_bytes(title), security_level="confidential")
    data = big_pdf(megabytes)
    rendition, _ = Rendition.objects.get_or_create(version=document.current_version)
    rendition.status = RenditionStatus.DONE
    rendition.pdf.save(f"{title.lower()}.pdf", ContentFile(data), save=False)
    rendition.pdf_size, rendition.page_count = len(data), 1
    rendition.save()
    return document, data


@pytest.mark.parametrize(
    "path", ["/api/v1/documents/{pk}/content", "/api/documents/{pk}/content", "/api/docuid/documents/{pk}/content"]
)
def test_format_office_is_bounded_by_the_size_of_the_pdf_it_would_send(sheet, owner, path):
    reader = UserFactory(name="Rita Reader", phone_number="+13125550777", email="rita@example.org")
    services.grant_add(acting_user=owner, document=sheet, user=reader, permission=Permission.DOWNLOAD)
    response = api_get(reader, path.format(pk=sheet.pk), {"format": "office"})
    assert response.status_code == 413, response.content[:200]
    error = response.json()["error"]  # v1: the code; the add-in's envelope: {"code", "detail"}
    assert (error["code"] if isinstance(error, dict) else error) == "DOCUMENT_TOO_LARGE"


def test_a_small_pdf_of_a_confidential_original_still_goes_inline(owner, settings):
    settings.DOCUID_API_CONTENT_MAX_MB = 1
    document, _ = _confidential_docx_with_pdf(owner, "Memo", megabytes=0.2)
    response = api_get(owner, f"/api/v1/documents/{document.pk}/content", {"format": "office"})
    assert response.status_code == 200, response.content[:200]
    assert response.json()["data"]["fileType"] == "application/pdf"
