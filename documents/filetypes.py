"""What a file really is, decided from its bytes; the client's name and Content-Type are not trusted.

Signatures come from `filetype` (PDF, PNG, JPEG, ZIP, OLE2). OOXML files are zips
told apart by the main part their [Content_Types].xml declares; legacy Office files
are OLE2 compound files told apart by their stream names (`olefile`). Text must be
UTF-8 without NULs.

Active content is refused (issue #12, F14). Files are served as attachments with their
sniffed type, which is safe on the site — but the recipient's saved copy is opened by its
name, or, without a known extension, by its content. So a name a browser or the desktop
opens as a page or a script (.html, .svg, .xml, .js, ...) is refused whatever the bytes,
and text whose content a browser or a file manager's sniffer would take for a page, an
SVG or an XHTML/XSLT document — anywhere in the file, namespaced, in any case — is too.
"""

import codecs
import html
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
        FileType("odt", "application/vnd.oasis.opendocument.text", Family.WORD, ("odt",)),
        FileType("ods", "application/vnd.oasis.opendocument.spreadsheet", Family.EXCEL, ("ods",)),
        FileType("odp", "application/vnd.oasis.opendocument.presentation", Family.POWERPOINT, ("odp",)),
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
ALLOWED_DESCRIPTION = (
    "PDF, Word (docx, doc), Excel (xlsx, xls), PowerPoint (pptx, ppt), OpenDocument (odt, ods, odp), "
    "text, CSV, Markdown, PNG, JPEG"
)

OOXML_MAIN_PARTS = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": "pptx",
}
# OpenDocument packages start with a stored "mimetype" entry naming the kind (ODF 1.2, part 3, 3.3).
ODF_MIMETYPES = {
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
}
# Where an OpenDocument package keeps macros (StarBasic, scripts): run by the office suite, so refused.
ODF_MACRO_FOLDERS = ("basic/", "scripts/")
# Stream names that identify each legacy Office format inside an OLE2 container.
OLE_STREAMS = (("worddocument", "doc"), ("workbook", "xls"), ("book", "xls"), ("powerpoint document", "ppt"))
# Names a browser or the desktop opens as a page, an XML document or a script. The saved copy
# of a download keeps its name, so these are refused whatever the bytes are.
ACTIVE_EXTENSIONS = frozenset(
    {
        *("htm", "html", "shtm", "shtml", "xht", "xhtml", "mht", "mhtml", "hta"),  # pages
        *("svg", "svgz", "xml", "xsl", "xslt", "xul", "rdf", "rss", "atom"),  # XML a browser renders
        *("js", "mjs", "jse", "vbs", "vbe", "wsf", "wsh", "wsc", "sct", "ps1", "psm1", "bat", "cmd", "scr", "pif"),
        *("lnk", "url", "webloc", "desktop", "swf"),  # shortcuts and players that open a URL or run code
    }
)
# Text a browser (or a file manager's type sniffer) would take for an active page. An element
# may carry an XML namespace prefix (`<x:svg>`, `<h:script>`): the namespace, not the prefix,
# makes it XHTML or SVG. Tag and attribute names cannot hide behind entities; URLs can, so
# those are looked for after unescaping and without whitespace.
_ELEMENT = r"<\s*/?\s*(?:[^\s<>/=:\"']{1,64}:)?"
ACTIVE_MARKUP = re.compile(
    "|".join(
        (
            _ELEMENT + r"(?:html|head|body|script|svg|math|iframe|frame|frameset|object|embed|applet|portal|meta)\b",
            r"<!doctype\s+(?:html|svg)",
            r"<\?xml-stylesheet",
            r"http://www\.w3\.org/(?:1999/xhtml|2000/svg|1998/math/mathml|1999/xsl/transform)",
            r"there\.is\.only\.xul",
            # an event handler attribute in something that starts like a tag: <img src=x onerror=...>
            r"<[a-z][^<>]{0,4096}?[\s/\"'`]on[a-z]+\s*=",
            r"\+adw-",  # UTF-7 for "<", which old sniffers decoded
        )
    ),
    re.IGNORECASE,
)
ACTIVE_URL = re.compile(r"(?:java|vb|live)script:|data:text/html|data:image/svg", re.IGNORECASE)
_INVISIBLE = re.compile(r"[\s\x00-\x1f\x7f]+")
MARKUP_OVERLAP = 8192  # longer than any match of ACTIVE_MARKUP / ACTIVE_URL, so none straddles a chunk unseen
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


def _odf_kind(fileobj: BinaryIO) -> str | None:
    """odt / ods / odp from the package's mimetype entry; raises UnsupportedFileType for macros."""
    fileobj.seek(0)
    try:
        with zipfile.ZipFile(fileobj) as archive:
            infos = archive.infolist()
            if not infos or infos[0].filename != "mimetype" or infos[0].file_size > 100:
                return None
            mimetype = archive.read(infos[0]).decode("ascii", errors="replace").strip()
    except (zipfile.BadZipFile, KeyError, OSError, RuntimeError, ValueError):
        return None
    key = ODF_MIMETYPES.get(mimetype)
    if key is not None and any(info.filename.lower().startswith(ODF_MACRO_FOLDERS) for info in infos):
        raise UnsupportedFileType(
            "OpenDocument files with macros are not accepted. Save it without macros (or as PDF) and upload that."
        )
    return key


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


class ActiveContent(UnsupportedFileType):
    """Markup or a name that a browser or the desktop would run."""


ACTIVE_CONTENT_MESSAGE = (
    "The file contains web-page markup or script (HTML, SVG, XHTML or XSLT) that a browser would run "
    "when the saved copy is opened; it is not accepted. Save it as PDF or plain text and upload that."
)


def has_active_markup(text: str) -> bool:
    """Whether `text` holds markup a browser would run as a page (see ACTIVE_MARKUP, ACTIVE_URL)."""
    if ACTIVE_MARKUP.search(text):
        return True
    return bool(ACTIVE_URL.search(_INVISIBLE.sub("", html.unescape(text))))


def _is_utf8_text(fileobj: BinaryIO) -> bool:
    """UTF-8 without NULs; raises ActiveContent for markup anywhere in it."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    tail = ""
    while chunk := fileobj.read(TEXT_CHUNK):
        if b"\x00" in chunk:
            return False
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError:
            return False
        # Scanned with the end of the previous chunk, so markup split across chunks is seen.
        if has_active_markup(tail + text):
            raise ActiveContent(ACTIVE_CONTENT_MESSAGE)
        tail = (tail + text)[-MARKUP_OVERLAP:]
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def download_name(name: str, mime_type: str) -> str:
    """The name a download is saved under: always one that ends in its type's own extension.

    The saved copy is opened by its name, and the list of names the desktop runs has no end
    (.msc, .library-ms, .searchConnector-ms, .reg, .scf, .theme, .jnlp, .command, a zip named
    .jar, an OLE2 file named .msi...), so a name is kept only when its extension is one of its
    sniffed type's (report.pdf, notes.txt); any other gets that one appended (console.msc.txt,
    README.txt). Uploads refuse the active names a browser runs; this also covers files
    stored before they did.
    """
    extension = extension_of(name)
    known = TYPES_BY_MIME.get(mime_type)
    if known is not None:
        return name if extension in known.extensions else f"{name}.{known.extensions[0]}"
    return f"{name}.bin" if extension in ACTIVE_EXTENSIONS else name


def sniff(fileobj: BinaryIO, name: str) -> FileType:
    """The type of the file from its bytes; raises UnsupportedFileType with a message for people."""
    fileobj.seek(0)
    header = fileobj.read(HEADER_BYTES)
    fileobj.seek(0)
    if not header:
        raise UnsupportedFileType("The file is empty.")
    extension = extension_of(name)
    if extension in ACTIVE_EXTENSIONS:
        raise ActiveContent(
            f"Files named .{extension} are not accepted: a browser or the computer would run the saved copy "
            "(web pages, SVG, XML and scripts). Upload a PDF or plain text instead."
        )
    guessed = filetype.guess(header)
    key: str | None = None
    if guessed is not None and guessed.extension in {"pdf", "png", "jpg"}:
        key = guessed.extension
    elif header.startswith(b"PK\x03\x04"):
        key = _ooxml_kind(fileobj) or _odf_kind(fileobj)
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
