"""Using a share link: anyone with the link, /s/<token> (documents.share_urls).

The token alone decides every request — the link's state (expired, revoked, used up, restricted),
its password in this browser, its recipient when it requires sign-in, and its access level. The
open page is the signed-in open page's body (templates/documents/_open_body.html) on the link's
own URLs. Making and managing links: documents.share_views.
"""

from dataclasses import replace

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from audit.actions import Outcome
from documents import http, previews, rendering, renditions, selectors, services, throttle, viewing, watermark
from documents.errors import NotSendable
from documents.forms import SharePasswordForm
from documents.models import DocumentVersion, Family, SecurityLevel, Share, ShareAccess
from documents.rendition_views import pdf_pending
from documents.views import INLINE_FAMILIES, error_page

SESSION_KEY = "docuid_unlocked_shares"
VIEWED_KEY = "docuid_viewed_shares"


GONE_MESSAGES = {
    "revoked": "The person who shared this document has revoked the link.",
    "expired": "This link has expired. Ask the person who shared it for a new one.",
    "used_up": "This link has been used as many times as it allows. Ask for a new one.",
    "restricted": "This document is now restricted: links no longer open it. Ask its owner for access.",
}


# The PDF the viewer draws is an open of the document, in the audit trail and the view count.
AUDIT_KINDS = {"pdf": "open"}


def _gone(request: HttpRequest, state: str) -> HttpResponse:
    return render(request, "documents/share_gone.html", {"message": GONE_MESSAGES[state], "state": state}, status=410)


def _unlocked(request: HttpRequest, share: Share) -> bool:
    return not share.has_password or share.pk in request.session.get(SESSION_KEY, [])


def _serves_file(share: Share, kind: str) -> bool:
    """Whether this kind of use answers with a file's bytes (and so with byte ranges), not a page."""
    return kind in ("download", "pdf") or (kind == "open" and share.document.family in INLINE_FAMILIES)


def _sent(share: Share, kind: str) -> DocumentVersion | None:
    """The file a use that serves one sends: the current version, or for /pdf its PDF (None while there is none)."""
    version = share.document.current_version
    if version is None or kind != "pdf":
        return version
    return renditions.pdf_version(version)


def _opened_recently(request: HttpRequest, share: Share) -> bool:
    """This browser was counted a view of the link within the last DOCUID_SHARE_OPENING_SECONDS."""
    opened = request.session.get(VIEWED_KEY)
    at = opened.get(str(share.pk)) if isinstance(opened, dict) else None
    if not isinstance(at, int | float):
        return False
    return 0 <= timezone.now().timestamp() - at < settings.DOCUID_SHARE_OPENING_SECONDS


def _remember_opening(request: HttpRequest, share: Share) -> None:
    opened = request.session.get(VIEWED_KEY)
    kept = [(k, v) for k, v in opened.items() if k != str(share.pk)][-49:] if isinstance(opened, dict) else []
    request.session[VIEWED_KEY] = {**dict(kept), str(share.pk): timezone.now().timestamp()}


def _continues_opening(request: HttpRequest, share: Share, kind: str) -> bool:
    """A request for part of a file this browser opened through the link a moment ago: no new view.

    Only a real part continues an opening. A Range that is malformed, voided by If-Range,
    unsatisfiable or covering the whole file (`bytes=-999999`, `bytes=00-`) is answered with
    the whole file or nothing, so it is a new view like any other request; so is any range
    from a browser without a recent opening of this link (another person, another device).
    """
    if "Range" not in request.headers or not _serves_file(share, kind) or not _opened_recently(request, share):
        return False
    version = _sent(share, kind)
    if version is None or http.stamps(version):
        return False  # a stamped copy is always sent whole (Range ignored): each request is a new view
    return http.is_partial(http.requested_range(request, version), version.size)


def _resolve(request: HttpRequest, token: str, kind: str) -> Share | HttpResponse:
    """The usable share behind `token`, or the response that refuses it (audited)."""
    share = selectors.share_get_by_token(token)
    if share is None:
        raise Http404("No such link.")
    state = share.state()
    # A link lives only as long as its maker may share: a grantee's links die with their grant.
    if state == "active" and not selectors.document_permissions(share.created_by, share.document).share:
        state = "revoked"
    # Restricted documents are never shared by link, including links made before the level was raised.
    if state == "active" and share.document.security_level == SecurityLevel.RESTRICTED:
        state = "restricted"
    # The browser that used the last view may still fetch the rest of that file by ranges.
    if state == "used_up" and _continues_opening(request, share, kind):
        state = "active"
    if state != "active":
        services.share_access_record(
            share=share,
            kind=AUDIT_KINDS.get(kind, kind),
            outcome=Outcome.FAILURE,
            reason=state,
            actor=request.user,
            request=request,
        )
        return _gone(request, state)
    if share.require_login:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if request.user.phone_number != share.recipient_phone:
            services.share_access_record(
                share=share,
                kind=AUDIT_KINDS.get(kind, kind),
                outcome=Outcome.FAILURE,
                reason="wrong_person",
                actor=request.user,
                request=request,
            )
            return error_page(request, 403, "Not for you", "This link was shared with someone else.")
    return share


@never_cache
@require_http_methods(["GET", "POST"])
def share_link(request: HttpRequest, token: str) -> HttpResponse:
    resolved = _resolve(request, token, "page")
    if isinstance(resolved, HttpResponse):
        return resolved
    share = resolved
    form = SharePasswordForm(request.POST or None)
    if not _unlocked(request, share):
        if request.method == "POST":
            # The attempt is counted before the password is checked, so racing guesses cannot overrun the budget.
            if not throttle.share_password_attempt(share.pk):
                services.share_access_record(
                    share=share, kind="password", outcome=Outcome.FAILURE, reason="rate_limited", request=request
                )
                return error_page(request, 429, "Too many attempts", "Too many wrong passwords. Try again later.")
            if form.is_valid() and services.share_password_matches(share, form.cleaned_data["password"]):
                throttle.share_password_succeeded(share.pk)
                request.session.cycle_key()
                request.session[SESSION_KEY] = [*request.session.get(SESSION_KEY, []), share.pk]
                services.share_access_record(share=share, kind="password", actor=request.user, request=request)
                return redirect(request.path)
            services.share_access_record(
                share=share,
                kind="password",
                outcome=Outcome.FAILURE,
                reason="wrong_password",
                actor=request.user,
                request=request,
            )
            form = SharePasswordForm()
            return render(
                request, "documents/share_link.html", {"share": share, "form": form, "wrong": True}, status=403
            )
        return render(request, "documents/share_link.html", {"share": share, "form": form})
    services.share_access_record(share=share, kind="page", actor=request.user, request=request)
    return render(request, "documents/share_link.html", {"share": share, "document": share.document, "token": token})


def _usable(request: HttpRequest, token: str, kind: str) -> Share | HttpResponse:
    """The share behind `token` once it is active and unlocked in this browser, or the response that refuses it."""
    resolved = _resolve(request, token, kind)
    if isinstance(resolved, HttpResponse):
        return resolved
    if not _unlocked(request, resolved):
        return redirect("share:link", token=token)
    if resolved.document.current_version is None:
        raise Http404("No content.")
    return resolved


def _no_pdf(request: HttpRequest, share: Share, version: DocumentVersion) -> HttpResponse:
    """/pdf of a document without a PDF (yet): 409 while it is being made, else 404; audited, no view spent."""
    pending = renditions.preview_for(version).state == "pending"
    services.share_access_record(
        share=share,
        kind="open",
        outcome=Outcome.FAILURE,
        reason="rendition_pending" if pending else "no_pdf",
        actor=request.user,
        request=request,
    )
    if not pending:
        raise Http404("No PDF of this document.")
    return pdf_pending(request)


def _content(request: HttpRequest, token: str, kind: str) -> HttpResponse:
    usable = _usable(request, token, kind)
    if isinstance(usable, HttpResponse):
        return usable
    share = usable
    if kind == "download" and share.access != ShareAccess.DOWNLOAD:
        services.share_access_record(
            share=share, kind=kind, outcome=Outcome.FAILURE, reason="view_only", actor=request.user, request=request
        )
        return render(
            request,
            "documents/share_denied.html",
            {
                "title": "Not allowed",
                "message": "This link lets you view the document, not download it.",
                "token": token,
                "request_id": getattr(request, "request_id", ""),
            },
            status=403,
        )
    version = share.document.current_version
    if not _serves_file(share, kind):
        return _open_page(request, share, token)  # /open of an Office or text document: the page that shows it
    sent = _sent(share, kind)
    if sent is None:
        return _no_pdf(request, share, version)
    if request.method != "HEAD" and http.stamps(sent):
        # A confidential PDF goes out stamped with the link's recipient; the view's event records the stamp.
        if kind == "download":
            try:  # a confidential Office original leaves as its PDF: refused before a view is counted if not made
                http.download_target(request, version)
            except NotSendable as exc:
                services.share_access_record(
                    share=share, kind=kind, outcome=Outcome.FAILURE, reason=exc.code.lower(), request=request
                )
                raise
        elif sent is not version:
            request.docuid_rendition_sent = True  # the stamp's audit data says the PDF is the rendition
        watermark.remember(request, watermark.stamp_for_share(share, request))
    if request.method == "HEAD":
        # Headers only (http.file_response never opens the file for HEAD): audited, never a view.
        services.share_access_record(share=share, kind="head", actor=request.user, request=request)
    else:
        # A viewer fetching parts of a file by ranges is still one view — but only the
        # browser that was counted, and only for real parts within the opening's time.
        new_view = not _continues_opening(request, share, kind)
        if not services.share_access_record(
            share=share, kind=AUDIT_KINDS.get(kind, kind), actor=request.user, request=request, count_view=new_view
        ):
            return _gone(request, "used_up")
        if new_view:
            _remember_opening(request, share)
    if kind == "download":
        return http.file_response(request, version, as_attachment=True)
    # Inline only, whatever the link's access level: /open and /pdf never send an attachment.
    csp = http.INLINE_IMAGE_CSP if share.document.family == Family.IMAGE else http.INLINE_PDF_CSP
    return http.file_response(request, sent, as_attachment=False, extra_headers={"Content-Security-Policy": csp})


def _open_page(request: HttpRequest, share: Share, token: str) -> HttpResponse:
    """The link's open page: the signed-in open page's body (PDF viewer, image, preview) on the link's own URLs.

    A PDF or an image is a view when the viewer fetches it (/pdf, /open). A preview's text
    goes out in this page, so then the page is the counted view. While an Office file's PDF
    is being made the page says so and polls, and shows no text: the PDF, once drawn, is
    the one view a view-limited link spends.
    """
    document = share.document
    version = document.current_version
    shown = viewing.viewing_for(document, version)
    if shown.kind == "pdf":
        shown = replace(shown, url=reverse("share:pdf", args=[token]))
    elif shown.kind == "image":
        shown = replace(shown, url=reverse("share:open", args=[token]))
    preview = None
    if shown.kind == "preview" and shown.state != "pending":
        if request.method == "HEAD":
            services.share_access_record(share=share, kind="head", actor=request.user, request=request)
        else:
            preview = previews.text_preview(version)
            if not services.share_access_record(share=share, kind="open", actor=request.user, request=request):
                return _gone(request, "used_up")
            _remember_opening(request, share)
    else:
        services.share_access_record(share=share, kind="page", actor=request.user, request=request)
    context = {
        "share": share,
        "document": document,
        "version": version,
        "viewing": shown,
        "preview": preview,
        "may_download": share.access == ShareAccess.DOWNLOAD,
        "filetype": rendering.FAMILY_ICONS[document.family],
        "token": token,
    }
    return render(request, "documents/share_open.html", context)


@never_cache
def share_open(request: HttpRequest, token: str) -> HttpResponse:
    """A PDF or an image itself, inline; any other type: the link's open page."""
    return _content(request, token, "open")


@never_cache
def share_download(request: HttpRequest, token: str) -> HttpResponse:
    return _content(request, token, "download")


@never_cache
def share_pdf(request: HttpRequest, token: str) -> HttpResponse:
    """The document as PDF — a PDF original, or an Office file's rendition — inline (what the viewer draws)."""
    return _content(request, token, "pdf")


@never_cache
@require_safe
def share_view(request: HttpRequest, token: str) -> HttpResponse:
    """The link's open page for every type: the document drawn in the page, as signed-in people see it."""
    usable = _usable(request, token, "page")
    return usable if isinstance(usable, HttpResponse) else _open_page(request, usable, token)


@never_cache
@require_safe
def share_view_status(request: HttpRequest, token: str) -> HttpResponse:
    """The state of the shared document's PDF, polled by static/js/preview-status.js while it is made."""
    usable = _usable(request, token, "status")
    if isinstance(usable, HttpResponse):
        return usable
    state = viewing.viewing_for(usable.document, usable.document.current_version).state
    return JsonResponse({"state": state}, headers={"Cache-Control": "private, no-store"})
