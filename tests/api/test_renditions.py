"""The PDF and thumbnail through the API (issue #15): content?format=pdf, /thumbnail, the add-in's previewUrl.

The same access check as every document call (another person: 404 in the envelope), view
permission is enough to view, a signed preview link works for its person only, and a
rendition that is not made yet is a 409 RENDITION_NOT_READY with Retry-After, never a 500.
"""

import io

import pypdfium2 as pdfium
import pytest
from PIL import Image

from audit.models import AuditEvent
from documents import office, samples, services, tasks
from documents.models import Permission
from tests.api.conftest import ApiCaller
from tests.conftest import require
from tests.documents import office_files
from tests.factories import make_document

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(180)]


@pytest.fixture
def soffice():
    require("LibreOffice (soffice)", office.available(), "deploy/install-ci-tools.sh installs it")


def rendered(document):
    tasks.render_version(document.current_version_id)
    document.refresh_from_db()
    return document


def pdf_text(response) -> list[str]:
    pdf = pdfium.PdfDocument(b"".join(response.streaming_content))
    try:
        return [" ".join(pdf[i].get_textpage().get_text_range().split()) for i in range(len(pdf))]
    finally:
        pdf.close()


def envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert body["success"] is False and body["error"] == code and body["requestId"] and body["message"]
    return body


@pytest.fixture
def word(owner, soffice):
    return rendered(make_document(owner, name="Letter.docx", data=office_files.docx_bytes(["Dear reader", "Yours"])))


def test_format_pdf_streams_the_rendition_of_an_office_file(owner_caller, word):
    response = owner_caller.get(f"/api/v1/documents/{word.pk}/content", {"format": "pdf"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline") and "Letter.pdf" in response["Content-Disposition"]
    assert response["Content-Security-Policy"].startswith("default-src 'none'")
    assert pdf_text(response) == ["Dear reader", "Yours"]
    event = AuditEvent.objects.filter(action="document.open", outcome="success").latest("pk")
    assert event.data["format"] == "pdf" and event.data["rendition"] is True and event.data["channel"] == "api"


def test_format_pdf_of_a_pdf_is_the_original(owner_caller, owner):
    document = make_document(owner, name="Report.pdf", data=samples.pdf_bytes("Annual report"))
    response = owner_caller.get(f"/api/v1/documents/{document.pk}/content", {"format": "pdf"})
    assert response.status_code == 200
    assert pdf_text(response)[0].startswith("Annual report")


def test_format_pdf_not_ready_is_409_with_retry_after(owner_caller, owner):
    document = make_document(owner, name="Later.docx", data=samples.docx_bytes("later"))  # queued, not made
    response = owner_caller.get(f"/api/v1/documents/{document.pk}/content", {"format": "pdf"})
    envelope(response, 409, "RENDITION_NOT_READY")
    assert response["Retry-After"] == "10"


def test_format_pdf_of_a_failed_rendition_is_422_and_of_text_415(owner_caller, owner, monkeypatch):
    from documents import renditions

    failed = make_document(owner, name="Bad.docx", data=samples.docx_bytes("bad"))
    monkeypatch.setattr(renditions, "_make", lambda *a: (_ for _ in ()).throw(renditions._Failed("timeout", "slow")))
    rendered(failed)
    envelope(owner_caller.get(f"/api/v1/documents/{failed.pk}/content", {"format": "pdf"}), 422, "RENDITION_FAILED")
    text = make_document(owner, name="notes.txt", data=samples.text_bytes("notes\n"))
    envelope(owner_caller.get(f"/api/v1/documents/{text.pk}/content", {"format": "pdf"}), 415, "UNSUPPORTED_FORMAT")


def test_another_person_gets_404_for_the_pdf_and_the_thumbnail(other_caller, owner):
    document = rendered(make_document(owner, name="Secret.pdf", data=samples.pdf_bytes("Secret")))
    envelope(other_caller.get(f"/api/v1/documents/{document.pk}/content", {"format": "pdf"}), 404, "DOCUMENT_NOT_FOUND")
    envelope(other_caller.get(f"/api/v1/documents/{document.pk}/thumbnail"), 404, "DOCUMENT_NOT_FOUND")
    assert AuditEvent.objects.filter(action="document.open", outcome="failure").exists()


def test_a_view_only_grantee_may_view_the_pdf(other_caller, owner, other):
    document = rendered(make_document(owner, name="Shared.pdf", data=samples.pdf_bytes("Shared")))
    services.grant_add(acting_user=owner, document=document, user=other, permission=Permission.VIEW, notify=False)
    assert other_caller.get(f"/api/v1/documents/{document.pk}/content", {"format": "pdf"}).status_code == 200
    # Viewing is not downloading: the original stays refused.
    assert other_caller.get(f"/api/v1/documents/{document.pk}/download").status_code == 403


def test_the_thumbnail_is_a_small_webp(owner_caller, owner):
    document = rendered(make_document(owner, name="chart.png", data=samples.png_bytes(800, 400)))
    response = owner_caller.get(f"/api/v1/documents/{document.pk}/thumbnail")
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    assert response["Cache-Control"] == "private, max-age=300"
    image = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert image.size == (320, 160)


def test_no_token_no_pdf(caller, owner):
    document = make_document(owner, name="Report.pdf")
    envelope(caller.get(f"/api/v1/documents/{document.pk}/content", {"format": "pdf"}), 401, "INVALID_TOKEN")


# --- The add-in: access.previewUrl ------------------------------------------------------


def preview_url(caller, document) -> str:
    response = caller.get(f"/api/dashboard/documents/{document.pk}/access")
    assert response.status_code == 200
    return response.json()["data"]["document"]["access"]["previewUrl"]


def test_the_add_ins_preview_url_opens_the_pdf_for_its_person_only(owner_caller, other_caller, owner, other, word):
    url = preview_url(owner_caller, word)
    assert url.startswith("http://testserver/api/documents/") and "/preview?sig=" in url
    # A stranger holding the link: it works for the person it was made for (like the download link) …
    response = ApiCaller(ip="198.51.100.23").get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert pdf_text(response) == ["Dear reader", "Yours"]
    # … for this document only …
    other_document = make_document(owner, name="Other.pdf")
    forged = url.replace(f"/documents/{word.pk}/", f"/documents/{other_document.pk}/")
    assert ApiCaller().get(forged).status_code == 401
    # … and a tampered signature is refused.
    assert ApiCaller().get(url[:-3] + "xyz").status_code == 401
    assert ApiCaller().get(url.split("?")[0]).status_code == 401


def test_a_view_only_grantee_gets_a_preview_but_no_download_link(other_caller, owner, other, word):
    services.grant_add(acting_user=owner, document=word, user=other, permission=Permission.VIEW, notify=False)
    response = other_caller.get(f"/api/dashboard/documents/{word.pk}/access")
    access = response.json()["data"]["document"]["access"]
    assert access["url"] == "" and access["previewUrl"]
    assert ApiCaller().get(access["previewUrl"]).status_code == 200


def test_a_preview_link_dies_when_access_is_revoked(other_caller, owner, other, word):
    grant = services.grant_add(acting_user=owner, document=word, user=other, permission=Permission.VIEW, notify=False)
    url = preview_url(other_caller, word)
    grant.delete()
    assert ApiCaller().get(url).status_code == 404


def test_the_add_ins_content_call_takes_format_pdf_too(owner_caller, word):
    response = owner_caller.get(f"/api/documents/{word.pk}/content", {"format": "pdf"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert pdf_text(response) == ["Dear reader", "Yours"]


def test_format_pdf_of_a_confidential_document_is_stamped_for_the_caller(owner_caller, owner, soffice):
    from documents.models import SecurityLevel

    document = rendered(
        make_document(
            owner,
            name="Payroll.docx",
            data=office_files.docx_bytes(["Payroll"]),
            security_level=SecurityLevel.CONFIDENTIAL,
        )
    )
    response = owner_caller.get(f"/api/v1/documents/{document.pk}/content", {"format": "pdf"})
    assert response.status_code == 200 and response["X-DocuID-Stamp"]
    (text,) = pdf_text(response)
    assert text.startswith("Payroll") and "Olive Owner" in text and response["X-DocuID-Stamp"] in text
    event = AuditEvent.objects.filter(action="document.open", outcome="success").latest("pk")
    assert event.data["watermark"]["ref"] == response["X-DocuID-Stamp"] and event.data["format"] == "pdf"
