"""Cheap text previews for the open page: text files as they are, Office files' words (OOXML only).

Everything is bounded: at most PREVIEW_BYTES are read and at most PREVIEW_CHARS
shown, so a huge or hostile file costs the same as a small one. The result is
plain text; the template escapes it.
"""

import html
import re
import zipfile

from documents.models import DocumentVersion, Family

PREVIEW_BYTES = 256 * 1024
PREVIEW_CHARS = 20_000
XML_PART_MAX = 4 * 1024 * 1024
# Parts that hold no text cost inflating all the same: a deck of thousands of 4 MB
# slides of padding would otherwise take minutes of CPU on every open.
XML_TOTAL_MAX = 16 * 1024 * 1024

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


def _slide_number(name: str) -> int:
    digits = re.sub(r"\D", "", name)
    return int(digits) if digits else 0


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


def text_preview(version: DocumentVersion) -> str | None:
    """A plain-text preview, or None when there is no cheap one (legacy Office, PDF, images)."""
    family = version.document.family if version.document_id else ""
    with version.file.storage.open(version.file.name, "rb") as fileobj:
        if family == Family.TEXT:
            text = fileobj.read(PREVIEW_BYTES).decode("utf-8", errors="replace")
        elif version.mime_type in _OOXML_KEY:
            try:
                text = _ooxml_text(fileobj, _OOXML_KEY[version.mime_type])
            except (zipfile.BadZipFile, KeyError, OSError, RuntimeError, ValueError):
                return None
        else:
            return None
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if len(text) > PREVIEW_CHARS:
        text = text[:PREVIEW_CHARS] + "\n…"
    return text
