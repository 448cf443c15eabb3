"""Renditions and thumbnails (issue #15): made after upload, stored, served with the document's access checks.

Real files (python-docx, openpyxl, python-pptx, odfpy) go through the upload service and the
task; the PDF's text and page count are read back with pypdfium2, the thumbnail decoded
with Pillow. Every way in that should be shut is tried: another user, a share link holder,
a forged id, a confidential document's thumbnail.
"""

import io

import pypdfium2 as pdfium
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse
from PIL import Image

from audit.models import AuditEvent
from documents import metrics, office, renditions, samples, services, tasks
from documents.models import Document, Permission, Rendition, RenditionStatus, SecurityLevel
from tests.conftest import require
from tests.documents import office_files
from tests.documents.conftest import login, stored_files
from tests.factories import make_document

pytestmark = [pytest.mark.django_db(transaction=False), pytest.mark.timeout(180)]


@pytest.fixture
def soffice():
    require("LibreOffice (soffice)", office.available(), "deploy/install-ci-tools.sh installs it")


def render(document: Document) -> Rendition:
    """What the worker does after the upload commits (tests run in a transaction that never commits)."""
    tasks.render_version(document.current_version_id)
    document.refresh_from_db()  # a fresh current_version: not the one whose pending rendition was cached
    return Rendition.objects.get(version_id=document.current_version_id)


def pdf_text(data: bytes) -> list[str]:
    pdf = pdfium.PdfDocument(data)
    try:
        return [" ".join(pdf[i].get_textpage().get_text_range().split()) for i in range(len(pdf))]
    finally:
        pdf.close()


def rendition_bytes(client, document) -> bytes:
    response = client.get(reverse("documents:rendition", args=[document.pk]))
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/pdf"
    return b"".join(response.streaming_content)


OFFICE_FILES = [
    ("contract.docx", office_files.docx_bytes(["Lease agreement page", "Signatures page"]), 2),
    ("budget.xlsx", office_files.xlsx_bytes({"Budget": [["Rent", "1200"]], "Staff": [["Ada", "Lovelace"]]}), 2),
    ("deck.pptx", office_files.pptx_bytes(["Opening agenda", "Quarterly roadmap", "Closing words"]), 3),
    ("minutes.odt", office_files.odt_bytes(["Meeting minutes", "Action items"]), 2),
]


@pytest.mark.parametrize("name, data, pages", OFFICE_FILES)
def test_an_uploaded_office_file_gets_a_pdf_rendition_and_thumbnail_served_to_its_owner(
    soffice, client, owner, name, data, pages
):
    document = make_document(owner, name=name, data=data)
    assert renditions.preview_for(document.current_version).state == "pending"  # queued by the upload
    rendition = render(document)
    assert rendition.status == RenditionStatus.DONE, rendition.error
    assert rendition.page_count == pages and rendition.attempts == 1 and rendition.duration_ms > 0
    assert rendition.pdf.name.startswith("renditions/") and name not in rendition.pdf.name  # random key

    preview = renditions.preview_for(document.current_version)
    assert preview.state == "ready" and preview.page_count == pages
    assert preview.pdf_url == reverse("documents:rendition", args=[document.pk])
    assert preview.thumbnail_url == reverse("documents:thumbnail", args=[document.pk])

    login(client, owner)
    text = pdf_text(rendition_bytes(client, document))
    assert len(text) == pages
    expected = {
        "contract.docx": ["Lease agreement page", "Signatures page"],
        "budget.xlsx": ["Rent 1200", "Ada Lovelace"],
        "deck.pptx": ["Opening agenda", "Quarterly roadmap", "Closing words"],
        "minutes.odt": ["Meeting minutes", "Action items"],
    }[name]
    assert text == expected


def test_the_rendition_is_served_inline_with_the_pdf_policy_and_audited_as_an_open(soffice, client, owner):
    document = make_document(owner, name="Offer letter.docx", data=office_files.docx_bytes(["Offer"]))
    render(document)
    login(client, owner)
    response = client.get(reverse("documents:rendition", args=[document.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("inline") and "Offer%20letter.pdf" in response[
        "Content-Disposition"
    ].replace(" ", "%20")
    assert response["Content-Security-Policy"].startswith("default-src 'none'")
    assert "private" in response["Cache-Control"]
    assert response["X-Content-Type-Options"] == "nosniff"
    event = AuditEvent.objects.filter(action="document.open", outcome="success").latest("pk")
    assert event.data["rendition"] is True and event.data["version"] == 1


def test_the_thumbnail_is_the_first_page_bounded_in_size_and_not_blank(soffice, client, owner):
    document = make_document(owner, name="deck.pptx", data=office_files.pptx_bytes(["Big title on slide one"]))
    rendition = render(document)
    login(client, owner)
    response = client.get(reverse("documents:thumbnail", args=[document.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    assert response["Cache-Control"] == "private, max-age=300"
    image = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert image.format == "WEBP" and image.width == 320 == rendition.thumbnail_width
    assert image.height == rendition.thumbnail_height and 150 < image.height < 320  # a 16:9 slide
    lightest, darkest = image.convert("L").getextrema()
    assert lightest < 128 < darkest  # dark title text on a light slide: not a blank page
    # A conditional request costs nothing.
    again = client.get(reverse("documents:thumbnail", args=[document.pk]), HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_pdfs_and_images_get_a_thumbnail_without_conversion(client, owner):
    pdf = make_document(owner, name="scan.pdf", data=samples.pdf_bytes("Portrait page", pages=3))
    png = make_document(owner, name="chart.png", data=samples.png_bytes(640, 480))
    for document, size in ((pdf, (320, 453)), (png, (320, 240))):  # A4 portrait, 4:3
        rendition = render(document)
        assert rendition.status == RenditionStatus.DONE, rendition.error
        assert not rendition.pdf  # nothing converted: a PDF is its own rendition
        assert (rendition.thumbnail_width, rendition.thumbnail_height) == size
    login(client, owner)
    # A PDF's "rendition" is the original, served the same way.
    assert pdf_text(rendition_bytes(client, pdf))[0].startswith("Portrait page")
    assert renditions.preview_for(png.current_version).state == "none"


def test_a_text_file_needs_no_rendition(client, owner):
    document = make_document(owner, name="notes.txt", data=samples.text_bytes("plain notes\n"))
    assert not Rendition.objects.filter(version=document.current_version).exists()
    assert renditions.preview_for(document.current_version).state == "none"
    login(client, owner)
    assert client.get(reverse("documents:rendition", args=[document.pk])).status_code == 404
    assert client.get(reverse("documents:thumbnail", args=[document.pk])).status_code == 404


def test_a_pending_rendition_answers_409_with_retry_after(client, owner):
    document = make_document(owner, name="later.docx", data=samples.docx_bytes("not yet"))
    login(client, owner)
    response = client.get(reverse("documents:rendition", args=[document.pk]))
    assert response.status_code == 409 and response["Retry-After"] == "10"
    assert b"still being made" in response.content


# --- Access: the same checks as the document ---------------------------------------


@pytest.fixture
def rendered(owner):
    document = make_document(owner, name="secret plan.pdf", data=samples.pdf_bytes("Secret plan"))
    render(document)
    return document


def test_another_user_gets_404_for_the_rendition_and_the_thumbnail_and_it_is_audited(client, rendered, other):
    login(client, other)
    for name in ("documents:rendition", "documents:thumbnail"):
        assert client.get(reverse(name, args=[rendered.pk])).status_code == 404
    denied = AuditEvent.objects.filter(action="document.open", outcome="failure").latest("pk")
    assert denied.data["reason"] == "denied"
    # A made-up id answers exactly the same.
    assert client.get(reverse("documents:thumbnail", args=[999999])).status_code == 404


def test_signed_out_people_are_sent_to_sign_in(client, rendered):
    for name in ("documents:rendition", "documents:thumbnail"):
        response = client.get(reverse(name, args=[rendered.pk]))
        assert response.status_code == 302 and "login" in response["Location"]


def test_a_grantee_may_view_the_rendition_with_view_permission(client, rendered, owner, other):
    services.grant_add(acting_user=owner, document=rendered, user=other, permission=Permission.VIEW, notify=False)
    login(client, other)
    assert client.get(reverse("documents:rendition", args=[rendered.pk])).status_code == 200
    assert client.get(reverse("documents:thumbnail", args=[rendered.pk])).status_code == 200


def test_a_share_link_does_not_open_the_signed_in_rendition_or_thumbnail(client, rendered, owner, other):
    _share, token = services.share_create(acting_user=owner, document=rendered, recipient_email="oscar@example.com")
    # The link works on its own page …
    assert client.get(reverse("share:open", args=[token])).status_code == 200
    # … but it gives no access to the document's own URLs, signed out or signed in as someone else.
    for name in ("documents:rendition", "documents:thumbnail"):
        assert client.get(reverse(name, args=[rendered.pk])).status_code == 302
    login(client, other)
    for name in ("documents:rendition", "documents:thumbnail"):
        assert client.get(reverse(name, args=[rendered.pk])).status_code == 404


def test_a_confidential_document_shows_no_thumbnail(client, owner):
    document = make_document(
        owner, name="payroll.pdf", data=samples.pdf_bytes("Payroll"), security_level=SecurityLevel.CONFIDENTIAL
    )
    rendition = render(document)
    assert rendition.thumbnail  # made, but not shown: thumbnails are not stamped
    assert renditions.preview_for(document.current_version).thumbnail_url == ""
    login(client, owner)
    assert client.get(reverse("documents:thumbnail", args=[document.pk])).status_code == 404


# --- Failures: recorded, retried, never a 500 ---------------------------------------


def test_a_file_libreoffice_cannot_read_fails_with_its_reason_and_the_page_says_so(soffice, client, owner, monkeypatch):
    document = make_document(owner, name="odd.docx", data=samples.docx_bytes("minimal"))
    monkeypatch.setattr(
        office, "convert", lambda *a, **k: (_ for _ in ()).throw(office.ConversionError("timeout", "Took too long."))
    )
    failures_before = metrics.rendition_failures.labels(reason="timeout")._value.get()
    rendition = render(document)
    assert (rendition.status, rendition.reason, rendition.error) == ("failed", "timeout", "Took too long.")
    assert metrics.rendition_failures.labels(reason="timeout")._value.get() == failures_before + 1
    preview = renditions.preview_for(document.current_version)
    assert preview.state == "failed" and preview.error == "Took too long."
    login(client, owner)
    assert client.get(reverse("documents:rendition", args=[document.pk])).status_code == 404


def test_an_unexpected_error_is_recorded_not_raised(client, owner, monkeypatch):
    document = make_document(owner, name="x.pdf", data=samples.pdf_bytes("x"))
    monkeypatch.setattr(renditions, "_make", lambda *a: 1 / 0)
    rendition = render(document)
    assert rendition.status == "failed" and rendition.reason == "error"


def test_a_hostile_image_fails_within_limits(client, owner, settings):
    # A PNG that declares 30,000 x 30,000 pixels (900 MP): refused before decoding.
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )
    document = make_document(owner, name="bomb.png", data=bomb)
    rendition = render(document)
    assert rendition.status == "failed" and rendition.reason in {"failed", "crashed", "cpu", "timeout"}
    assert rendition.duration_ms < settings.DOCUID_THUMBNAIL_TIMEOUT_SECONDS * 1000


def test_renditions_build_retries_failed_ones_resumably_with_progress(client, owner, monkeypatch, capsys):
    done = make_document(owner, name="a.pdf", data=samples.pdf_bytes("a"))
    failed = make_document(owner, name="b.pdf", data=samples.pdf_bytes("b"))
    pending = make_document(owner, name="c.pdf", data=samples.pdf_bytes("c"))
    render(done)
    real_make = renditions._make
    monkeypatch.setattr(renditions, "_make", lambda *a: (_ for _ in ()).throw(renditions._Failed("crashed", "boom")))
    render(failed)
    monkeypatch.setattr(renditions, "_make", real_make)
    assert renditions.pending_count() == 1  # c: queued, never made

    call_command("renditions_build")
    out = capsys.readouterr().out
    assert f"[1/1] 100%  version {pending.current_version_id}: done" in out
    assert Rendition.objects.get(version=failed.current_version).status == "failed"

    call_command("renditions_build", "--failed")
    out = capsys.readouterr().out
    assert "1 version(s) processed: 1 done" in out
    rendition = Rendition.objects.get(version=failed.current_version)
    assert rendition.status == "done" and rendition.attempts == 2
    assert renditions.pending_count() == 0

    call_command("renditions_build", "--document", str(done.pk))
    assert "1 version(s) processed: 1 done" in capsys.readouterr().out


def test_rebuilding_replaces_the_files_and_deleting_the_document_removes_them(
    owner, media, django_capture_on_commit_callbacks
):
    document = make_document(owner, name="a.png", data=samples.png_bytes(64, 64))
    first = render(document).thumbnail.name
    second = render(document).thumbnail.name
    assert first != second and not default_storage.exists(first) and default_storage.exists(second)
    with django_capture_on_commit_callbacks(execute=True):
        services.document_delete(acting_user=owner, document=document)
    assert not default_storage.exists(second)
    assert stored_files(media) == []


def test_the_pending_gauge_counts_versions_waiting(owner):
    make_document(owner, name="a.pdf", data=samples.pdf_bytes("a"))
    make_document(owner, name="n.txt", data=samples.text_bytes("n\n"))  # nothing to render: not counted
    metrics.refresh_rendition_gauges()
    assert metrics.renditions_pending._value.get() == 1


def test_the_owner_sees_each_versions_rendition_state_on_the_detail_page(client, owner, other, monkeypatch):
    document = make_document(owner, name="plan.pdf", data=samples.pdf_bytes("v1"))
    render(document)
    services.document_version_add(
        acting_user=owner, document=document, file=ContentFile(samples.pdf_bytes("v2"), name="plan.pdf")
    )  # v2 queued, not made
    login(client, owner)
    page = client.get(reverse("documents:detail", args=[document.pk])).content.decode()
    assert '<th scope="col">Preview</th>' in page
    assert ">Being made</td>" in page and ">Ready</td>" in page
    monkeypatch.setattr(
        renditions, "_make", lambda *a: (_ for _ in ()).throw(renditions._Failed("timeout", "Too slow."))
    )
    document.refresh_from_db()
    render(document)
    page = client.get(reverse("documents:detail", args=[document.pk])).content.decode()
    assert "Could not be made: Too slow." in page
    # Grantees see no versions table (the owner's working history), so no rendition details either.
    services.grant_add(acting_user=owner, document=document, user=other, permission=Permission.VIEW, notify=False)
    login(client, other)
    assert "Could not be made" not in client.get(reverse("documents:detail", args=[document.pk])).content.decode()


def test_a_confidential_office_files_rendition_is_stamped_for_its_viewer_and_audited(soffice, client, owner):
    document = make_document(
        owner,
        name="Board pack.docx",
        data=office_files.docx_bytes(["Board pack one", "Board pack two"]),
        security_level=SecurityLevel.CONFIDENTIAL,
    )
    render(document)
    login(client, owner)
    response = client.get(reverse("documents:rendition", args=[document.pk]))
    assert response.status_code == 200 and response["X-DocuID-Stamp"]
    assert response["Accept-Ranges"] == "none" and not response.has_header("ETag")
    pages = pdf_text(b"".join(response.streaming_content))
    assert len(pages) == 2
    for number, text in enumerate(pages, start=1):
        assert text.startswith(f"Board pack {['one', 'two'][number - 1]}")
        assert "Olive Owner" in text and response["X-DocuID-Stamp"] in text  # who, and the event's reference
    event = AuditEvent.objects.filter(action="document.open", outcome="success").latest("pk")
    assert event.data["rendition"] is True and event.data["watermark"]["ref"] == response["X-DocuID-Stamp"]


def test_a_legacy_word_file_gets_a_rendition_too(soffice, client, owner, tmp_path):
    # A real .doc, made by LibreOffice from a python-docx file.
    source = tmp_path / "memo.docx"
    source.write_bytes(office_files.docx_bytes(["Legacy memo text"]))
    legacy = office.convert(source, "doc", tmp_path, timeout_seconds=60, memory_mb=2048)
    document = make_document(owner, name="memo.doc", data=legacy.read_bytes())
    rendition = render(document)
    assert rendition.status == "done", rendition.error
    login(client, owner)
    assert pdf_text(rendition_bytes(client, document)) == ["Legacy memo text"]


def test_a_sideways_phone_photo_gets_an_upright_thumbnail(owner):
    photo = Image.new("RGB", (800, 400), (200, 30, 30))
    exif = photo.getexif()
    exif[0x0112] = 6  # EXIF orientation: shown rotated 90° clockwise
    data = io.BytesIO()
    photo.save(data, "JPEG", exif=exif)
    rendition = render(make_document(owner, name="photo.jpg", data=data.getvalue()))
    assert (rendition.thumbnail_width, rendition.thumbnail_height) == (320, 640)


def test_the_upload_queues_the_rendition_which_runs_once_the_upload_commits(owner, django_capture_on_commit_callbacks):
    # Celery runs eagerly here (no broker), as under `make run`: committing the upload makes the thumbnail.
    with django_capture_on_commit_callbacks(execute=True):
        document = make_document(owner, name="scan.pdf", data=samples.pdf_bytes("Queued"))
    rendition = Rendition.objects.get(version=document.current_version)
    assert rendition.status == "done" and rendition.thumbnail and rendition.attempts == 1
