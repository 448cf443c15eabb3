"""Tiny but real files of every accepted kind, generated in memory (demo data, tests, benchmark).

Each opens in its application: the PDF is written by pypdf, the Office files are
minimal OOXML packages, the PNG is a valid zlib-compressed image.
"""

import io
import struct
import zipfile
import zlib
from xml.sax.saxutils import escape

_CT_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_OFFICE_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
_R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def pdf_bytes(text: str = "DocuID sample", pages: int = 1) -> bytes:
    """A PDF with `pages` pages, each showing `text`."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    font_ref = writer._add_object(font)
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    for number in range(1, pages + 1):
        page = writer.add_blank_page(width=595, height=842)
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 18 Tf 72 760 Td ({safe} - page {number}) Tj ET".encode("latin-1", "replace"))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font_ref})}
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _package(main_path: str, main_type: str, parts: dict[str, str], extra_types: dict[str, str] = {}) -> bytes:  # noqa: B006
    overrides = {f"/{main_path}": main_type, **extra_types}
    content_types = (
        _CT_HEAD + f'<Types xmlns="{_CT_NS}">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        + "".join(f'<Override PartName="{p}" ContentType="{t}"/>' for p, t in overrides.items())
        + "</Types>"
    )
    rels = (
        _CT_HEAD + f'<Relationships xmlns="{_REL_NS}">'
        f'<Relationship Id="rId1" Type="{_OFFICE_DOC}" Target="{main_path}"/></Relationships>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        # A fixed timestamp keeps the bytes (and so the SHA-256) the same on every run.
        for path, xml in {"[Content_Types].xml": content_types, "_rels/.rels": rels, **parts}.items():
            archive.writestr(zipfile.ZipInfo(path, date_time=(2026, 1, 1, 0, 0, 0)), xml, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def docx_bytes(text: str = "DocuID sample") -> bytes:
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    paragraphs = "".join(f"<w:p><w:r><w:t>{escape(line)}</w:t></w:r></w:p>" for line in text.splitlines() or [""])
    document = _CT_HEAD + f'<w:document xmlns:w="{w}"><w:body>{paragraphs}</w:body></w:document>'
    return _package(
        "word/document.xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        {"word/document.xml": document},
    )


def xlsx_bytes(rows: list[list[str]] | None = None) -> bytes:
    rows = rows or [["Item", "Amount"], ["Coffee", "3"], ["Tea", "2"]]
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    strings = [cell for row in rows for cell in row]
    shared = (
        _CT_HEAD
        + f'<sst xmlns="{ns}" count="{len(strings)}" uniqueCount="{len(strings)}">'
        + "".join(f"<si><t>{escape(s)}</t></si>" for s in strings)
        + "</sst>"
    )
    index = 0
    sheet_rows = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, _ in enumerate(row):
            cells.append(f'<c r="{chr(65 + c)}{r}" t="s"><v>{index}</v></c>')
            index += 1
        sheet_rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    sheet = _CT_HEAD + f'<worksheet xmlns="{ns}"><sheetData>{"".join(sheet_rows)}</sheetData></worksheet>'
    workbook = (
        _CT_HEAD + f'<workbook xmlns="{ns}" xmlns:r="{_R_NS}">'
        '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    workbook_rels = (
        _CT_HEAD + f'<Relationships xmlns="{_REL_NS}">'
        f'<Relationship Id="rId1" Type="{_R_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_R_NS}/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
    )
    return _package(
        "xl/workbook.xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        {
            "xl/workbook.xml": workbook,
            "xl/_rels/workbook.xml.rels": workbook_rels,
            "xl/worksheets/sheet1.xml": sheet,
            "xl/sharedStrings.xml": shared,
        },
        {
            "/xl/worksheets/sheet1.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml",
            "/xl/sharedStrings.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml",
        },
    )


def pptx_bytes(text: str = "DocuID sample") -> bytes:
    p = "http://schemas.openxmlformats.org/presentationml/2006/main"
    a = "http://schemas.openxmlformats.org/drawingml/2006/main"
    slide = (
        _CT_HEAD + f'<p:sld xmlns:p="{p}" xmlns:a="{a}"><p:cSld><p:spTree><p:sp><p:txBody>'
        f"<a:p><a:r><a:t>{escape(text)}</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>"
    )
    presentation = (
        _CT_HEAD + f'<p:presentation xmlns:p="{p}" xmlns:r="{_R_NS}">'
        '<p:sldIdLst><p:sldId id="256" r:id="rId1"/></p:sldIdLst></p:presentation>'
    )
    presentation_rels = (
        _CT_HEAD + f'<Relationships xmlns="{_REL_NS}">'
        f'<Relationship Id="rId1" Type="{_R_NS}/slide" Target="slides/slide1.xml"/></Relationships>'
    )
    return _package(
        "ppt/presentation.xml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
        {
            "ppt/presentation.xml": presentation,
            "ppt/_rels/presentation.xml.rels": presentation_rels,
            "ppt/slides/slide1.xml": slide,
        },
        {"/ppt/slides/slide1.xml": "application/vnd.openxmlformats-officedocument.presentationml.slide+xml"},
    )


def slides_bytes(slides: list[str]) -> bytes:
    """A presentation with one title slide per text, written by python-pptx.

    Unlike `pptx_bytes` (the smallest package our own readers accept), it carries the
    masters and layouts that PowerPoint and LibreOffice need to render it: the demo's
    deck gets a real PDF rendition and thumbnail.
    """
    import datetime

    import pptx

    deck = pptx.Presentation()
    for text in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[0])
        slide.shapes.title.text = text
    fixed = datetime.datetime(2026, 1, 1)
    deck.core_properties.created = deck.core_properties.modified = fixed
    deck.core_properties.last_printed = fixed
    out = io.BytesIO()
    deck.save(out)
    # python-pptx stamps each zip entry with the current time: rewrite them with _package's
    # fixed one, so the bytes (and the demo's SHA-256 lookup) are the same on every run.
    fixed_out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as source, zipfile.ZipFile(fixed_out, "w") as target:
        for entry in source.infolist():
            stamped = zipfile.ZipInfo(entry.filename, date_time=(2026, 1, 1, 0, 0, 0))
            target.writestr(stamped, source.read(entry), zipfile.ZIP_DEFLATED)
    return fixed_out.getvalue()


def png_bytes(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (31, 95, 191)) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def jpeg_bytes() -> bytes:
    """The smallest JPEG header that signature checks recognise (SOI + JFIF APP0 + EOI)."""
    return bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")


def ole_bytes(stream_name: str) -> bytes:
    """A minimal OLE2 compound file holding one stream (legacy .doc/.xls/.ppt container)."""
    sector = 512
    # Sector 0: FAT, sector 1: directory, sector 2: the stream (as a regular-sector stream of 4096 bytes).
    stream_sectors = 8
    data = b"DocuID legacy sample".ljust(stream_sectors * sector, b"\x00")
    endofchain, fatsect, freesect = 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
    fat = [fatsect, endofchain, *list(range(3, 3 + stream_sectors - 1)), endofchain]
    fat += [freesect] * (128 - len(fat))
    header = bytearray(sector)
    header[0:8] = bytes.fromhex("d0cf11e0a1b11ae1")
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<I", header, 44, 1)  # number of FAT sectors
    struct.pack_into("<I", header, 48, 1)  # first directory sector
    struct.pack_into("<I", header, 56, 4096)  # mini stream cutoff
    struct.pack_into("<I", header, 60, endofchain)  # first mini FAT sector
    struct.pack_into("<I", header, 68, endofchain)  # first DIFAT sector
    struct.pack_into("<I", header, 76, 0)  # DIFAT[0] = FAT in sector 0
    for i in range(1, 109):
        struct.pack_into("<I", header, 76 + 4 * i, freesect)

    def entry(name: str, kind: int, start: int, size: int, child: int = 0xFFFFFFFF) -> bytes:
        raw = bytearray(128)
        encoded = (name + "\x00").encode("utf-16-le")
        raw[0 : len(encoded)] = encoded
        struct.pack_into("<H", raw, 64, len(encoded))
        raw[66] = kind
        raw[67] = 1  # black
        struct.pack_into("<III", raw, 68, 0xFFFFFFFF, 0xFFFFFFFF, child)
        struct.pack_into("<I", raw, 116, start)
        struct.pack_into("<I", raw, 120, size)
        return bytes(raw)

    directory = entry("Root Entry", 5, endofchain, 0, child=1) + entry(stream_name, 2, 2, len(data)) + bytes(128) * 2
    fat_sector = struct.pack("<128I", *fat)
    return bytes(header) + fat_sector + directory + data


def text_bytes(text: str = "DocuID sample\n") -> bytes:
    return text.encode("utf-8")


def csv_bytes() -> bytes:
    return b"date,amount,description\n2026-01-01,12.50,Lunch\n2026-01-02,3.20,Coffee\n"
