"""Streaming a stored file to the client: whole, by byte range (206), or through nginx (X-Accel-Redirect).

Django's FileResponse streams but knows nothing of Range requests, so a single
byte range is answered here with a bounded iterator over the storage file. A
request for several ranges gets the whole file (RFC 9110 allows ignoring Range).

A confidential or restricted PDF never goes out as stored: file_response stamps it
(documents.watermark) for the person receiving it, whoever the caller is, and
answers every request for it with the whole stamped file (200, `Accept-Ranges: none`,
Range ignored): each copy is different, so a part of one is not a part of another,
and a range of the stored file would be an unstamped piece of it. Never behind nginx
either: X-Accel-Redirect would send the stored bytes.
"""

import re
from collections.abc import Iterator

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from documents import filetypes, renditions, watermark
from documents.errors import OriginalWithheld
from documents.models import DocumentVersion

CHUNK_SIZE = 64 * 1024
RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")

# PDFs and images are shown inline from our origin, so their responses get a policy
# that forbids scripts, plugins from elsewhere, forms and framing by other sites.
# Images also get `sandbox` (a unique origin). PDFs do not: Chromium refuses to
# render a PDF in a sandboxed document, and the PDF viewer runs out of our origin
# anyway; `default-src 'none'` still leaves a disguised file nothing to run.
INLINE_IMAGE_CSP = (
    "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
)
INLINE_PDF_CSP = (
    "default-src 'none'; object-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'; form-action 'none'; base-uri 'none'"
)


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(start, end) inclusive for one satisfiable range; None to serve everything; "unsatisfiable"."""
    if not header:
        return None
    match = RANGE_RE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None  # malformed or multi-range: the whole file
    first, last = match.group(1), match.group(2)
    if size == 0:
        return "unsatisfiable"
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size:
        return "unsatisfiable"
    if end < start:
        return None
    return start, min(end, size - 1)


def requested_range(request: HttpRequest, version: DocumentVersion) -> tuple[int, int] | str | None:
    """The part of `version` this request will be answered with: (start, end), "unsatisfiable", or None for all.

    The one reading of Range and If-Range, shared by the response and by whoever must
    decide what the response gives away (a share link's view count).
    """
    wanted = parse_range(request.headers.get("Range"), version.size)
    if_range = request.headers.get("If-Range")
    if if_range and (settings.DOCUID_X_ACCEL_REDIRECT_PREFIX or if_range.strip() != _etag(version)):
        # The client's partial copy is of another version: send it all. Behind nginx, nginx
        # judges If-Range by its own validators, so any If-Range may get the whole file.
        return None
    return wanted


def is_partial(wanted: tuple[int, int] | str | None, size: int) -> bool:
    """Whether `wanted` (from requested_range) is a real part of the file, not all of it nor nothing."""
    return isinstance(wanted, tuple) and (wanted[0] > 0 or wanted[1] < size - 1)


def _iter_range(fileobj, start: int, length: int) -> Iterator[bytes]:
    try:
        fileobj.seek(start)
        remaining = length
        while remaining > 0:
            chunk = fileobj.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        fileobj.close()


def _s3_body(storage: S3Storage, name: str, start: int, end: int, *, whole: bool) -> Iterator[bytes]:
    """An S3 object's bytes (start..end inclusive) as they arrive from one GET, ranged for a range.

    django-storages' S3File copies the whole object into a temporary file on its first read:
    a 1 GB download wrote 1 GB to the app host's disk before the first byte went out, and a
    one-byte range fetched the whole object too. The GET is made here, before the response
    starts, so a missing object fails the request (audited by the caller) rather than the stream.
    """
    key = storage.bucket.Object(storage._normalize_name(clean_name(name)))
    body = key.get(**({} if whole else {"Range": f"bytes={start}-{end}"}))["Body"]

    def chunks() -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(CHUNK_SIZE)
        finally:
            body.close()

    return chunks()


def _etag(version: DocumentVersion) -> str:
    return f'"{version.sha256}"'


def download_target(request: HttpRequest, version: DocumentVersion) -> DocumentVersion:
    """What a download of `version` sends: the version, or for a confidential Office original its PDF.

    A confidential or restricted Word/Excel/PowerPoint/OpenDocument original would leave
    unstamped, so unless its owner allowed originals (Document.allow_original_download) a
    download gets the PDF rendition instead, which file_response then stamps. No
    rendition yet, or none could be made: OriginalWithheld (409), never the original.
    """
    if not original_withheld(version):
        return version
    pdf = renditions.pdf_version(version)
    if pdf is None:
        raise OriginalWithheld(pending=renditions.preview_for(version).state == "pending")
    request.docuid_rendition_sent = True
    return pdf


def original_withheld(version: DocumentVersion) -> bool:
    """A confidential Office original whose download sends its stamped PDF instead (download_target)."""
    document = version.document
    return (
        document.security_level in watermark.STAMPED_LEVELS
        and not document.allow_original_download
        and renditions.needs_pdf(version)
    )


def stamps(version: DocumentVersion) -> bool:
    """Whether a download of this version goes out stamped (so never by ranges, never as stored)."""
    return watermark.applies(version.document, version.mime_type) or original_withheld(version)


def _stamped_response(request: HttpRequest, version: DocumentVersion, headers: dict) -> HttpResponse:
    headers = {**headers, "Accept-Ranges": "none"}
    headers.pop("ETag", None)  # every copy differs: the stored file's hash would be a lie
    if request.method == "HEAD":
        response = HttpResponse(content_type=version.mime_type)
    else:
        stamp = watermark.remembered(request) or watermark.remember(
            request, watermark.stamp_for_user(request.user, request)
        )
        # The version's template (built once, documents.watermark) with this request's stamp written in.
        chunks, size = watermark.stamped_stream(version.file, stamp.text)
        response = StreamingHttpResponse(chunks, content_type=version.mime_type)
        response["Content-Length"] = str(size)
        response["X-DocuID-Stamp"] = stamp.ref
    for name, value in headers.items():
        response[name] = value
    return response


def file_response(
    request: HttpRequest, version: DocumentVersion, *, as_attachment: bool, extra_headers: dict | None = None
) -> HttpResponse | StreamingHttpResponse:
    """The version's bytes, streamed, with its sniffed type and an RFC 6266 file name.

    A confidential or restricted PDF is stamped for request.user, or for whom
    watermark.remember named (a share link's recipient); raises watermark.WatermarkError
    when it cannot be stamped. A download of a confidential Office original sends its
    stamped PDF (download_target).
    """
    if as_attachment:
        version = download_target(request, version)
    headers = {
        # A name saved before uploads refused active extensions (.html, .svg) gets a harmless one added.
        "Content-Disposition": content_disposition_header(
            as_attachment, filetypes.download_name(version.original_name, version.mime_type)
        ),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
        "ETag": _etag(version),
        "Accept-Ranges": "bytes",
        **(extra_headers or {}),
    }
    if watermark.applies(version.document, version.mime_type):
        return _stamped_response(request, version, headers)
    if request.method == "HEAD":
        # Headers only, and the file is never opened: a HEAD must not cost what a download does.
        response = HttpResponse(content_type=version.mime_type)
        response["Content-Length"] = str(version.size)
        for name, value in headers.items():
            response[name] = value
        return response
    accel_prefix = settings.DOCUID_X_ACCEL_REDIRECT_PREFIX
    if accel_prefix:
        # nginx serves (and ranges) the file from its internal location; we only decided access.
        response = HttpResponse(content_type=version.mime_type)
        response["X-Accel-Redirect"] = accel_prefix.rstrip("/") + "/" + version.file.name
        for name, value in headers.items():
            response[name] = value
        return response
    size = version.size
    wanted = requested_range(request, version)
    if wanted == "unsatisfiable":
        response = HttpResponse(status=416, content_type="text/plain")
        response["Content-Range"] = f"bytes */{size}"
        return response
    storage = version.file.storage
    if isinstance(storage, S3Storage):
        start, end = (0, size - 1) if wanted is None else wanted
        body = _s3_body(storage, version.file.name, start, end, whole=wanted is None)
        response = StreamingHttpResponse(body, status=200 if wanted is None else 206, content_type=version.mime_type)
        response["Content-Length"] = str(end - start + 1 if wanted else size)
        if wanted is not None:
            response["Content-Range"] = f"bytes {start}-{end}/{size}"
    elif wanted is None:
        response = FileResponse(storage.open(version.file.name, "rb"), content_type=version.mime_type)
        response["Content-Length"] = str(size)
    else:
        start, end = wanted
        length = end - start + 1
        response = StreamingHttpResponse(
            _iter_range(storage.open(version.file.name, "rb"), start, length),
            status=206,
            content_type=version.mime_type,
        )
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(length)
    for name, value in headers.items():
        response[name] = value
    return response
