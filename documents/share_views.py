"""Share links: making and managing them (owners). Using them, /s/<token>: documents.share_link_views."""

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from documents import selectors, services
from documents.errors import DocumentError
from documents.forms import ShareForm, ShareUpdateForm
from documents.models import Share
from documents.views import confirm_page, confirmed, end_of_day, error_page, visible_or_404

# --- Owners: create, list, extend / shorten, revoke -----------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def share_create(request: HttpRequest, pk: int) -> HttpResponse:
    document = visible_or_404(request, pk)
    if not selectors.document_permissions(request.user, document).share:
        return error_page(request, 403, "Not allowed", "You may not share this document.")
    form = ShareForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            share, token = services.share_create(
                acting_user=request.user,
                document=document,
                access=data["access"],
                expires_at=end_of_day(data["expires_on"]),
                password=data["password"],
                recipient_email=data["recipient_email"],
                recipient_phone=data["recipient_phone"],
                require_login=data["require_login"],
                max_views=data["max_views"],
                request=request,
            )
        except DocumentError as exc:
            form.add_error(None, exc.message)
        else:
            # The token exists only in this response: it is stored hashed and cannot be shown again.
            link = request.build_absolute_uri(reverse("share:link", args=[token]))
            qr = segno.make(link, error="m")
            return render(
                request,
                "documents/share_created.html",
                {"share": share, "document": document, "link": link, "qr_data_uri": qr.svg_data_uri(scale=4)},
            )
    status = 400 if request.method == "POST" else 200
    return render(request, "documents/share_form.html", {"form": form, "document": document}, status=status)


@login_required
def share_list(request: HttpRequest) -> HttpResponse:
    shares = list(selectors.shares_created_by(request.user)[:200])
    now = timezone.now()
    rows = [{"share": s, "state": s.state(now)} for s in shares]
    return render(request, "documents/share_list.html", {"rows": rows})


def _manageable_or_404(request: HttpRequest, share_id: int) -> Share:
    try:
        return selectors.share_get_manageable(request.user, share_id)
    except Share.DoesNotExist:
        raise Http404("No such share.") from None


def _back(request: HttpRequest, share: Share) -> HttpResponse:
    target = request.POST.get("next", "")
    if target == "detail":
        return redirect("documents:detail", pk=share.document_id)
    return redirect("documents:shares")


@login_required
@require_POST
def share_update(request: HttpRequest, share_id: int) -> HttpResponse:
    share = _manageable_or_404(request, share_id)
    form = ShareUpdateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a valid date.")
        return _back(request, share)
    try:
        services.share_update(
            acting_user=request.user,
            share=share,
            expires_at=end_of_day(form.cleaned_data["expires_on"]),
            request=request,
        )
    except DocumentError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The link now expires on {form.cleaned_data['expires_on']:%Y-%m-%d}.")
    return _back(request, share)


@login_required
@require_http_methods(["GET", "POST"])
def share_revoke(request: HttpRequest, share_id: int) -> HttpResponse:
    """GET, or a POST without `confirm=yes`: the confirmation page. A confirmed POST revokes."""
    share = _manageable_or_404(request, share_id)
    if not confirmed(request):
        back_to_detail = request.POST.get("next", request.GET.get("next", "")) == "detail"
        return confirm_page(
            request,
            title=f"Revoke link #{share.pk}?",
            message=f"Link #{share.pk} to “{share.document.title}” stops working at once, for everyone who has it. "
            "It cannot be turned back on; you can make a new link.",
            action="Revoke link",
            back=reverse("documents:detail", args=[share.document_id])
            if back_to_detail
            else reverse("documents:shares"),
            next="detail" if back_to_detail else "",
        )
    services.share_revoke(acting_user=request.user, share=share, request=request)
    messages.success(request, f"Link #{share.pk} is revoked; it no longer opens “{share.document.title}”.")
    return _back(request, share)
