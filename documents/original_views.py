"""The owner's choice of what downloads of a confidential Office document give (issue #15).

Off (the default): the PDF rendition, stamped with who downloads it (documents.http.download_target).
On: the original file, unstamped. Thin: the service checks ownership and audits.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from documents import selectors, services
from documents.views import error_page, visible_or_404


@login_required
@require_POST
def document_original_download(request: HttpRequest, pk: int) -> HttpResponse:
    document = visible_or_404(request, pk)
    if not selectors.document_permissions(request.user, document).manage:
        return error_page(request, 403, "Not allowed", "Only the owner can change how this document is downloaded.")
    allowed = request.POST.get("allow") == "yes"
    services.document_original_download_set(
        acting_user=request.user, document=document, allowed=allowed, request=request
    )
    if allowed:
        messages.success(request, "Downloads now get the original file, without a stamp.")
    else:
        messages.success(request, "Downloads now get a PDF stamped with who downloads it.")
    return redirect("documents:detail", pk=document.pk)
