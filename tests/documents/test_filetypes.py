import io
import zipfile

import pytest

from documents import samples
from documents.filetypes import UnsupportedFileType, sanitize_filename, sniff


def kind(data: bytes, name: str) -> str:
    return sniff(io.BytesIO(data), name).key


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("a.pdf", samples.pdf_bytes(), "pdf"),
        ("a.docx", samples.docx_bytes(), "docx"),
        ("a.xlsx", samples.xlsx_bytes(), "xlsx"),
        ("a.pptx", samples.pptx_bytes(), "pptx"),
        ("a.doc", samples.ole_bytes("WordDocument"), "doc"),
        ("a.xls", samples.ole_bytes("Workbook"), "xls"),
        ("a.ppt", samples.ole_bytes("PowerPoint Document"), "ppt"),
        ("a.png", samples.png_bytes(), "png"),
        ("a.jpg", samples.jpeg_bytes(), "jpg"),
        ("a.txt", "héllo wörld\n".encode(), "txt"),
        ("a.csv", samples.csv_bytes(), "csv"),
        ("a.md", b"# Title\n", "md"),
    ],
)
def test_every_accepted_kind_is_recognised_from_its_bytes(name, data, expected):
    assert kind(data, name) == expected


def test_the_bytes_decide_even_without_an_extension():
    assert kind(samples.docx_bytes(), "contract") == "docx"
    assert kind(samples.ole_bytes("Workbook"), "legacy") == "xls"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("invoice.pdf", b"<html><body>pay here</body></html>"),
        ("notes.txt", b"<!DOCTYPE html><html><script>alert(1)</script>"),
        ("image.png", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"),
        ("data.csv", b"a,b\x00c\n"),
        ("latin1.txt", "café".encode("latin-1")),
        ("empty.txt", b""),
        ("program.pdf", b"MZ\x90\x00\x03\x00\x00\x00"),
        ("archive.docx", samples.docx_bytes().replace(b"[Content_Types].xml", b"[Content_Typez].xml")),
        ("plain.zip", b"PK\x03\x04" + b"\x00" * 40),
        ("other.doc", samples.ole_bytes("SomethingElse")),
    ],
)
def test_disguised_or_unknown_files_are_refused(name, data):
    with pytest.raises(UnsupportedFileType):
        kind(data, name)


def test_a_known_extension_that_contradicts_the_content_is_refused():
    with pytest.raises(UnsupportedFileType, match=r"named \.xlsx but its content is DOCX"):
        kind(samples.docx_bytes(), "budget.xlsx")


def test_a_macro_enabled_office_file_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types><Override PartName="/word/document.xml" '
            'ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/></Types>',
        )
    with pytest.raises(UnsupportedFileType):
        kind(buffer.getvalue(), "macro.docm")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("bad\x00name\r\n.txt", "badname.txt"),
        ('a<b>c:"d|e?f*.pdf', "a_b_c__d_e_f_.pdf"),
        ("...", "document"),
        ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
    ],
)
def test_file_names_are_sanitised(raw, clean):
    assert sanitize_filename(raw) == clean
