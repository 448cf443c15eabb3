"""Hostile uploads: zip bombs posing as Office files, padded decks, crafted file names, active content."""

import io
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from documents import filetypes, previews, samples, services
from documents.errors import UnsupportedFormat
from documents.models import Document
from tests.factories import make_document
from tests.security.conftest import login

pytestmark = pytest.mark.django_db

PPTX_MAIN = "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"


def _rezip(data: bytes, replace: dict[str, bytes]) -> bytes:
    """The same package with some parts replaced or added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename not in replace:
                target.writestr(info, source.read(info.filename))
        for name, content in replace.items():
            target.writestr(name, content)
    return out.getvalue()


def test_a_zip_bomb_posing_as_a_word_file_is_refused_before_its_content_types_are_inflated(owner, media):
    genuine = samples.docx_bytes("bomb")
    with zipfile.ZipFile(io.BytesIO(genuine)) as archive:
        content_types = archive.read("[Content_Types].xml")
    # Still a valid declaration of a Word file, padded far past anything real (compresses ~1000:1).
    padded = content_types.replace(b"</Types>", b" " * (filetypes.CONTENT_TYPES_MAX_BYTES + 1) + b"</Types>")
    bomb = _rezip(genuine, {"[Content_Types].xml": padded})
    assert len(bomb) < 64 * 1024
    with pytest.raises(UnsupportedFormat):
        services.document_upload(acting_user=owner, file=ContentFile(bomb, name="bomb.docx"), name="bomb.docx")
    assert not Document.objects.exists()


def test_a_deck_padded_with_huge_slides_is_previewed_within_a_bounded_budget(owner):
    slide_size = 3 * 1024 * 1024
    slides = {}
    for number in range(1, 8):
        text = f"<a:t>slide-{number}-text</a:t>".encode()
        slides[f"ppt/slides/slide{number}.xml"] = text + b" " * (slide_size - len(text))
    deck = _rezip(samples.pptx_bytes("cover"), slides)
    document = make_document(owner, name="padded.pptx", data=deck)
    preview = previews.text_preview(document.current_version)
    read = [n for n in range(1, 8) if f"slide-{n}-text" in preview]
    assert read and max(read) * slide_size <= previews.XML_TOTAL_MAX
    assert "slide-7-text" not in preview


def test_a_file_name_with_a_path_is_stored_under_a_random_key_and_shown_without_the_path(owner, media):
    document = make_document(owner, name="../../../etc/cron.d/evil.pdf")
    version = document.current_version
    assert version.original_name == "evil.pdf"
    assert version.file.name.startswith("documents/") and ".." not in version.file.name
    assert "evil" not in version.file.name


def test_a_crafted_file_name_cannot_inject_headers_or_parameters_into_the_download(client, owner):
    name = 'report"; filename="evil.exe\r\nSet-Cookie: pwned=1\r\n.pdf'
    document = make_document(owner, name=name)
    login(client, owner)
    response = client.get(reverse("documents:download", args=[document.pk]))
    disposition = response["Content-Disposition"]
    assert response.status_code == 200
    assert "\r" not in disposition and "\n" not in disposition
    assert "pwned" not in response.cookies and "Set-Cookie" not in {k.title() for k in response.headers}
    assert disposition.startswith("attachment; filename=")
    assert disposition.count('"') == 2  # one quoted value: the crafted quote cannot end it early


def test_an_svg_image_with_a_script_is_refused_even_under_an_image_name(client, owner):
    login(client, owner)
    svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(document.cookie)</script></svg>"
    response = client.post(
        reverse("documents:upload"),
        {"files": [SimpleUploadedFile("logo.svg", svg, content_type="image/svg+xml")], "security_level": "internal"},
    )
    assert response.status_code == 400
    assert not Document.objects.exists()


def test_an_html_page_uploaded_as_a_text_file_is_refused(client, owner):
    login(client, owner)
    page = b"hello\n<html><body><script>fetch('/documents/')</script></body></html>"
    response = client.post(
        reverse("documents:upload"),
        {"files": [SimpleUploadedFile("notes.txt", page, content_type="text/plain")], "security_level": "internal"},
    )
    assert response.status_code == 400
    assert not Document.objects.exists()


def test_a_text_file_is_only_ever_downloaded_never_rendered_as_a_page(client, owner):
    document = make_document(owner, name="notes.txt", data=b"plain words <b>bold?</b>\n")
    login(client, owner)
    response = client.get(reverse("documents:download", args=[document.pk]))
    assert response["Content-Type"].startswith("text/plain")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment")


def test_more_files_than_allowed_in_one_upload_are_refused_with_a_message(client, owner, settings):
    settings.DOCUID_MAX_FILES_PER_UPLOAD = 3
    login(client, owner)
    files = [SimpleUploadedFile(f"n{i}.txt", f"note {i}\n".encode()) for i in range(4)]
    response = client.post(reverse("documents:upload"), {"files": files, "security_level": "internal"})
    assert response.status_code == 400
    assert b"At most 3 files" in response.content
    assert not Document.objects.exists()


def test_a_huge_description_is_a_form_error_not_a_500(client, owner):
    login(client, owner)
    response = client.post(
        reverse("documents:upload"),
        {
            "files": [SimpleUploadedFile("n.txt", b"note\n")],
            "security_level": "internal",
            "description": "x" * 1_000_000,
        },
    )
    assert response.status_code == 400
    assert not Document.objects.exists()
