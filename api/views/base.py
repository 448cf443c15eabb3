"""What every API view shares: throttling first (so refused calls are counted and get headers),
a bound on the body, rate-limit headers on every response, no caching, and the document helpers
that run the documents app's access check and audit trail."""

import base64
import io
import os
from contextlib import contextmanager

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.views import APIView

from api.clients import request_client
from api.errors import ApiError, not_found
from audit.actions import Action, Outcome
from documents import http, previews, renditions, selectors, services, watermark
from documents.errors import NotSendable
from documents.models import Document, Family

INLINE_FAMILIES = {Family.PDF, Family.IMAGE}


class ApiView(APIView):
    error_style = "v1"
    throttle_scope = "default"
    permission_classes = [IsAuthenticated]

    def initial(self, request, *args, **kwargs):
        self.check_throttles(request)
        self._throttled = True
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > settings.DOCUID_API_MAX_BODY_BYTES:
            raise ApiError(
                400,
                "VALIDATION_ERROR",
                f"The request body is larger than {settings.DOCUID_API_MAX_BODY_BYTES} bytes.",
                {"body": [f"At most {settings.DOCUID_API_MAX_BODY_BYTES} bytes."]},
            )
        super().initial(request, *args, **kwargs)

    def check_throttles(self, request):
        if getattr(self, "_throttled", False):
            return  # counted once, before authentication
        super().check_throttles(request)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        for name, value in getattr(request._request, "docuid_rate_limit", {}).items():
            response[name] = value
        response.setdefault("Cache-Control", "no-store")
        return response

    # --- documents, through the documents app's selectors and services -----------------

    def audit_data(self, request, **extra) -> dict:
        client = request_client(request)
        return {"channel": "api", "api_client": client.name if client else None, **extra}

    def visible_document(self, request, pk, *, audit_action: str | None = None, user=None) -> Document:
        try:
            return selectors.document_get_visible(user or request.user, pk)
        except Document.DoesNotExist:
            if audit_action:
                services.document_access_record(
                    action=audit_action,
                    actor=user or request.user,
                    document_id=pk,
                    outcome=Outcome.FAILURE,
                    reason="denied" if selectors.document_exists(pk) else "not_found",
                    request=request._request,
                    data=self.audit_data(request),
                )
            raise not_found() from None

    def require_download(self, request, document: Document, user=None) -> None:
        if not selectors.document_permissions(user or request.user, document).download:
            services.document_access_record(
                action=Action.DOCUMENT_DOWNLOAD,
                actor=user or request.user,
                document=document,
                outcome=Outcome.FAILURE,
                reason="denied",
                request=request._request,
                data=self.audit_data(request),
            )
            raise ApiError(403, "DOCUMENT_ACCESS_DENIED", "You may view this document but not download it.")

    def download_response(self, request, document: Document, *, user=None, inline: bool = False):
        version = document.current_version
        if version is None:
            raise not_found("The document has no content.")
        self.require_download(request, document, user)
        as_attachment = not (inline and document.family in INLINE_FAMILIES)
        extra = {}
        if not as_attachment:
            extra["Content-Security-Policy"] = (
                http.INLINE_PDF_CSP if document.family == Family.PDF else http.INLINE_IMAGE_CSP
            )
        if http.stamps(version) and request.method != "HEAD":
            # Stamped for whoever the call acts for (a signed /access link has no session user).
            watermark.remember(request._request, watermark.stamp_for_user(user or request.user, request._request))
        with self.storage_failure_recorded(request, Action.DOCUMENT_DOWNLOAD, document, version, user=user):
            response = http.file_response(request._request, version, as_attachment=as_attachment, extra_headers=extra)
        services.document_access_record(
            action=Action.DOCUMENT_DOWNLOAD,
            actor=user or request.user,
            document=document,
            request=request._request,
            data=self.audit_data(request, version=version.number, range=bool(request.headers.get("Range"))),
        )
        return response

    def content_file(self, request, version):
        """The bytes format=office sends: the stored file, or a stamped copy of a confidential PDF (or of the
        PDF of a confidential Office original: see documents.http.download_target)."""
        if not http.stamps(version):
            return version.file.storage.open(version.file.name, "rb")
        target = http.download_target(request._request, version)  # a confidential Office original: its PDF
        stamp = watermark.remember(request._request, watermark.stamp_for_user(request.user, request._request))
        # In memory like the base64 it becomes: bounded by DOCUID_API_CONTENT_MAX_MB (checked before).
        chunks, _size = watermark.stamped_stream(target.file, stamp.text)
        return io.BytesIO(b"".join(chunks))

    @contextmanager
    def storage_failure_recorded(self, request, action: str, document: Document, version, *, user=None, **data):
        """An exception while reading the file is audited as a failed open/download, then re-raised (500;
        a NotSendable is audited with its code and answered 409/422 by api.errors)."""
        try:
            yield
        except Exception as exc:
            services.document_access_record(
                action=action,
                actor=user or request.user,
                document=document,
                outcome=Outcome.FAILURE,
                reason=exc.code.lower() if isinstance(exc, NotSendable) else "storage_error",
                request=request._request,
                data=self.audit_data(request, version=version.number, **data),
            )
            raise

    def content_body(self, request, document: Document, fmt: str) -> dict:
        """The file as base64 (format=office, needs download rights) or its text (text/html: an open)."""
        version = document.current_version
        if version is None:
            raise not_found("The document has no content.")
        base = {
            "documentId": document.pk,
            "fileName": version.original_name,
            "fileType": version.mime_type,
            "fileSize": version.size,
            "format": fmt,
        }
        if fmt == "office":
            # The size of what is sent: a confidential Office original goes as its (stamped) PDF,
            # which may be many times the original (a small workbook of thousands of pages).
            sent_size = (renditions.pdf_size_for(version) or 0) if http.original_withheld(version) else version.size
            if sent_size > settings.DOCUID_API_CONTENT_MAX_MB * 1024 * 1024:
                raise ApiError(
                    413,
                    "DOCUMENT_TOO_LARGE",
                    f"The document is larger than {settings.DOCUID_API_CONTENT_MAX_MB} MB; use the download instead.",
                )
            self.require_download(request, document)
            stamped = http.stamps(version)
            with (
                self.storage_failure_recorded(request, Action.DOCUMENT_DOWNLOAD, document, version, format="office"),
                self.content_file(request, version) as fileobj,
            ):
                data = fileobj.read() if stamped else fileobj.read(version.size + 1)
            if stamped:
                base["fileSize"] = len(data)  # the stamped copy's size: what the caller decodes
            if stamped and http.original_withheld(version):
                # A confidential Office original leaves only as its stamped PDF (documents.http.download_target).
                base |= {"fileName": os.path.splitext(version.original_name)[0] + ".pdf", "fileType": "application/pdf"}
            services.document_access_record(
                action=Action.DOCUMENT_DOWNLOAD,
                actor=request.user,
                document=document,
                request=request._request,
                data=self.audit_data(request, version=version.number, format="office"),
            )
            return base | {"encoding": "base64", "content": base64.b64encode(data).decode("ascii")}
        with self.storage_failure_recorded(request, Action.DOCUMENT_OPEN, document, version, format=fmt):
            text = previews.text_preview(version)
        if text is None:
            raise ApiError(
                415,
                "UNSUPPORTED_FORMAT",
                "No text can be extracted from this kind of file; ask for format=office instead.",
            )
        services.document_access_record(
            action=Action.DOCUMENT_OPEN,
            actor=request.user,
            document=document,
            request=request._request,
            data=self.audit_data(request, version=version.number, format=fmt),
        )
        if fmt == "html":
            from django.utils.html import escape

            text = "".join(f"<p>{escape(paragraph)}</p>" for paragraph in text.split("\n") if paragraph.strip())
        return base | {"encoding": "utf-8", "content": text}


@extend_schema(exclude=True)
class NotFoundView(ApiView):
    """Any other /api/ path: a JSON 404 (with rate-limit headers), not the site's HTML page."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def initial(self, request, *args, **kwargs):
        self.error_style = "v1" if request.path.startswith("/api/v1/") else "compat"
        super().initial(request, *args, **kwargs)

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise not_found("No such API endpoint or document.")

    def get(self, request, *args, **kwargs):
        raise not_found("No such API endpoint or document.")

    post = put = patch = delete = head = get
