"""A document's PDF rendition and first-page thumbnail, for signed-in people (issue #15).

Same access check as the document (views.visible_or_404: an invisible document is a 404).
The rendition is a view of the content: audited as an open, sent inline with the inline-PDF
policy, stamped per viewer for confidential documents (documents.http). The thumbnail is
part of the list and the detail page, like the title: not audited, cached privately for a
few minutes, and not shown for confidential/restricted documents (it is not stamped).
"""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_safe

from audit.actions import Action
from documents import http, renditions, services
from documents.views import error_page, storage_failure_recorded, visible_or_404

THUMBNAIL_CACHE = "private, max-age=300"


def pdf_pending(request: HttpRequest) -> HttpResponse:
    """409 with Retry-After: the PDF a viewer asked for is still being made (signed in or by a share link)."""
    response = error_page(
        request, 409, "Not ready yet", "The PDF of this document is still being made. Try again in a minute."
    )
    response["Retry-After"] = "10"
    return response


@login_required
@require_safe
def document_rendition(request: HttpRequest, pk: int) -> HttpResponse:
    """The current version as PDF (its rendition, or the original PDF), inline."""
    document = visible_or_404(request, pk, audit_action=Action.DOCUMENT_OPEN)
    version = document.current_version
    if version is None:
        raise Http404("No content.")
    pdf = renditions.pdf_version(version)
    if pdf is None:
        state = renditions.preview_for(version).state
        if state == "pending":
            return pdf_pending(request)
        raise Http404("No PDF of this document.")
    # A confidential PDF that cannot be stamped is audited and answered 422 (NotSendableMiddleware).
    with storage_failure_recorded(request, Action.DOCUMENT_OPEN, document, version, data={"rendition": True}):
        response = http.file_response(
            request, pdf, as_attachment=False, extra_headers={"Content-Security-Policy": http.INLINE_PDF_CSP}
        )
    services.document_access_record(
        action=Action.DOCUMENT_OPEN,
        actor=request.user,
        document=document,
        request=request,
        data={"version": version.number, "rendition": pdf is not version},
    )
    return response


@login_required
@require_safe
def document_thumbnail(request: HttpRequest, pk: int) -> HttpResponse:
    """The first page of the current version as a small WebP image; 404 when there is none."""
    document = visible_or_404(request, pk)
    version = document.current_version
    rendition = renditions.thumbnail_for(version) if version is not None else None
    if rendition is None:
        raise Http404("No thumbnail.")
    etag = (
        f'"t-{rendition.pk}-{rendition.thumbnail_width}x{rendition.thumbnail_height}-{rendition.thumbnail.name[-12:]}"'
    )
    headers = {
        "Cache-Control": THUMBNAIL_CACHE,
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": http.INLINE_IMAGE_CSP,
        "Content-Disposition": content_disposition_header(False, f"thumbnail-{document.pk}.webp"),
    }
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponseNotModified()
    else:
        response = FileResponse(rendition.thumbnail.open("rb"), content_type=renditions.THUMBNAIL_MIME)
    for name, value in headers.items():
        response[name] = value
    return response
