"""Issue #12, F14: active content (HTML, SVG, XHTML, XSLT, scripts) is refused under any name and encoding.

The site serves every file as an attachment with its sniffed type, so the danger is the
recipient's saved copy: opened by its name (.html, .svg), or sniffed by its content.
"""

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from documents import filetypes, samples, services
from documents.errors import UnsupportedFormat
from documents.models import Document, DocumentVersion
from tests.documents.conftest import login, stored_files
from tests.factories import make_document

pytestmark = pytest.mark.django_db

SCRIPT = b"<script>alert(document.domain)</script>"


def upload(owner, name: str, data: bytes) -> Document:
    return services.document_upload(acting_user=owner, file=ContentFile(data, name=name), name=name)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        # namespaced SVG and XHTML: the namespace makes it active, whatever the prefix
        ("logo.txt", b"<x:svg xmlns:x='http://www.w3.org/2000/svg'><x:script>alert(1)</x:script></x:svg>"),
        ("data.txt", b"<?xml version='1.0'?><r xmlns:h='http://www.w3.org/1999/xhtml'><h:img src='x'/></r>"),
        ("feed", b"<root><h:script xmlns:h='http://www.w3.org/1999/xhtml'>alert(1)</h:script></root>"),
        ("transform.txt", b"<?xml-stylesheet type='text/xsl' href='#'?><doc/>"),
        # HTML under a text name, in upper case, without <html> or <script>
        ("notes.txt", b"<IMG SRC=x ONERROR=alert(1)>"),
        ("notes.txt", b"Dear team,\n<SCRIPT>alert(1)</SCRIPT>"),
        ("notes.txt", b"<body onload='alert(1)'>hi"),
        ("notes.md", b"<details open ontoggle=alert(1)>"),
        ("notes.txt", b"<iframe srcdoc='x'></iframe>"),
        ("notes.txt", b"<MATH><maction actiontype='statusline'>x</maction></MATH>"),
        # a script URL, plain or hidden behind entities and whitespace
        ("readme.md", b"[Open the report](javascript:alert(1))"),
        ("readme.md", b"<a href='jav&#x61;&#x0A;script:alert(1)'>report</a>"),
        ("readme.md", b"<a href='data:text/html;base64,PHNjcmlwdD4='>report</a>"),
        # encodings: a BOM, UTF-16 (NULs), UTF-7
        ("bom.txt", b"\xef\xbb\xbf<html>" + SCRIPT),
        ("utf16.txt", ("<html>" + SCRIPT.decode() + "</html>").encode("utf-16")),
        ("utf16be.txt", ("<html>" + SCRIPT.decode() + "</html>").encode("utf-16-be")),
        ("utf7.txt", b"+ADw-script+AD4-alert(1)+ADw-/script+AD4-"),
        # past the first 64 kB, and split across the sniffer's chunk boundary
        ("long.txt", b"a" * 70_000 + SCRIPT),
        ("split.txt", b"a" * (filetypes.TEXT_CHUNK - 4) + SCRIPT),
        ("split.csv", b"a,b\n" * 16_383 + b"<im" + b"g src=x onerror=alert(1)>"),
    ],
)
def test_active_markup_is_refused_under_any_name_and_encoding(owner, media, name, data):
    with pytest.raises(UnsupportedFormat):
        upload(owner, name, data)
    assert not Document.objects.exists()
    assert stored_files(media) == []


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("page.html", b"just words, nothing active"),
        ("page.HTM", b"just words"),
        ("image.svg", b"just words"),
        ("feed.xml", b"just words"),
        ("page.xhtml", b"just words"),
        ("archive.mht", b"just words"),
        ("run.js", b"just words"),
        ("run.hta", b"just words"),
        ("report.html", samples.pdf_bytes("a real PDF named as a page")),
        ("photo.svg", samples.png_bytes()),
    ],
)
def test_a_name_the_saved_copy_would_run_is_refused_whatever_the_bytes(owner, name, data):
    with pytest.raises(UnsupportedFormat, match="not accepted"):
        upload(owner, name, data)
    assert not Document.objects.exists()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("notes.md", b"# Notes\n\nSome <b>bold</b>, a<br>break, <details><summary>more</summary>x</details>\n"),
        ("notes.md", b'![diagram](diagram.png) and <img src="diagram.png" alt="the diagram">\n'),
        ("maths.csv", b"a,b,c\n1 < 2,3 > 2,x\n"),
        ("letter.txt", b"The html element and the script tag are explained in chapter 3.\n"),
    ],
)
def test_ordinary_text_with_harmless_markup_is_still_accepted(owner, name, data):
    assert upload(owner, name, data).family == "text"


def test_the_upload_page_refuses_an_html_page_with_a_clear_message(client, owner):
    login(client, owner)
    response = client.post(
        reverse("documents:upload"),
        {
            "files": [SimpleUploadedFile("invoice.html", b"Pay here", content_type="text/html")],
            "security_level": "internal",
        },
    )
    assert response.status_code == 400
    assert b"are not accepted" in response.content
    assert not Document.objects.exists()


def test_a_version_stored_before_the_fix_is_downloaded_under_a_harmless_name(client, owner):
    document = make_document(owner, name="page.txt", data=b"plain words\n")
    DocumentVersion.objects.filter(document=document).update(original_name="page.html")
    login(client, owner)
    response = client.get(reverse("documents:download", args=[document.pk]))
    assert response.status_code == 200
    assert 'filename="page.html.txt"' in response["Content-Disposition"]
