"""The PDF and thumbnail of a document through the API (issue #15).

``GET /api/v1/documents/{id}/content?format=pdf`` (and the add-in's ``/content?format=pdf``)
streams the current version as PDF: the original when it is one, else its LibreOffice
rendition (documents.renditions), stamped per caller for confidential documents
(documents.http). It is a view, so view permission is enough, and it is audited as an
open. Not made yet: 409 RENDITION_NOT_READY with Retry-After; could not be made: 422
RENDITION_FAILED; a type that has none (text, images): 415 UNSUPPORTED_FORMAT.

``GET /api/v1/documents/{id}/thumbnail`` is the first page as a 320 px WebP (404 when there
is none, or for confidential/restricted documents, whose thumbnails are not stamped).

``GET /api/documents/{id}/preview?sig=…`` is what the add-in's ``access.previewUrl`` points
to: the same PDF, for the person an /access link was signed for (api.links).
"""

from django.http import FileResponse, HttpResponseNotModified
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny

from api import serializers as s
from api.errors import ApiError, not_found
from api.links import caller_or_link_user
from api.views.base import ApiView
from audit.actions import Action
from documents import http, renditions, services, watermark
from documents.models import Document
from documents.rendition_views import THUMBNAIL_CACHE

PDF_ERRORS = {
    (200, "application/pdf"): OpenApiResponse(
        OpenApiTypes.BINARY, description="The PDF: the original, or the rendition of an Office/OpenDocument file."
    ),
    409: OpenApiResponse(s.V1Error, description="RENDITION_NOT_READY: still being made; see Retry-After."),
    415: OpenApiResponse(s.V1Error, description="UNSUPPORTED_FORMAT: this type has no PDF (text, images)."),
    422: OpenApiResponse(s.V1Error, description="RENDITION_FAILED: no PDF could be made; download the original."),
}
RETRY_AFTER_SECONDS = 10


def pdf_response(view: ApiView, request, document: Document, *, user=None):
    """Stream ``document``'s PDF inline for ``user`` (default: the caller), audited as an open."""
    version = document.current_version
    if version is None:
        raise not_found("The document has no content.")
    pdf = renditions.pdf_version(version)
    if pdf is None:
        state = renditions.preview_for(version).state
        if state == "pending":
            raise ApiError(
                409,
                "RENDITION_NOT_READY",
                "The PDF of this document is still being made; try again shortly.",
                retry_after=RETRY_AFTER_SECONDS,
            )
        if state == "failed":
            raise ApiError(422, "RENDITION_FAILED", "No PDF could be made of this document; download it instead.")
        raise ApiError(415, "UNSUPPORTED_FORMAT", "This kind of file has no PDF; ask for format=text or office.")
    if http.stamps(pdf) and request.method != "HEAD":
        # Stamped for whoever the call acts for (a signed preview link has no session user).
        watermark.remember(request._request, watermark.stamp_for_user(user or request.user, request._request))
    with view.storage_failure_recorded(
        request, Action.DOCUMENT_OPEN, document, version, user=user, format="pdf", rendition=pdf is not version
    ):
        response = http.file_response(
            request._request, pdf, as_attachment=False, extra_headers={"Content-Security-Policy": http.INLINE_PDF_CSP}
        )
    services.document_access_record(
        action=Action.DOCUMENT_OPEN,
        actor=user or request.user,
        document=document,
        request=request._request,
        data=view.audit_data(request, version=version.number, format="pdf", rendition=pdf is not version),
    )
    return response


def thumbnail_response(request, document: Document):
    version = document.current_version
    rendition = renditions.thumbnail_for(version) if version is not None else None
    if rendition is None:
        raise not_found("This document has no thumbnail.")
    etag = f'"t-{rendition.pk}-{rendition.thumbnail.name[-12:]}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponseNotModified()
    else:
        response = FileResponse(rendition.thumbnail.open("rb"), content_type=renditions.THUMBNAIL_MIME)
    response["ETag"] = etag
    response["Cache-Control"] = THUMBNAIL_CACHE
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = http.INLINE_IMAGE_CSP
    return response


class ThumbnailView(ApiView):
    throttle_scope = "list"  # a grid asks for one per document

    @extend_schema(
        tags=["v1 documents"],
        responses={
            (200, "image/webp"): OpenApiResponse(OpenApiTypes.BINARY, description="The first page, 320 px wide."),
            401: OpenApiResponse(s.V1Error, description="INVALID_TOKEN."),
            404: OpenApiResponse(s.V1Error, description="DOCUMENT_NOT_FOUND, or it has no thumbnail."),
        },
    )
    def get(self, request, pk: int):
        document = self.visible_document(request, pk)
        response = thumbnail_response(request, document)
        # Private, a few minutes: the browser may keep it, nobody in between (ApiView's no-store is kept off).
        return response


class PreviewView(ApiView):
    """The add-in's access.previewUrl: the PDF, for the person a signed /access link names (or the caller)."""

    error_style = "compat"
    throttle_scope = "content"
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["Office add-in (compatibility)"],
        parameters=[OpenApiParameter("sig", str, description="The signature of an /access link (instead of a token).")],
        responses=PDF_ERRORS | {404: OpenApiResponse(s.CompatError, description="No such document.")},
    )
    def get(self, request, pk: int):
        user = caller_or_link_user(request, document_id=pk)
        document = self.visible_document(request, pk, audit_action=Action.DOCUMENT_OPEN, user=user)
        return pdf_response(self, request, document, user=user)
