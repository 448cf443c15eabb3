"""Leak-tracing stamps on confidential and restricted PDFs.

Every view or download of such a PDF goes out with one line on each page naming who
received it (name and masked phone, or a share link's masked recipient), when (UTC),
the request id and a random reference. The same reference and request id are written
to the audit event of that view or download, so a leaked page leads back to exactly
one event (the request id alone would not do: a client may send its own X-Request-ID).

Why pikepdf: qpdf reads objects lazily and copies stream data (images, fonts) through
without decoding it, so a 500 MB PDF is rewritten with flat memory. That rewrite
happens once per stored file (its template, below); each request then streams the
template with its own stamp written into fixed-size slots, at about the speed of
sending the file unstamped.

The stamp is a new content stream appended to each page (the page's own content is
wrapped in q/Q so its graphics state cannot move or hide the stamp), drawn with the
standard Helvetica font and a semi-transparent ExtGState: a small line along the
bottom edge and a faint diagonal line across the page, both laid out in the page's
displayed orientation (/Rotate) and inside its visible box (CropBox, else MediaBox,
whatever its origin).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import secrets
import shutil
import tempfile
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pikepdf
from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from accounts.phone import mask_phone
from docuid.request_context import current_request_id
from documents.errors import NotSendable
from documents.models import DocumentVersion, Rendition

STAMPED_LEVELS = frozenset({"confidential", "restricted"})
PDF_MIME = "application/pdf"
COPY_CHUNK = 1024 * 1024

# Helvetica advance widths (Adobe's standard AFM, 1/1000 em) for printable ASCII; the
# rest of WinAnsi gets a typical width. Enough to size the line to the page.
# fmt: off
_HELVETICA_WIDTHS = dict(
    zip(
        range(32, 127),
        (
            278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
            556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
            1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
            667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
            333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
            556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
        ),
        strict=True,
    )
)
# fmt: on
_DEFAULT_WIDTH = 556

BOTTOM_FONT_SIZE = 7.0
MIN_FONT_SIZE = 3.0
BOTTOM_OPACITY = 0.6
DIAGONAL_OPACITY = 0.12
MARGIN = 12.0
RECIPIENT_MAX = 80
REQUEST_ID_MAX = 40


class WatermarkError(NotSendable):
    """The PDF could not be stamped (encrypted with a password, or too damaged to rewrite).

    Callers refuse the request (422): an unstamped copy must never go out instead.
    """

    code = "DOCUMENT_NOT_STAMPABLE"
    title = "Cannot be stamped"

    def __init__(self, reason: str):
        super().__init__(
            f"{reason} Confidential and restricted PDFs only leave DocuID stamped with who receives them, "
            "and this one cannot be stamped, so it cannot be opened or downloaded here. Ask its owner for a copy."
        )


def applies(document, mime_type: str) -> bool:
    """Whether a file of `mime_type` from `document` goes out stamped."""
    return document.security_level in STAMPED_LEVELS and mime_type == PDF_MIME


def mask_email(email: str) -> str:
    """jane.doe@example.com → j***@example.com: recognisable to the sender, not a usable address."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


@dataclass(frozen=True)
class Stamp:
    """Who a stamped copy was made for, and the references that find its audit event."""

    recipient: str  # already masked: "Olive Owner (+1******0100)" / "share link #12 for j***@example.com"
    kind: str  # "user" or "share"
    request_id: str
    ref: str = field(default_factory=lambda: secrets.token_hex(6))
    at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    @property
    def text(self) -> str:
        # Bounded parts, so the reference always fits the template's slot (MAX_STAMP_BYTES): a
        # client's own X-Request-ID may be 128 characters; the event keeps it whole. Bounded in
        # printed bytes, not characters: one character may print as several ('⑽' is "(10)").
        return (
            f"{_printable(self.recipient, RECIPIENT_MAX)} · {self.at:%Y-%m-%d %H:%M:%S} UTC"
            f" · request {_printable(self.request_id, REQUEST_ID_MAX)} · ref {self.ref}"
        )

    def audit_data(self) -> dict:
        """What the audit event records: the references and time, not the recipient (already on the event)."""
        return {"stamped": True, "ref": self.ref, "kind": self.kind, "at": self.at.isoformat()}


def stamp_for_user(user, request=None) -> Stamp:
    if user is None or not getattr(user, "is_authenticated", False):
        return Stamp(recipient="an unidentified viewer", kind="user", request_id=_request_id(request))
    masked = getattr(user, "masked_phone", "")
    name = getattr(user, "name", "") or user.get_username()
    return Stamp(recipient=f"{name} ({masked})" if masked else name, kind="user", request_id=_request_id(request))


def stamp_for_share(share, request=None) -> Stamp:
    """A share link's copy names the recipient the link was made for, masked."""
    parts = []
    if share.recipient_email:
        parts.append(mask_email(share.recipient_email))
    if share.recipient_phone:
        parts.append(mask_phone(share.recipient_phone))
    who = " / ".join(parts) if parts else "no recipient named"
    return Stamp(recipient=f"Share link #{share.pk} for {who}", kind="share", request_id=_request_id(request))


def remember(request, stamp: Stamp) -> Stamp:
    """Fix whom this request's stamped response is for, before its audit event is written.

    Kept on the request: documents.http.file_response stamps with it, and the documents
    services copy its references into the request's successful access event.
    """
    request.docuid_stamp = stamp
    return stamp


def remembered(request) -> Stamp | None:
    return getattr(request, "docuid_stamp", None) if request is not None else None


def audit_data(request) -> dict:
    """{"watermark": {...}} for the audit event of a request that is answered stamped, else {}.

    `rendition: true` when a confidential Office original was asked for and its PDF was sent instead.
    """
    stamp = remembered(request)
    if stamp is None:
        return {}
    data = stamp.audit_data()
    if getattr(request, "docuid_rendition_sent", False):
        data["rendition"] = True
    return {"watermark": data}


def _request_id(request) -> str:
    request_id = getattr(request, "request_id", "") or current_request_id()
    return "" if request_id == "-" else request_id


def events_for_stamp(reference: str):
    """The audit events a stamp's reference (12 hex) or request id points to: one, unless forged or mistyped.

    Looked up by the reference first (unique per copy), else by the request id (a
    client may choose its own, so several events may share one).
    """
    from audit.models import AuditEvent

    reference = reference.strip()
    by_ref = AuditEvent.objects.filter(data__watermark__ref=reference)
    if by_ref.exists():
        return by_ref.order_by("time")
    return AuditEvent.objects.filter(request_id=reference, data__watermark__stamped=True).order_by("time")


# --- Drawing -----------------------------------------------------------------------


def _winansi(text: str) -> bytes:
    """The text as Helvetica/WinAnsi bytes; letters it cannot show lose their accents, then become '?'."""
    out = bytearray()
    for char in text:
        try:
            out += char.encode("cp1252")
            continue
        except UnicodeEncodeError:
            pass
        base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore")
        out += base or b"?"
    return bytes(out)


def _printable(text: str, limit: int) -> str:
    """`text` as it will print (WinAnsi, see _winansi), cut to `limit` printed bytes."""
    return _winansi(text)[:limit].decode("cp1252")  # _winansi only yields bytes cp1252 defines


def _width(encoded: bytes, size: float) -> float:
    return sum(_HELVETICA_WIDTHS.get(byte, _DEFAULT_WIDTH) for byte in encoded) * size / 1000


def _inherited(node: pikepdf.Dictionary, key: str):
    """A page attribute, from the page or the nearest /Pages ancestor that has it (PDF 32000 7.7.3.4)."""
    for _ in range(64):  # a cyclic /Parent chain must not hang the request
        value = node.get(key)
        if value is not None:
            return value
        node = node.get("/Parent")
        if not isinstance(node, pikepdf.Dictionary):
            return None
    return None


def _box(value) -> tuple[float, float, float, float] | None:
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    if len(numbers) != 4:
        return None
    x0, x1 = sorted((numbers[0], numbers[2]))
    y0, y1 = sorted((numbers[1], numbers[3]))
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    return round(x0, 2), round(y0, 2), round(x1, 2), round(y1, 2)


def _visible_box(page: pikepdf.Dictionary) -> tuple[float, float, float, float]:
    """The box a viewer shows (CropBox, else MediaBox, inherited), normalised to x0 < x1, y0 < y1."""
    for key in ("/CropBox", "/MediaBox"):
        value = _inherited(page, key)
        box = _box(value) if value is not None else None
        if box is not None:
            return box
    return 0.0, 0.0, 612.0, 792.0  # no usable box: viewers assume US Letter


def _rotation(page: pikepdf.Dictionary) -> int:
    """/Rotate (inherited from the page tree too), as 0/90/180/270."""
    value = _inherited(page, "/Rotate")
    try:
        return (round(float(value) / 90) * 90) % 360 if value is not None else 0
    except (TypeError, ValueError):
        return 0


def _display_matrix(box, rotation: int) -> tuple[tuple[float, ...], float, float]:
    """The cm that puts (0, 0) at the displayed bottom-left, +x to the right; and the displayed width, height."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if rotation == 90:
        return (0, 1, -1, 0, x1, y0), h, w
    if rotation == 180:
        return (-1, 0, 0, -1, x1, y1), w, h
    if rotation == 270:
        return (0, -1, 1, 0, x0, y1), h, w
    return (1, 0, 0, 1, x0, y0), w, h


def _num(value: float) -> bytes:
    return (f"{value:.4f}".rstrip("0").rstrip(".") or "0").encode()


def _overlay(encoded: bytes, box, rotation: int, font: str, bottom_gs: str, diagonal_gs: str) -> bytes:
    matrix, width, height = _display_matrix(box, rotation)
    hex_text = b"<" + encoded.hex().encode() + b">"
    natural = _width(encoded, 1.0) or 1.0
    # Bottom line: centred, shrunk to fit narrow pages.
    size = max(MIN_FONT_SIZE, min(BOTTOM_FONT_SIZE, (width - 2 * MARGIN) / natural))
    text_width = natural * size
    x = max(2.0, (width - text_width) / 2)
    y = min(MARGIN / 2, height / 4)
    # Diagonal: along the displayed page's diagonal, as large as fits (bounded).
    angle = math.atan2(height, width)
    diagonal = math.hypot(width, height) * 0.8
    d_size = max(MIN_FONT_SIZE, min(36.0, diagonal / natural))
    d_width = natural * d_size
    cos, sin = math.cos(angle), math.sin(angle)
    # Start so the line's centre sits on the page centre (shifted down by half the cap height).
    cx = width / 2 - (d_width / 2) * cos + (d_size * 0.35) * sin
    cy = height / 2 - (d_width / 2) * sin - (d_size * 0.35) * cos
    ops = [
        b"q",
        b" ".join(_num(v) for v in matrix) + b" cm",
        b"/" + bottom_gs.encode() + b" gs",
        b"0.25 0.25 0.25 rg",
        b"BT /" + font.encode() + b" " + _num(size) + b" Tf " + _num(x) + b" " + _num(y) + b" Td",
        hex_text + b" Tj ET",
        b"/" + diagonal_gs.encode() + b" gs",
        b"0.5 0.5 0.5 rg",
        b"BT /" + font.encode() + b" " + _num(d_size) + b" Tf",
        b" ".join(_num(v) for v in (cos, sin, -sin, cos, cx, cy)) + b" Tm",
        hex_text + b" Tj ET",
        b"Q",
    ]
    return b"\n".join(ops) + b"\n"


FONT_NAME, BOTTOM_GS_NAME, DIAGONAL_GS_NAME = "DocuIDWmFont", "DocuIDWmBottom", "DocuIDWmDiagonal"


def _add_resources(resources: pikepdf.Dictionary, entries) -> None:
    for category, name, value in entries:
        group = resources.get(category)
        if not isinstance(group, pikepdf.Dictionary):
            resources[category] = pikepdf.Dictionary()
            group = resources[category]
        group[name] = value


def _stamp_pages(pdf: pikepdf.Pdf, draw) -> int:
    """Append an overlay to every page; the number of pages. `draw(slot, geometry)` gives an overlay's bytes.

    Built for speed on long documents: one overlay stream per distinct page geometry (box
    and rotation, numbered as slots in order of first use) shared by every page that has
    it, one shared "q" stream, and shared resource dictionaries updated once.
    """
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type1,
            BaseFont=pikepdf.Name.Helvetica,
            Encoding=pikepdf.Name.WinAnsiEncoding,
        )
    )
    bottom = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.ExtGState, ca=BOTTOM_OPACITY, CA=BOTTOM_OPACITY))
    diagonal = pdf.make_indirect(
        pikepdf.Dictionary(Type=pikepdf.Name.ExtGState, ca=DIAGONAL_OPACITY, CA=DIAGONAL_OPACITY)
    )
    entries = (
        ("/Font", "/" + FONT_NAME, font),
        ("/ExtGState", "/" + BOTTOM_GS_NAME, bottom),
        ("/ExtGState", "/" + DIAGONAL_GS_NAME, diagonal),
    )
    save_state = pdf.make_indirect(pikepdf.Stream(pdf, b"q\n"))
    overlays: dict = {}
    updated: set = set()
    count = 0
    for page in pdf.pages:
        obj = page.obj
        geometry = (_visible_box(obj), _rotation(obj))
        overlay = overlays.get(geometry)
        if overlay is None:
            overlay = overlays[geometry] = pdf.make_indirect(pikepdf.Stream(pdf, draw(len(overlays), geometry)))
        resources = _inherited(obj, "/Resources")
        if not isinstance(resources, pikepdf.Dictionary):
            obj.Resources = pikepdf.Dictionary()
            resources = obj.Resources
        shared = resources.is_indirect
        if not shared or resources.objgen not in updated:
            _add_resources(resources, entries)
            if shared:
                updated.add(resources.objgen)
        contents = obj.get("/Contents")
        parts = list(contents) if isinstance(contents, pikepdf.Array) else ([contents] if contents is not None else [])
        # The page's own content runs inside q … Q: whatever state it leaves cannot move or hide the stamp.
        obj.Contents = pikepdf.Array([save_state, *parts, overlay])
        count += 1
    return count


def _drawing(encoded: bytes, geometry) -> bytes:
    """An overlay stream's bytes: close the page's q, then draw the stamp."""
    return b"\nQ\n" + _overlay(encoded, *geometry, FONT_NAME, BOTTOM_GS_NAME, DIAGONAL_GS_NAME)


# --- Files -------------------------------------------------------------------------


def temp_dir() -> str | None:
    """Where stamped copies are written: DOCUID_WATERMARK_TMP_DIR, else FILE_UPLOAD_TEMP_DIR, else the system's."""
    return settings.DOCUID_WATERMARK_TMP_DIR or settings.FILE_UPLOAD_TEMP_DIR or None


def _save(pdf: pikepdf.Pdf, target: str) -> None:
    pdf.save(
        target,
        # Copy every existing stream as it is: no decoding, no recompression (speed, flat memory).
        # Our own overlay streams stay uncompressed too, which the templates below rely on.
        stream_decode_level=pikepdf.StreamDecodeLevel.none,
        compress_streams=False,
        object_stream_mode=pikepdf.ObjectStreamMode.preserve,
        fix_metadata_version=False,
    )


def stamp_path(source: str, target: str, text: str) -> int:
    """Stamp the PDF at `source` into `target`; the number of pages stamped. Raises WatermarkError."""
    try:
        # AccessMode.stream: read with plain reads, not mmap, so the source's pages never count as our memory.
        with pikepdf.open(source, access_mode=pikepdf.AccessMode.stream) as pdf:
            encoded = _winansi(text)
            pages = _stamp_pages(pdf, lambda _slot, geometry: _drawing(encoded, geometry))
            _save(pdf, target)
    except pikepdf.PasswordError as exc:
        raise WatermarkError("The PDF is protected by a password.") from exc
    except (pikepdf.PdfError, pikepdf.DataDecodingError, ValueError, RecursionError) as exc:
        raise WatermarkError("The PDF could not be read.") from exc
    return pages


# --- Templates: one rewrite per version, then every copy is a patched stream ----------------
#
# Rewriting the whole PDF for every request costs about as much as qpdf takes to copy the
# file (tens of ms for a 5 MB, 100-page PDF on this hardware), several times what sending
# it costs. So the rewrite happens once per stored file: the template is the stamped PDF
# with each overlay stream (one per page geometry) replaced by a fixed-size placeholder
# that carries a random marker. A request then streams the template and overwrites each
# placeholder, at its recorded offset, with that request's stamp padded to the same
# size: no offset in the file moves, so its cross-reference table stays true. The
# template lives in the same storage as the version (same encryption and backups), under
# stamp-templates/, with a JSON sidecar of the slots; it goes when the version goes.

SLOT_BYTES = 2048
MAX_STAMP_BYTES = 200  # WinAnsi bytes of stamp text: 4 hex digits per byte, twice, fits a slot
TEMPLATE_DIR = "stamp-templates"
TEMPLATE_FORMAT = 1


def _placeholder(marker: bytes, slot: int) -> bytes:
    head = b"\nQ\n%" + marker + b"%06d\n" % slot
    return head + b" " * (SLOT_BYTES - len(head))


def _slot_bytes(encoded: bytes, geometry) -> bytes:
    drawing = _drawing(encoded[:MAX_STAMP_BYTES], geometry)
    if len(drawing) > SLOT_BYTES:  # cannot happen with MAX_STAMP_BYTES; never write past a slot
        raise WatermarkError("The stamp does not fit.")
    return drawing + b" " * (SLOT_BYTES - len(drawing))


def _find_slots(path: str, marker: bytes, count: int) -> list[int]:
    """The offset of each slot's placeholder in the written template (each found exactly once)."""
    needle = b"\nQ\n%" + marker
    found: dict[int, list[int]] = {}
    overlap = len(needle) + 8
    with open(path, "rb") as handle:
        position, tail = 0, b""
        while chunk := handle.read(COPY_CHUNK):
            window = tail + chunk
            base = position - len(tail)
            start = 0
            while (at := window.find(needle, start)) != -1:
                digits = window[at + len(needle) : at + len(needle) + 6]
                if len(digits) < 6:
                    break  # completed in the next window
                found.setdefault(int(digits), []).append(base + at)
                start = at + 1
            position += len(chunk)
            tail = window[-overlap:]
    offsets = []
    for slot in range(count):
        places = sorted(set(found.get(slot, [])))
        if len(places) != 1:
            raise WatermarkError("The PDF could not be prepared for stamping.")
        offsets.append(places[0])
    return offsets


def build_template(source: str, target: str) -> list[dict]:
    """Write the template of the PDF at `source` to `target`; its slots. Raises WatermarkError."""
    marker = secrets.token_hex(12).encode()  # unguessable: an uploaded file cannot fake a slot
    geometries: list = []

    def draw(slot: int, geometry) -> bytes:
        geometries.append(geometry)
        return _placeholder(marker, slot)

    try:
        with pikepdf.open(source, access_mode=pikepdf.AccessMode.stream) as pdf:
            _stamp_pages(pdf, draw)
            _save(pdf, target)
    except pikepdf.PasswordError as exc:
        raise WatermarkError("The PDF is protected by a password.") from exc
    except (pikepdf.PdfError, pikepdf.DataDecodingError, ValueError, RecursionError) as exc:
        raise WatermarkError("The PDF could not be read.") from exc
    offsets = _find_slots(target, marker, len(geometries))
    return [
        {"offset": offset, "box": list(box), "rotation": rotation}
        for offset, (box, rotation) in zip(offsets, geometries, strict=True)
    ]


def _template_base(name: str) -> str:
    return f"{TEMPLATE_DIR}/{hashlib.sha256(name.encode()).hexdigest()[:40]}"


def _local_source(fieldfile, directory, cleanup: list[str]) -> str:
    try:
        return fieldfile.storage.path(fieldfile.name)
    except NotImplementedError:
        handle, source = tempfile.mkstemp(prefix="docuid-src-", suffix=".pdf", dir=directory)
        cleanup.append(source)
        with os.fdopen(handle, "wb") as out, fieldfile.storage.open(fieldfile.name, "rb") as remote:
            shutil.copyfileobj(remote, out, COPY_CHUNK)
        return source


def _read_meta(storage, meta_name: str) -> dict | None:
    try:
        with storage.open(meta_name, "rb") as handle:
            meta = json.loads(handle.read(1024 * 1024))
    except (FileNotFoundError, OSError, ValueError):
        return None
    if meta.get("format") != TEMPLATE_FORMAT or not storage.exists(meta.get("template", "")):
        return None
    return meta


# Templates this process has seen: saves the sidecar's storage round trips (three on S3) per
# stamped request. A stored file never changes under its name, so an entry can only go
# stale by its template being deleted, which stamped_stream notices.
_TEMPLATES: OrderedDict[str, dict] = OrderedDict()
_TEMPLATES_MAX = 256
_TEMPLATES_LOCK = threading.Lock()


def _remember_template(name: str, meta: dict) -> dict:
    with _TEMPLATES_LOCK:
        _TEMPLATES[name] = meta
        _TEMPLATES.move_to_end(name)
        while len(_TEMPLATES) > _TEMPLATES_MAX:
            _TEMPLATES.popitem(last=False)
    return meta


def _forget_template(name: str) -> None:
    with _TEMPLATES_LOCK:
        _TEMPLATES.pop(name, None)


def template_for(fieldfile) -> dict:
    """The stored file's template and slots, built (once) if missing. Raises WatermarkError."""
    with _TEMPLATES_LOCK:
        known = _TEMPLATES.get(fieldfile.name)
    if known is not None:
        return known
    return _remember_template(fieldfile.name, _load_or_build(fieldfile))


def _load_or_build(fieldfile) -> dict:
    storage = fieldfile.storage
    base = _template_base(fieldfile.name)
    meta_name = base + ".json"
    meta = _read_meta(storage, meta_name)
    if meta is not None:
        return meta
    directory = temp_dir()
    cleanup: list[str] = []
    try:
        source = _local_source(fieldfile, directory, cleanup)
        handle, target = tempfile.mkstemp(prefix="docuid-template-", suffix=".pdf", dir=directory)
        os.close(handle)
        cleanup.append(target)
        slots = build_template(source, target)
        with open(target, "rb") as built:
            template_name = storage.save(base + ".pdf", File(built))
        meta = {
            "format": TEMPLATE_FORMAT,
            "template": template_name,
            "size": os.path.getsize(target),
            "slots": slots,
        }
    finally:
        for path in cleanup:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    if storage.exists(meta_name):
        # Another request built it meanwhile: keep theirs, drop ours.
        theirs = _read_meta(storage, meta_name)
        if theirs is not None:
            storage.delete(template_name)
            return theirs
        storage.delete(meta_name)
    storage.save(meta_name, ContentFile(json.dumps(meta).encode()))
    return meta


def template_delete(storage, name: str) -> None:
    """Delete the template of the stored file `name` (when its version goes)."""
    _forget_template(name)
    meta_name = _template_base(name) + ".json"
    meta = _read_meta(storage, meta_name)
    if meta is not None:
        storage.delete(meta["template"])
    if storage.exists(meta_name):
        storage.delete(meta_name)


def _patched(fileobj, patches: list[tuple[int, bytes]]) -> Iterator[bytes]:
    """The file's bytes in chunks, with each (offset, bytes) patch written over them."""
    try:
        position = 0
        while chunk := fileobj.read(COPY_CHUNK):
            end = position + len(chunk)
            touching = [(at, data) for at, data in patches if at < end and at + len(data) > position]
            if touching:
                chunk = bytearray(chunk)
                for at, data in touching:
                    lo, hi = max(at, position), min(at + len(data), end)
                    chunk[lo - position : hi - position] = data[lo - at : hi - at]
                chunk = bytes(chunk)
            position = end
            yield chunk
    finally:
        fileobj.close()


def stamped_stream(fieldfile, text: str) -> tuple[Iterator[bytes], int]:
    """A stamped copy of the stored PDF as a stream of chunks, and its size (from its template)."""
    meta = template_for(fieldfile)
    try:
        fileobj = fieldfile.storage.open(meta["template"], "rb")
    except FileNotFoundError:  # deleted since this process remembered it: build it again
        _forget_template(fieldfile.name)
        meta = template_for(fieldfile)
        fileobj = fieldfile.storage.open(meta["template"], "rb")
    encoded = _winansi(text)
    patches = [(slot["offset"], _slot_bytes(encoded, (tuple(slot["box"]), slot["rotation"]))) for slot in meta["slots"]]
    return _patched(fileobj, patches), meta["size"]


@receiver(post_delete, sender=DocumentVersion)
def _template_goes_with_the_version(sender, instance: DocumentVersion, **kwargs) -> None:
    if instance.file.name:
        transaction.on_commit(lambda: template_delete(instance.file.storage, instance.file.name), robust=True)


@receiver(post_delete, sender=Rendition)
def _template_goes_with_the_rendition(sender, instance: Rendition, **kwargs) -> None:
    """A confidential Office file's PDF rendition has a template too (its downloads are stamped)."""
    if instance.pdf.name:
        transaction.on_commit(lambda: template_delete(instance.pdf.storage, instance.pdf.name), robust=True)
