"""Cheap previews for the open page: text files as they are, Word files' words, spreadsheets as
tables (the first rows and columns of each sheet), slides in order (OOXML only).

Everything is bounded: at most PREVIEW_BYTES of a text file are read and at most PREVIEW_CHARS
shown; an Office file's parts are checked by their declared sizes before anything is inflated,
sheets are streamed (openpyxl read-only, defusedxml: no entity expansion) and only their first
SHEET_ROWS rows and SHEET_COLUMNS columns are read, so a huge or hostile file costs about what a small one does.
The result is plain text and plain strings; templates escape them.
"""

import html
import logging
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time

from documents.models import DocumentVersion, Family

logger = logging.getLogger("docuid.documents")

PREVIEW_BYTES = 256 * 1024
PREVIEW_CHARS = 20_000
XML_PART_MAX = 4 * 1024 * 1024
# Parts that hold no text cost inflating all the same: a deck of thousands of 4 MB
# slides of padding would otherwise take minutes of CPU on every open.
XML_TOTAL_MAX = 16 * 1024 * 1024
# Spreadsheets: openpyxl streams a sheet and stops after SHEET_ROWS rows, but it builds a
# whole <row> in memory, so a sheet part larger than SHEET_PART_MAX is named, not read.
SHEETS_MAX = 10
SHEET_ROWS = 50
SHEET_COLUMNS = 20
SHEET_PART_MAX = XML_TOTAL_MAX
CELL_CHARS = 100
SLIDES_MAX = 100

_OOXML_PARTS = {
    "docx": re.compile(r"^word/document\.xml$"),
    "xlsx": re.compile(r"^xl/sharedStrings\.xml$"),
    "pptx": re.compile(r"^ppt/slides/slide\d+\.xml$"),
}
_TEXT_RUN = re.compile(r"<(?:w|a):t(?:\s[^>]*)?>([^<]*)</(?:w|a):t>|<t(?:\s[^>]*)?>([^<]*)</t>|</(?:w|a):p>")
_OOXML_KEY = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
}
_SHEET_PART = re.compile(r"^xl/worksheets/[^/]+\.xml$")
_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_P_NS = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
_R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_PARSE_ERRORS = (zipfile.BadZipFile, KeyError, OSError, RuntimeError, ValueError, SyntaxError)


@dataclass(frozen=True)
class Sheet:
    name: str
    rows: list[list[str]]
    more_rows: bool = False
    more_columns: bool = False
    too_large: bool = False

    @property
    def columns(self) -> list[str]:
        """Column letters (A, B, … T) as the spreadsheet shows them."""
        width = len(self.rows[0]) if self.rows else 0
        return [chr(ord("A") + i) for i in range(min(width, 26))]


@dataclass(frozen=True)
class Slide:
    number: int
    paragraphs: list[str]


class TextPreview(str):
    """The preview as plain text (the API, the share page), carrying the sheets or slides the open page shows.

    A str so every caller of text_preview() keeps working unchanged, while the file is read once.
    """

    sheets: tuple[Sheet, ...] = ()
    slides: tuple[Slide, ...] = ()
    more_sheets: bool = False

    @classmethod
    def of(cls, text: str, **parts) -> "TextPreview":
        preview = cls(text)
        for name, value in parts.items():
            setattr(preview, name, value)
        return preview


def _slide_number(name: str) -> int:
    digits = re.sub(r"\D", "", name)
    return int(digits) if digits else 0


def _paragraphs(xml: str) -> list[str]:
    """The text of each paragraph (<w:p>/<a:p>) in an OOXML part, runs joined."""
    paragraphs: list[str] = []
    current: list[str] = []
    for match in _TEXT_RUN.finditer(xml):
        text = match.group(1) if match.group(1) is not None else match.group(2)
        if text is None:  # the end of a paragraph
            paragraphs.append(" ".join(current).strip())
            current = []
        else:
            current.append(html.unescape(text))
    if current:
        paragraphs.append(" ".join(current).strip())
    return [p for p in paragraphs if p]


def _ooxml_text(fileobj, key: str) -> str:
    pattern = _OOXML_PARTS[key]
    out: list[str] = []
    with zipfile.ZipFile(fileobj) as archive:
        names = sorted((n for n in archive.namelist() if pattern.match(n)), key=_slide_number)
        budget = XML_TOTAL_MAX
        for name in names:
            size = archive.getinfo(name).file_size
            if size > XML_PART_MAX:
                continue
            if size > budget:
                break
            budget -= size
            xml = archive.read(name).decode("utf-8", errors="replace")
            for match in _TEXT_RUN.finditer(xml):
                text = match.group(1) if match.group(1) is not None else match.group(2)
                out.append(html.unescape(text) + " " if text is not None else "\n")
            out.append("\n")
            if sum(len(s) for s in out) > PREVIEW_CHARS:
                break
    return "".join(out)


# --- slides ---------------------------------------------------------------------------------


def _slide_order(archive: zipfile.ZipFile) -> list[str]:
    """The slide parts in the deck's own order (presentation.xml's list), else by their file numbers."""
    from defusedxml import ElementTree

    found = sorted((n for n in archive.namelist() if _OOXML_PARTS["pptx"].match(n)), key=_slide_number)
    try:
        for part in ("ppt/presentation.xml", "ppt/_rels/presentation.xml.rels"):
            if archive.getinfo(part).file_size > XML_PART_MAX:
                return found
        presentation = ElementTree.fromstring(archive.read("ppt/presentation.xml"))
        rels = ElementTree.fromstring(archive.read("ppt/_rels/presentation.xml.rels"))
    except Exception:  # noqa: BLE001 — a deck without a readable list of slides still has slides
        return found
    targets = {rel.get("Id"): rel.get("Target", "") for rel in rels.iter(f"{_REL_NS}Relationship")}
    ordered = []
    for slide_id in presentation.iter(f"{_P_NS}sldId"):
        target = targets.get(slide_id.get(_R_ID), "").lstrip("/")
        name = target if target.startswith("ppt/") else f"ppt/{target}"
        if name in found and name not in ordered:
            ordered.append(name)
    return ordered or found


def _slides(fileobj) -> TextPreview:
    slides: list[Slide] = []
    with zipfile.ZipFile(fileobj) as archive:
        budget, chars = XML_TOTAL_MAX, 0
        for number, name in enumerate(_slide_order(archive)[:SLIDES_MAX], start=1):
            size = archive.getinfo(name).file_size
            if size > XML_PART_MAX:
                slides.append(Slide(number, []))
                continue
            if size > budget:
                break
            budget -= size
            paragraphs = _paragraphs(archive.read(name).decode("utf-8", errors="replace"))
            slides.append(Slide(number, paragraphs))
            chars += sum(len(p) for p in paragraphs)
            if chars > PREVIEW_CHARS:
                break
    text = "\n\n".join(f"Slide {s.number}\n" + "\n".join(s.paragraphs) for s in slides)
    return TextPreview.of(text, slides=tuple(slides))


# --- spreadsheets ---------------------------------------------------------------------------


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M") if (value.hour, value.minute) != (0, 0) else value.strftime("%Y-%m-%d")
    if isinstance(value, date | time):
        return value.isoformat()
    text = str(value)
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"


def _trimmed(rows: list[list[str]]) -> list[list[str]]:
    """Without the empty rows at the end and the empty columns on the right."""
    while rows and not any(rows[-1]):
        rows.pop()
    width = max((i + 1 for row in rows for i, cell in enumerate(row) if cell), default=0)
    return [row[:width] + [""] * (width - len(row[:width])) for row in rows]


def _spreadsheet_parts_bounded(archive: zipfile.ZipFile) -> dict[str, int]:
    """Sheet part sizes by name; raises ValueError when the parts read whole (strings, styles…) are too big."""
    sheets, total = {}, 0
    for info in archive.infolist():
        if _SHEET_PART.match(info.filename):
            sheets[info.filename] = info.file_size
        elif info.filename.endswith((".xml", ".rels")):
            if info.file_size > XML_PART_MAX:
                raise ValueError(f"part {info.filename[:64]} too large to preview")
            total += info.file_size
    if total > XML_TOTAL_MAX:
        raise ValueError("workbook too large to preview")
    return sheets


def _spreadsheet(fileobj) -> TextPreview:
    import openpyxl

    with zipfile.ZipFile(fileobj) as archive:
        sheet_sizes = _spreadsheet_parts_bounded(archive)
    fileobj.seek(0)
    workbook = openpyxl.load_workbook(fileobj, read_only=True, data_only=True, keep_links=False)
    try:
        sheets: list[Sheet] = []
        worksheets = [ws for ws in workbook.worksheets if hasattr(ws, "iter_rows")]  # no chartsheets
        for worksheet in worksheets[:SHEETS_MAX]:
            part = getattr(worksheet, "_worksheet_path", "")
            if sheet_sizes.get(part, 0) > SHEET_PART_MAX:
                sheets.append(Sheet(worksheet.title, [], too_large=True))
                continue
            rows = []
            more_rows = more_columns = False
            for row in worksheet.iter_rows(max_row=SHEET_ROWS + 1, max_col=SHEET_COLUMNS + 1, values_only=True):
                if len(rows) == SHEET_ROWS:
                    more_rows = any(v is not None for v in row)
                    break
                cells = [_cell_text(v) for v in row]
                more_columns = more_columns or any(cells[SHEET_COLUMNS:])
                rows.append(cells[:SHEET_COLUMNS])
            sheets.append(Sheet(worksheet.title, _trimmed(rows), more_rows=more_rows, more_columns=more_columns))
    finally:
        workbook.close()
    text = "\n\n".join(f"{sheet.name}\n" + "\n".join("\t".join(row) for row in sheet.rows) for sheet in sheets)
    return TextPreview.of(text, sheets=tuple(sheets), more_sheets=len(worksheets) > SHEETS_MAX)


# --- the entry point ------------------------------------------------------------------------


def text_preview(version: DocumentVersion) -> TextPreview | None:
    """A preview (plain text, with sheets or slides where it has them), or None when there is no cheap one."""
    family = version.document.family if version.document_id else ""
    key = _OOXML_KEY.get(version.mime_type)
    with version.file.storage.open(version.file.name, "rb") as fileobj:
        if family == Family.TEXT:
            text = fileobj.read(PREVIEW_BYTES).decode("utf-8", errors="replace")
        elif key in ("xlsx", "pptx"):
            try:
                return _spreadsheet(fileobj) if key == "xlsx" else _slides(fileobj)
            except Exception as exc:  # noqa: BLE001 — a hostile or broken file is "no preview", never a 500
                logger.info("no %s preview for version %s: %s", key, version.pk, type(exc).__name__)
                return None
        elif key:
            try:
                text = _ooxml_text(fileobj, key)
            except _PARSE_ERRORS:
                return None
        else:
            return None
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if len(text) > PREVIEW_CHARS:
        text = text[:PREVIEW_CHARS] + "\n…"
    return TextPreview(text)
