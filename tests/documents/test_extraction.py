"""Text extraction (issue #14): real files of each format, built here with their libraries or by hand."""

import io
import time
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission as AuthPermission
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from documents import filetypes, metrics, search, services, tasks
from documents.extraction import Limits, sandbox
from documents.extraction.ocr import tesseract_available
from documents.extraction.registry import extract
from documents.models import DocumentVersion, ExtractionStatus, VersionText
from documents.services.extraction import version_text_extract
from tests.conftest import require
from tests.documents.conftest import login
from tests.documents.pdf_builder import pdf_with_text
from tests.documents.test_admin import verified_client
from tests.factories import StaffFactory, make_document

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
A = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
P = 'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'
R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]>\n"
)


# --- building real files ---------------------------------------------------------------------


def zip_bytes(parts: dict[str, bytes | str], *, first: tuple[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if first:  # OpenDocument: the mimetype entry comes first, stored
            archive.writestr(zipfile.ZipInfo(first[0]), first[1], compress_type=zipfile.ZIP_STORED)
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def content_types(main: str, overrides: dict[str, str] = {}) -> str:
    items = "".join(f'<Override PartName="/{name}" ContentType="{kind}"/>' for name, kind in overrides.items())
    return (
        '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/{main[0]}" ContentType="{main[1]}"/>{items}</Types>'
    )


def docx_bytes(document_xml: str | None = None, extra: dict[str, bytes | str] = {}) -> bytes:
    body = document_xml or (
        f"<w:document {W}><w:body>"
        "<w:p><w:r><w:t>The tenant pays the </w:t></w:r><w:r><w:t>rent monthly.</w:t></w:r></w:p>"
        "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Clause</w:t></w:r></w:p></w:tc>"
        "<w:tc><w:p><w:r><w:t>Penalty</w:t></w:r></w:p></w:tc></w:tr>"
        "<w:tr><w:tc><w:p><w:r><w:t>Late payment</w:t></w:r></w:p></w:tc>"
        "<w:tc><w:p><w:r><w:t>5 percent</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
        "</w:body></w:document>"
    )
    main = ("word/document.xml", DOCX.replace(".document", ".document.main+xml"))
    return zip_bytes({"[Content_Types].xml": content_types(main), "word/document.xml": body, **extra})


def pptx_bytes() -> bytes:
    def slide(text: str) -> str:
        return f"<p:sld {A} {P}><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:t>{text}</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>"

    def rels(items: dict[str, str]) -> str:
        body = "".join(f'<Relationship Id="{rid}" Type="{REL}/x" Target="{target}"/>' for rid, target in items.items())
        return f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{body}</Relationships>'

    main = ("ppt/presentation.xml", PPTX.replace(".presentation", ".presentation.main+xml"))
    return zip_bytes(
        {
            "[Content_Types].xml": content_types(main),
            # Slide order is the presentation's list, not the part names: slide2.xml comes first.
            "ppt/presentation.xml": f'<p:presentation {P} {R}><p:sldIdLst><p:sldId id="256" r:id="rId2"/>'
            '<p:sldId id="257" r:id="rId1"/></p:sldIdLst></p:presentation>',
            "ppt/_rels/presentation.xml.rels": rels({"rId1": "slides/slide1.xml", "rId2": "slides/slide2.xml"}),
            "ppt/slides/slide1.xml": slide("Quarterly roadmap"),
            "ppt/slides/slide2.xml": slide("Opening agenda"),
            "ppt/slides/_rels/slide2.xml.rels": rels({"rId1": "../notesSlides/notesSlide1.xml"}),
            "ppt/notesSlides/notesSlide1.xml": slide("Remember the pelican"),
        }
    )


def xlsx_bytes() -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Budget"
    sheet.append(["Item", "Amount"])
    sheet.append(["Rent", 1200])
    workbook.create_sheet("Staff").append(["Alice", "Engineer"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0"'
)


def odf_bytes(kind: str, body: str, *, prolog: str = "", extra: dict[str, str] = {}) -> bytes:
    content = f"{prolog}<office:document-content {ODF_NS}><office:body>{body}</office:body></office:document-content>"
    manifest = (
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    return zip_bytes(
        {"content.xml": content, "META-INF/manifest.xml": manifest, **extra},
        first=("mimetype", f"application/vnd.oasis.opendocument.{kind}"),
    )


ODT_BODY = "<office:text><text:h>Lease agreement</text:h><text:p>The landlord<text:s/>repairs the <text:span>boiler</text:span>.</text:p></office:text>"
ODS_BODY = (
    '<office:spreadsheet><table:table table:name="Invoices">'
    "<table:table-row><table:table-cell><text:p>Acme</text:p></table:table-cell>"
    "<table:table-cell><text:p>450</text:p></table:table-cell></table:table-row>"
    "</table:table></office:spreadsheet>"
)
ODP_BODY = (
    '<office:presentation><draw:page draw:name="one"><draw:frame><draw:text-box><text:p>Welcome aboard</text:p>'
    "</draw:text-box></draw:frame><presentation:notes><draw:frame><draw:text-box><text:p>Speak slowly</text:p>"
    '</draw:text-box></draw:frame></presentation:notes></draw:page><draw:page draw:name="two"><draw:frame>'
    "<draw:text-box><text:p>Questions</text:p></draw:text-box></draw:frame></draw:page></office:presentation>"
)


def scan_png(words: str = "PELICAN INVOICE") -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (1400, 300), 255)
    font = ImageFont.truetype(FONT, 96)
    ImageDraw.Draw(image).text((40, 90), words, font=font, fill=0)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def image_only_pdf() -> bytes:
    from PIL import Image

    image = Image.open(io.BytesIO(scan_png("ZEBRA CONTRACT"))).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "PDF", resolution=150)
    return buffer.getvalue()


def extracted(data: bytes, mime_type: str, tmp_path, **limits):
    path = tmp_path / "input"
    path.write_bytes(data)
    return extract(str(path), mime_type, Limits(**limits))


def needs_ocr():
    require(
        "tesseract",
        tesseract_available(),
        "apt-get install tesseract-ocr tesseract-ocr-eng (deploy/install-ci-tools.sh)",
    )

    require("DejaVu fonts", Path(FONT).exists(), "apt-get install fonts-dejavu-core")


# --- each format ------------------------------------------------------------------------------


def test_a_pdf_text_layer_is_extracted_with_every_page(tmp_path):
    data = pdf_with_text(lambda page: [f"Page {page} mentions the indemnity clause"], pages=3)
    result = extracted(data, "application/pdf", tmp_path)
    assert result.extractor == "pdf-text"
    assert [f"Page {n} mentions the indemnity clause" in result.text for n in range(3)] == [True] * 3


def test_a_docx_gives_its_paragraphs_and_table_rows(tmp_path):
    result = extracted(docx_bytes(), DOCX, tmp_path)
    assert result.extractor == "ooxml-docx"
    assert "The tenant pays the rent monthly." in result.text
    assert "Clause\tPenalty" in result.text and "Late payment\t5 percent" in result.text


def test_an_xlsx_gives_sheet_names_and_cells_as_tab_separated_rows(tmp_path):
    result = extracted(xlsx_bytes(), XLSX, tmp_path)
    assert result.extractor == "ooxml-xlsx"
    assert "Sheet: Budget\nItem\tAmount\nRent\t1200" in result.text
    assert "Sheet: Staff\nAlice\tEngineer" in result.text


def test_a_pptx_gives_its_slides_in_presentation_order_with_notes(tmp_path):
    result = extracted(pptx_bytes(), PPTX, tmp_path)
    assert result.extractor == "ooxml-pptx"
    assert result.text.index("Opening agenda") < result.text.index("Remember the pelican")
    assert result.text.index("Remember the pelican") < result.text.index("Quarterly roadmap")
    assert "Slide 1\nOpening agenda" in result.text and "Slide 2\nQuarterly roadmap" in result.text


@pytest.mark.parametrize(
    ("kind", "body", "expected"),
    [
        ("text", ODT_BODY, ["Lease agreement", "The landlord repairs the boiler."]),
        ("spreadsheet", ODS_BODY, ["Acme\t450"]),
        ("presentation", ODP_BODY, ["Slide 1", "Welcome aboard", "Speak slowly", "Slide 2", "Questions"]),
    ],
)
def test_opendocument_files_give_their_text(tmp_path, kind, body, expected):
    result = extracted(odf_bytes(kind, body), f"application/vnd.oasis.opendocument.{kind}", tmp_path)
    assert result.extractor.startswith("odf-")
    for fragment in expected:
        assert fragment in result.text


@pytest.mark.parametrize(
    ("data", "mime_type", "expected"),
    [
        ("Café crème, façade, naïve résumé\n".encode("latin-1"), "text/plain", "Café crème, façade, naïve résumé"),
        ("Café crème, façade, naïve résumé\n".encode("utf-16"), "text/plain", "Café crème, façade, naïve résumé"),
        ("name,city\nRenée,Zürich\n".encode("cp1252"), "text/csv", "name,city\nRenée,Zürich"),
        ("# Café notes\n\n* crème\n".encode(), "text/markdown", "# Café notes\n\n* crème"),
    ],
    ids=["latin-1", "utf-16", "cp1252-csv", "utf-8-markdown"],
)
def test_text_in_any_common_encoding_is_decoded(tmp_path, data, mime_type, expected):
    assert extracted(data, mime_type, tmp_path).text == expected


def test_text_is_cut_at_the_character_budget(tmp_path):
    assert extracted(b"word " * 1000, "text/plain", tmp_path, max_chars=100).text == ("word " * 20).strip()


def test_a_scanned_png_is_found_by_an_ocrd_word(tmp_path):
    needs_ocr()
    result = extracted(scan_png(), "image/png", tmp_path)
    assert result.extractor == "image-ocr"
    assert "PELICAN" in result.text.upper()


def test_an_image_only_pdf_is_ocrd(tmp_path):
    needs_ocr()
    result = extracted(image_only_pdf(), "application/pdf", tmp_path)
    assert result.extractor == "pdf-ocr"
    assert "ZEBRA" in result.text.upper()


# --- OpenDocument uploads are accepted (and sniffed) -----------------------------------------


@pytest.mark.parametrize(("kind", "key"), [("text", "odt"), ("spreadsheet", "ods"), ("presentation", "odp")])
def test_opendocument_uploads_are_sniffed_from_their_mimetype_entry(kind, key):
    detected = filetypes.sniff(io.BytesIO(odf_bytes(kind, ODT_BODY)), f"file.{key}")
    assert detected.key == key


def test_an_opendocument_file_with_macros_is_refused():
    data = odf_bytes("text", ODT_BODY, extra={"Basic/Standard/Module1.xml": "<script/>"})
    with pytest.raises(filetypes.UnsupportedFileType, match="macros"):
        filetypes.sniff(io.BytesIO(data), "letter.odt")


def test_a_zip_whose_mimetype_entry_is_not_first_is_not_opendocument():
    data = zip_bytes({"content.xml": "<x/>", "mimetype": "application/vnd.oasis.opendocument.text"})
    with pytest.raises(filetypes.UnsupportedFileType):
        filetypes.sniff(io.BytesIO(data), "letter.odt")


# --- hostile files end within their limits and fail the version ------------------------------


def zip_bomb_docx() -> bytes:
    buffer = io.BytesIO()
    main = ("word/document.xml", DOCX.replace(".document", ".document.main+xml"))
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", content_types(main))
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            chunk = b" " * (1024 * 1024)
            for _ in range(200):  # 200 MB of spaces inflate from ~0.2 MB
                part.write(chunk)
    return buffer.getvalue()


def billion_laughs_docx() -> bytes:
    return docx_bytes(
        BILLION_LAUGHS + f"<w:document {W}><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>"
    )


def billion_laughs_odt() -> bytes:
    return odf_bytes("text", "<office:text><text:p>&lol9;</text:p></office:text>", prolog=BILLION_LAUGHS)


def billion_laughs_xlsx() -> bytes:
    # A real workbook whose first sheet's XML is given an entity-expanding DTD.
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes()))
    parts = {}
    for name in source.namelist():
        data = source.read(name)
        if name == "xl/worksheets/sheet1.xml":
            body = data.decode().split("?>", 1)[-1].replace("<v>", "<v>&lol9;", 1)
            data = (BILLION_LAUGHS + body).encode()
        parts[name] = data
    return zip_bytes(parts)


def huge_page_tree_pdf() -> bytes:
    # Each level's Kids list the level below ten times: a few hundred bytes claiming 10^9 pages.
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    depth = 9
    for level in range(depth):
        kid = level + 3
        count = 10 ** (depth - level)
        objects.append(b"<< /Type /Pages /Kids [" + b" ".join([b"%d 0 R" % kid] * 10) + b"] /Count %d >>" % count)
    objects.append(b"<< /Type /Page /MediaBox [0 0 595 842] >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def stored_version(owner, data: bytes, name: str, mime_type: str) -> DocumentVersion:
    """A version whose stored bytes are `data`, whatever the upload's sniffing would say of them."""

    document = make_document(owner, name="hostile.pdf")
    version = document.current_version
    version.file.storage.delete(version.file.name)
    version.file.storage.save(version.file.name, ContentFile(data))
    version.mime_type = mime_type
    version.save(update_fields=["mime_type"])
    return version


@pytest.mark.parametrize(
    ("build", "mime_type", "reason_words"),
    [
        (zip_bomb_docx, DOCX, "size limit"),
        (billion_laughs_docx, DOCX, "entities"),
        (billion_laughs_odt, "application/vnd.oasis.opendocument.text", "entities"),
        (billion_laughs_xlsx, XLSX, "entities"),
        (huge_page_tree_pdf, "application/pdf", ""),
    ],
    ids=["zip-bomb-docx", "billion-laughs-docx", "billion-laughs-odt", "billion-laughs-xlsx", "huge-page-tree-pdf"],
)
def test_a_hostile_file_ends_within_its_limits_and_fails_the_version(owner, settings, build, mime_type, reason_words):
    settings.DOCUID_EXTRACT_TIMEOUT_SECONDS = 60
    settings.DOCUID_EXTRACT_MEMORY_MB = 512
    version = stored_version(owner, build(), "hostile", mime_type)
    started = time.monotonic()
    text = version_text_extract(version=version)
    assert time.monotonic() - started < 60
    assert text.status == ExtractionStatus.FAILED
    assert text.content == "" and text.error and reason_words in text.error
    assert text.attempts == 1 and text.duration_ms is not None


def test_the_wall_clock_limit_kills_a_slow_extraction(tmp_path):
    needs_ocr()
    from PIL import Image

    # A long scan: about a second of OCR unbounded, against a limit of 0.2 s.
    line = Image.open(io.BytesIO(scan_png("PELICAN INVOICE 12345")))
    page = Image.new("L", (line.width, line.height * 40), 255)
    for row in range(40):
        page.paste(line, (0, row * line.height))
    path = tmp_path / "scan.png"
    page.save(path)
    started = time.monotonic()
    outcome = sandbox.run(str(path), "image/png", Limits(), cpu_seconds=60, memory_mb=1024, timeout_seconds=0.2)
    assert (outcome.status, outcome.reason) == ("failed", "timeout")
    assert time.monotonic() - started < 5


def test_the_memory_limit_applies_to_the_extraction(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"word " * (8 * 1024 * 1024))  # 40 MB of text: reading and decoding it needs > 100 MB
    limits = Limits(max_chars=50_000_000)
    # The grandchild starts from the zygote's ~60 MB of address space: 100 MB leave too little for the file.
    outcome = sandbox.run(str(path), "text/plain", limits, cpu_seconds=60, memory_mb=100, timeout_seconds=30)
    assert (outcome.status, outcome.reason) == ("failed", "memory")
    assert (
        sandbox.run(str(path), "text/plain", limits, cpu_seconds=60, memory_mb=1024, timeout_seconds=30).status
        == "done"
    )


# --- the task after upload, and the upload is never broken by it -----------------------------


def test_an_upload_queues_extraction_after_commit_and_stores_the_text(
    client, owner, django_capture_on_commit_callbacks
):
    login(client, owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("documents:upload"),
            {"files": [SimpleUploadedFile("lease.docx", docx_bytes())], "security_level": "internal"},
            headers={"Accept": "application/json"},
        )
    assert response.status_code == 201
    text = VersionText.objects.get()
    assert text.status == "done" and "rent monthly" in text.content and text.extractor == "ooxml-docx"


def test_an_uploaded_image_only_pdf_is_found_by_an_ocrd_word_through_the_task(
    owner, django_capture_on_commit_callbacks
):
    needs_ocr()
    with django_capture_on_commit_callbacks(execute=True):
        document = services.document_upload(
            acting_user=owner, file=ContentFile(image_only_pdf(), name="scan.pdf"), name="scan.pdf"
        )
    text = VersionText.objects.get(version=document.current_version)
    assert (text.status, text.extractor) == ("done", "pdf-ocr")
    assert "ZEBRA" in text.content.upper()


def test_a_new_version_is_extracted_too(owner, django_capture_on_commit_callbacks):

    document = make_document(owner, name="notes.txt", data=b"first draft\n")
    with django_capture_on_commit_callbacks(execute=True):
        version = services.document_version_add(
            acting_user=owner, document=document, file=ContentFile(b"second draft\n", name="notes.txt")
        )
    assert VersionText.objects.get(version=version).content == "second draft"


def test_a_hostile_upload_is_stored_and_answered_as_before_while_its_extraction_fails(
    client, owner, django_capture_on_commit_callbacks
):
    login(client, owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("documents:upload"),
            {"files": [SimpleUploadedFile("bomb.docx", billion_laughs_docx())], "security_level": "internal"},
            headers={"Accept": "application/json"},
        )
    assert response.status_code == 201
    assert VersionText.objects.get().status == "failed"


def test_an_extraction_that_breaks_unexpectedly_never_breaks_the_upload(
    client, owner, django_capture_on_commit_callbacks, monkeypatch
):
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(sandbox, "run", explode)
    login(client, owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("documents:upload"),
            {"files": [SimpleUploadedFile("a.txt", b"some words\n")], "security_level": "internal"},
        )
    assert response.status_code in (200, 302)
    text = VersionText.objects.get()
    assert (text.status, text.error) == ("failed", "Extraction failed unexpectedly.")


def test_a_broker_outage_leaves_the_version_pending_and_the_upload_stored(
    client, owner, django_capture_on_commit_callbacks, monkeypatch
):

    def down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.extract_version_text, "delay", down)
    login(client, owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("documents:upload"),
            {"files": [SimpleUploadedFile("a.txt", b"some words\n")], "security_level": "internal"},
            headers={"Accept": "application/json"},
        )
    assert response.status_code == 201
    assert VersionText.objects.get().status == "pending"


def test_the_extraction_refreshes_the_documents_search_vector(owner, monkeypatch):

    document = make_document(owner, name="a.txt", data=b"hello\n")
    refreshed = []
    monkeypatch.setattr(search, "refresh_search_vector", lambda document: refreshed.append(document.pk))
    version_text_extract(version=document.current_version)
    assert refreshed == [document.pk]


def test_the_owner_sees_why_a_versions_text_could_not_be_read(client, owner):
    version = stored_version(owner, billion_laughs_docx(), "x", DOCX)
    version_text_extract(version=version)
    login(client, owner)
    page = client.get(reverse("documents:detail", args=[version.document_id])).content.decode()
    assert "Not searchable: The file&#x27;s XML declares entities" in page


def test_the_owner_sees_a_version_waiting_then_searchable(client, owner):
    document = make_document(owner, name="a.txt", data=b"alpha\n")
    login(client, owner)
    assert "Waiting to be read" in client.get(reverse("documents:detail", args=[document.pk])).content.decode()
    version_text_extract(version=document.current_version)
    assert "Searchable" in client.get(reverse("documents:detail", args=[document.pk])).content.decode()


# --- search_reindex ---------------------------------------------------------------------------


def test_search_reindex_extracts_what_is_missing_and_resumes_without_redoing_done_versions(owner, capsys):

    first = make_document(owner, name="a.txt", data=b"alpha words\n")
    second = make_document(owner, name="b.txt", data=b"beta words\n")
    version_text_extract(version=first.current_version)
    call_command("search_reindex")
    output = capsys.readouterr().out
    assert f"[1/1] 100%  version {second.current_version.pk}: done" in output
    assert VersionText.objects.get(version=second.current_version).content == "beta words"
    assert VersionText.objects.get(version=first.current_version).attempts == 1
    call_command("search_reindex")
    assert "0 version(s) processed" in capsys.readouterr().out


def test_search_reindex_failed_retries_failures_and_all_redoes_everything(owner, capsys):

    document = make_document(owner, name="a.txt", data=b"alpha\n")
    VersionText.objects.update_or_create(
        version=document.current_version, defaults={"status": "failed", "error": "old", "attempts": 1}
    )
    call_command("search_reindex")
    assert VersionText.objects.get().attempts == 1
    call_command("search_reindex", "--failed")
    assert VersionText.objects.get().status == "done"
    call_command("search_reindex", "--all")
    assert VersionText.objects.get().attempts == 3
    call_command("search_reindex", "--document", str(document.pk))
    assert VersionText.objects.get().attempts == 4


def test_search_reindex_of_an_unknown_document_is_an_error(db):

    with pytest.raises(CommandError, match="No document 999"):
        call_command("search_reindex", "--document", "999")


# --- metrics and the admin --------------------------------------------------------------------


def test_the_pending_gauge_counts_versions_not_yet_extracted(owner):

    done = make_document(owner, name="a.txt", data=b"alpha\n")
    make_document(owner, name="b.txt", data=b"beta\n")
    version_text_extract(version=done.current_version)
    metrics.refresh_extraction_gauges()
    assert metrics.extraction_pending._value.get() == 1


def test_metrics_serves_the_backlog_read_from_the_database(client, owner):

    make_document(owner, name="a.txt", data=b"alpha\n")
    make_document(owner, name="b.txt", data=b"beta\n")
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    values = {
        sample.name: sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }
    assert values["docuid_extraction_pending"] == 2


def test_failures_are_counted_by_reason(owner):

    def count() -> float:
        return REGISTRY.get_sample_value("docuid_extraction_failures_total", {"reason": "unsafe"}) or 0

    before = count()
    version_text_extract(version=stored_version(owner, billion_laughs_docx(), "x", DOCX))
    assert count() == before + 1


def test_the_admin_shows_status_and_error_but_not_the_text_and_re_extracts(
    client, owner, django_capture_on_commit_callbacks
):

    staff = StaffFactory()
    for codename in ("view_document", "change_document", "view_documentversion", "view_versiontext"):
        staff.user_permissions.add(AuthPermission.objects.get(codename=codename, content_type__app_label="documents"))
    version = stored_version(owner, billion_laughs_docx(), "x", DOCX)
    text = version_text_extract(version=version)
    VersionText.objects.filter(pk=text.pk).update(content="SECRET CONTENT")
    verified_client(client, staff)
    page = client.get(reverse("admin:documents_versiontext_change", args=[text.pk])).content.decode()
    assert "entities" in page and "SECRET CONTENT" not in page
    document_page = client.get(reverse("admin:documents_document_change", args=[version.document_id])).content.decode()
    assert "Failed" in document_page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:documents_versiontext_changelist"), {"action": "re_extract", "_selected_action": [text.pk]}
        )
    assert VersionText.objects.get(pk=text.pk).attempts == 2
