"""What a file really is, decided from its bytes; the client's name and Content-Type are not trusted.

Signatures come from `filetype` (PDF, PNG, JPEG, ZIP, OLE2). OOXML files are zips
told apart by the main part their [Content_Types].xml declares; legacy Office files
are OLE2 compound files told apart by their stream names (`olefile`). Text must be
UTF-8 without NULs, and markup that a browser would run as a page is refused.
"""

import codecs
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import PurePath
from typing import BinaryIO

import filetype
import olefile

from documents.models import Family


@dataclass(frozen=True)
class FileType:
    key: str
    mime_type: str
    family: str
    extensions: tuple[str, ...]


TYPES = {
    t.key: t
    for t in (
        FileType("pdf", "application/pdf", Family.PDF, ("pdf",)),
        FileType(
            "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", Family.WORD, ("docx",)
        ),
        FileType("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", Family.EXCEL, ("xlsx",)),
        FileType(
            "pptx",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            Family.POWERPOINT,
            ("pptx",),
        ),
        FileType("doc", "application/msword", Family.WORD, ("doc",)),
        FileType("xls", "application/vnd.ms-excel", Family.EXCEL, ("xls",)),
        FileType("ppt", "application/vnd.ms-powerpoint", Family.POWERPOINT, ("ppt",)),
        FileType("txt", "text/plain", Family.TEXT, ("txt", "text", "log")),
        FileType("csv", "text/csv", Family.TEXT, ("csv",)),
        FileType("md", "text/markdown", Family.TEXT, ("md", "markdown")),
        FileType("png", "image/png", Family.IMAGE, ("png",)),
        FileType("jpg", "image/jpeg", Family.IMAGE, ("jpg", "jpeg")),
    )
}
TYPES_BY_MIME = {t.mime_type: t for t in TYPES.values()}
KNOWN_EXTENSIONS = {ext: t for t in TYPES.values() for ext in t.extensions}
ALLOWED_DESCRIPTION = "PDF, Word (docx, doc), Excel (xlsx, xls), PowerPoint (pptx, ppt), text, CSV, Markdown, PNG, JPEG"

OOXML_MAIN_PARTS = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": "pptx",
}
# Stream names that identify each legacy Office format inside an OLE2 container.
OLE_STREAMS = (("worddocument", "doc"), ("workbook", "xls"), ("book", "xls"), ("powerpoint document", "ppt"))
# Text a browser would treat as an active page if it were ever served as HTML.
ACTIVE_MARKUP = re.compile(rb"<\s*(!doctype\s+html|html|script|svg|iframe|object|embed)\b", re.IGNORECASE)
HEADER_BYTES = 8192
# A real [Content_Types].xml is a few kB; its declared size is checked before it is
# inflated, so a zip bomb posing as Office cannot exhaust memory during the sniff.
CONTENT_TYPES_MAX_BYTES = 1024 * 1024
TEXT_CHUNK = 64 * 1024


class UnsupportedFileType(ValueError):
    """The bytes are not one of the allowed types, or contradict the file's name."""


def extension_of(name: str) -> str:
    return PurePath(name).suffix.lower().lstrip(".")


def sanitize_filename(name: str, *, fallback: str = "document") -> str:
    """A safe display/download name: no path, no control characters, bounded length."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r'[<>:"|?*]', "_", name).strip().strip(".").strip()
    if not name:
        return fallback
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else name[:200]
    return name


def _ooxml_kind(fileobj: BinaryIO) -> str | None:
    try:
        with zipfile.ZipFile(fileobj) as archive:
            if archive.getinfo("[Content_Types].xml").file_size > CONTENT_TYPES_MAX_BYTES:
                return None
            content_types = archive.read("[Content_Types].xml")
    except (zipfile.BadZipFile, KeyError, OSError, RuntimeError, ValueError):
        return None
    text = content_types.decode("utf-8", errors="replace")
    for main_part, key in OOXML_MAIN_PARTS.items():
        if f'ContentType="{main_part}"' in text:
            return key
    return None


def _ole_kind(fileobj: BinaryIO) -> str | None:
    try:
        with olefile.OleFileIO(fileobj) as ole:
            streams = {"/".join(entry).lower() for entry in ole.listdir(streams=True, storages=False)}
    except (OSError, ValueError, IndexError, TypeError):
        return None
    for stream, key in OLE_STREAMS:
        if stream in streams:
            return key
    return None


def _is_utf8_text(fileobj: BinaryIO) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    first = True
    while chunk := fileobj.read(TEXT_CHUNK):
        if b"\x00" in chunk:
            return False
        if first and ACTIVE_MARKUP.search(chunk):
            return False
        first = False
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError:
            return False
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def sniff(fileobj: BinaryIO, name: str) -> FileType:
    """The type of the file from its bytes; raises UnsupportedFileType with a message for people."""
    fileobj.seek(0)
    header = fileobj.read(HEADER_BYTES)
    fileobj.seek(0)
    if not header:
        raise UnsupportedFileType("The file is empty.")
    extension = extension_of(name)
    guessed = filetype.guess(header)
    key: str | None = None
    if guessed is not None and guessed.extension in {"pdf", "png", "jpg"}:
        key = guessed.extension
    elif header.startswith(b"PK\x03\x04"):
        key = _ooxml_kind(fileobj)
    elif header.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        key = _ole_kind(fileobj)
    elif guessed is None:
        fileobj.seek(0)
        if _is_utf8_text(fileobj):
            key = KNOWN_EXTENSIONS[extension].key if extension in {"csv", "md", "markdown"} else "txt"
    fileobj.seek(0)
    if key is None:
        raise UnsupportedFileType(f"This kind of file is not accepted. Allowed: {ALLOWED_DESCRIPTION}.")
    detected = TYPES[key]
    claimed = KNOWN_EXTENSIONS.get(extension)
    # A known extension that contradicts the content is how disguised files arrive
    # (an HTML page named report.pdf): refuse rather than trust either side.
    if claimed is not None and claimed.family != detected.family and claimed.key != detected.key:
        raise UnsupportedFileType(
            f"The file is named .{extension} but its content is {detected.key.upper()}. Rename it or upload the right file."
        )
    return detected
