"""Document pages for signed-in people: list and search, detail, upload, open, download, grants.

Thin: parse input, call a selector or a service, shape the response. Who may see
what is decided by documents.selectors only; an invisible document is a 404.
"""

from contextlib import contextmanager
from datetime import datetime, time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from accounts.phone import normalize_phone
from audit.actions import Action, Outcome
from documents import filetypes, http, previews, rendering, replica, selectors, services, viewing
from documents.errors import DocumentError, DuplicateDocument, GrantRefused, NotSendable, UploadTooLarge
from documents.forms import DocumentFilterForm, GranteeGrantForm, GrantForm, UploadMetadataForm, VersionForm
from documents.models import Document, DocumentVersion, Family, Grant

INLINE_FAMILIES = {Family.PDF, Family.IMAGE}
FILTER_CHOICES = {
    name: DocumentFilterForm.base_fields[field].choices
    for name, field in (("family", "family"), ("level", "level"), ("sort", "sort"))
}
MULTIPART_OVERHEAD = 1024 * 1024


def error_page(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    context = {"status": status, "title": title, "message": message, "request_id": getattr(request, "request_id", "")}
    return render(request, "error.html", context, status=status)


def visible_or_404(request: HttpRequest, pk, *, audit_action: str | None = None) -> Document:
    """The document if the caller may see it; otherwise Http404 (audited when `audit_action` is given)."""
    try:
        return selectors.document_get_visible(request.user, pk)
    except Document.DoesNotExist:
        if audit_action:
            reason = "denied" if selectors.document_exists(pk) else "not_found"
            services.document_access_record(
                action=audit_action,
                actor=request.user,
                document_id=pk,
                outcome=Outcome.FAILURE,
                reason=reason,
                request=request,
            )
        raise Http404("No such document.") from None


def end_of_day(day) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=timezone.get_current_timezone())


# --- List and search ---------------------------------------------------------------


LIST_FIELDS = ("q", "family", "category", "tag", "level", "modified_from", "modified_to", "sort")


@login_required
def document_list(request: HttpRequest) -> HttpResponse:
    form = DocumentFilterForm(request.GET)
    form.is_valid()  # an invalid field filters nothing and its error is shown; the valid ones apply
    filters = form.filters()
    data = form.cleaned_data
    page_number = data.get("page") or 1
    per_page = data.get("per_page") or selectors.DEFAULT_PAGE_SIZE
    page = replica.documents_list(request.user, filters=filters, page=page_number, per_page=per_page)
    past_end = None
    if not page.documents and page_number > 1:
        # Past the end (a bookmark, a deleted document): show the last page rather than an empty one.
        past_end = page_number
        first = replica.documents_list(request.user, filters=filters, per_page=per_page, with_total=True)
        last = max(1, -(-first.total // per_page))
        if last > 1:
            first = replica.documents_list(request.user, filters=filters, page=last, per_page=per_page)
        page = first
    params = request.GET.copy()
    params.pop("page", None)
    layout = "grid" if params.get("view") == "grid" else "table"
    as_table, as_grid = params.copy(), params.copy()
    as_table.pop("view", None)
    as_grid["view"] = "grid"
    values = {name: request.GET.get(name, "") for name in LIST_FIELDS}
    suggested = params.copy()
    if page.did_you_mean:
        suggested["q"] = page.did_you_mean
    content = rendering.document_list_content(
        request,
        {
            "form": form,
            "errors": form.visible_errors(),
            "page": page,
            "past_end": past_end,
            "values": values,
            "filtered": any(values[name] for name in LIST_FIELDS if name != "sort"),
            "querystring": params.urlencode(),
            "choices": FILTER_CHOICES,
            "highlights": page.highlights,
            "did_you_mean": page.did_you_mean,
            "did_you_mean_query": suggested.urlencode() if page.did_you_mean else "",
            "layout": layout,
            "table_query": as_table.urlencode(),
            "grid_query": as_grid.urlencode(),
        },
    )
    return render(request, "documents/list.html", {"content": content})


# --- Detail ------------------------------------------------------------------------


@login_required
def document_detail(request: HttpRequest, pk: int) -> HttpResponse:
    document = visible_or_404(request, pk, audit_action=Action.DOCUMENT_VIEW)
    permissions = selectors.document_permissions(request.user, document)
    services.document_access_record(action=Action.DOCUMENT_VIEW, actor=request.user, document=document, request=request)
    context = {
        "document": document,
        "filetype": rendering.FAMILY_ICONS[document.family],
        "thumbnail": rendering.thumbnails_of([document]).get(document.pk),
        "permissions": permissions,
        "tags": list(document.tags.all()),
        "versions": list(selectors.document_versions(document)) if permissions.manage else [],
        "grant_form": rendering.blank_form(GrantForm if permissions.manage else GranteeGrantForm)
        if permissions.share
        else "",
    }
    if permissions.manage:
        context |= {
            "grants": list(selectors.document_grants(document)),
            "shares": list(selectors.document_shares(document)),
            "history_rows": rendering.history_rows(selectors.document_access_history(document)),
            "version_form": rendering.blank_form(VersionForm),
        }
    return render(request, "documents/detail.html", context)


# --- Upload --------------------------------------------------------------------------


class SizeLimitUploadHandler(FileUploadHandler):
    """Stops reading the body as soon as one file passes the limit, instead of spooling it all to disk."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > services.max_upload_bytes():
            self.request.docuid_too_large = self.file_name
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None


def _too_large(request: HttpRequest, name: str = "") -> HttpResponse:
    limit = settings.DOCUID_MAX_UPLOAD_MB
    what = f"'{name}' is" if name else "The upload is"
    message = f"{what} larger than the {limit} MB limit per file. Split it or compress it, then try again."
    if _wants_json(request):
        return JsonResponse({"success": False, "error": "DOCUMENT_TOO_LARGE", "message": message}, status=413)
    return error_page(request, 413, "File too large", message)


def _without_name(message: str, name: str) -> str:
    """A service's message about one file, for a line that already starts with the file's name."""
    # The services quote the name as stored (sanitised), which may differ from the name sent.
    for quoted in {f"'{name}'", f"'{filetypes.sanitize_filename(name)}'"}:
        if message.startswith(f"{quoted}: "):
            rest = message[len(quoted) + 2 :]
            return rest[:1].upper() + rest[1:]
        if message.startswith(f"{quoted} "):
            return "This file" + message[len(quoted) :]
    return message


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@csrf_exempt  # the CSRF check runs in _upload, after our upload handler is installed
@login_required
def document_upload(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        limit = services.max_upload_bytes() * settings.DOCUID_MAX_FILES_PER_UPLOAD + MULTIPART_OVERHEAD
        try:
            content_length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            content_length = 0
        if content_length > limit:
            return _too_large(request)
        request.upload_handlers.insert(0, SizeLimitUploadHandler(request))
    return _upload(request)


@csrf_protect
@require_http_methods(["GET", "POST"])
def _upload(request: HttpRequest) -> HttpResponse:
    form = UploadMetadataForm(request.POST or None)
    if request.method == "GET":
        return render(request, "documents/upload.html", {"form": form, "max_mb": settings.DOCUID_MAX_UPLOAD_MB})
    if getattr(request, "docuid_too_large", None) is not None:
        return _too_large(request, request.docuid_too_large)
    files = request.FILES.getlist("files")
    if not form.is_valid() or not files or len(files) > settings.DOCUID_MAX_FILES_PER_UPLOAD:
        if not files:
            form.add_error(None, "Choose at least one file.")
        elif len(files) > settings.DOCUID_MAX_FILES_PER_UPLOAD:
            form.add_error(None, f"At most {settings.DOCUID_MAX_FILES_PER_UPLOAD} files at once.")
        if _wants_json(request):
            return JsonResponse(
                {
                    "success": False,
                    "error": "VALIDATION_ERROR",
                    "message": " ".join(form.non_field_errors()) or "Check the form.",
                    "details": form.errors.get_json_data(),
                },
                status=400,
            )
        return render(
            request, "documents/upload.html", {"form": form, "max_mb": settings.DOCUID_MAX_UPLOAD_MB}, status=400
        )
    results = []
    for upload in files:
        try:
            document = services.document_upload(
                acting_user=request.user,
                file=upload,
                name=upload.name,
                title=form.cleaned_data["title"] if len(files) == 1 else "",
                description=form.cleaned_data["description"],
                category=form.cleaned_data["category"],
                tags=form.tag_list(),
                security_level=form.cleaned_data["security_level"],
                request=request,
            )
        except DocumentError as exc:
            result = {
                "name": upload.name,
                "ok": False,
                "error": exc.code,
                "message": _without_name(exc.message, upload.name),
            }
            if isinstance(exc, DuplicateDocument):
                result["url"] = reverse("documents:detail", args=[exc.existing.pk])
            results.append(result)
        else:
            results.append(
                {
                    "name": upload.name,
                    "ok": True,
                    "id": document.pk,
                    "url": reverse("documents:detail", args=[document.pk]),
                }
            )
    succeeded = [r for r in results if r["ok"]]
    status = 200 if succeeded else (413 if all(r["error"] == UploadTooLarge.code for r in results) else 400)
    if _wants_json(request):
        return JsonResponse({"success": bool(succeeded), "results": results}, status=status if not succeeded else 201)
    if len(results) == 1 and succeeded:
        messages.success(request, f"Uploaded “{files[0].name}”.")
        return redirect(succeeded[0]["url"])
    return render(
        request,
        "documents/upload.html",
        {"form": UploadMetadataForm(), "results": results, "max_mb": settings.DOCUID_MAX_UPLOAD_MB},
        status=status,
    )


@login_required
@require_POST
def version_add(request: HttpRequest, pk: int) -> HttpResponse:
    document = visible_or_404(request, pk)
    if not selectors.document_permissions(request.user, document).manage:
        return error_page(request, 403, "Not allowed", "Only the owner can add versions.")
    form = VersionForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a file for the new version.")
        return redirect("documents:detail", pk=document.pk)
    try:
        version = services.document_version_add(
            acting_user=request.user,
            document=document,
            file=form.cleaned_data["file"],
            name=form.cleaned_data["file"].name,
            note=form.cleaned_data["note"],
            request=request,
        )
    except DocumentError as exc:
        messages.error(request, exc.message)
        status = 413 if isinstance(exc, UploadTooLarge) else 400
        return (
            error_page(request, status, "Version not added", exc.message)
            if status == 413
            else redirect("documents:detail", pk=document.pk)
        )
    messages.success(request, f"Version {version.number} added.")
    return redirect("documents:detail", pk=document.pk)


def confirmed(request: HttpRequest) -> bool:
    """A destructive POST goes through only with the confirmation page's (or dialog's) `confirm=yes`."""
    return request.method == "POST" and request.POST.get("confirm") == "yes"


def confirm_page(request: HttpRequest, *, title: str, message: str, action: str, back: str, **extra) -> HttpResponse:
    """The server-rendered confirmation a destructive button leads to (without JavaScript, or without `confirm`)."""
    context = {"title": title, "message": message, "action": action, "back": back, **extra}
    return render(request, "documents/confirm.html", context)


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"


def _delete_summary(document: Document) -> str:
    """What deleting `document` takes with it, in words: "2 versions, access for 1 person and 3 share links"."""
    versions = selectors.document_versions(document).count()
    grants = selectors.document_grants(document).count()
    shares = selectors.document_shares(document).count()
    parts = [_count(versions, "version", "versions")]
    if grants:
        parts.append(f"access for {_count(grants, 'person or group', 'people or groups')}")
    if shares:
        parts.append(_count(shares, "share link", "share links"))
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


@login_required
@require_http_methods(["GET", "POST"])
def document_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET, or a POST without `confirm=yes`: the confirmation page. A confirmed POST deletes for good."""
    document = visible_or_404(request, pk)
    if not selectors.document_permissions(request.user, document).manage:
        return error_page(request, 403, "Not allowed", "Only the owner can delete this document.")
    title, summary = document.title, _delete_summary(document)
    if not confirmed(request):
        return confirm_page(
            request,
            title=f"Delete “{title}”?",
            message=f"This deletes the document with its {summary}. It cannot be undone.",
            action="Delete this document",
            back=reverse("documents:detail", args=[document.pk]),
        )
    services.document_delete(acting_user=request.user, document=document, request=request)
    messages.success(request, f"Deleted “{title}” with its {summary}.")
    return redirect("documents:list")


# --- Open and download -------------------------------------------------------------


@contextmanager
def storage_failure_recorded(
    request: HttpRequest, action: str, document: Document, version: DocumentVersion, *, data: dict | None = None
):
    """An exception while reading the file is audited as a failed open/download, then re-raised (500).

    A file that may not leave as asked (errors.NotSendable: an unstampable confidential PDF,
    a confidential Office original without its PDF yet) is audited with its code and
    answered by documents.middleware (409/422), not a 500.
    """
    try:
        yield
    except Exception as exc:
        services.document_access_record(
            action=action,
            actor=request.user,
            document=document,
            outcome=Outcome.FAILURE,
            reason=exc.code.lower() if isinstance(exc, NotSendable) else "storage_error",
            request=request,
            data={"version": version.number, **(data or {})},
        )
        raise


@login_required
def document_open(request: HttpRequest, pk: int) -> HttpResponse:
    """A PDF or an image itself, inline (what the viewer loads); any other type: its open page."""
    document = visible_or_404(request, pk, audit_action=Action.DOCUMENT_OPEN)
    version = document.current_version
    if version is None:
        raise Http404("No content.")
    if document.family not in INLINE_FAMILIES:
        return _open_page(request, document, version)
    # Storage is read before the open is recorded: a failed read is a failed open (and a 500).
    with storage_failure_recorded(request, Action.DOCUMENT_OPEN, document, version):
        csp = http.INLINE_PDF_CSP if document.family == Family.PDF else http.INLINE_IMAGE_CSP
        response = http.file_response(
            request, version, as_attachment=False, extra_headers={"Content-Security-Policy": csp}
        )
    services.document_access_record(
        action=Action.DOCUMENT_OPEN,
        actor=request.user,
        document=document,
        request=request,
        data={"version": version.number},
    )
    return response


@login_required
def document_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The open page: the document drawn in the page (PDF viewer, image, or preview), with its file name."""
    document = visible_or_404(request, pk, audit_action=Action.DOCUMENT_OPEN)
    version = document.current_version
    if version is None:
        raise Http404("No content.")
    return _open_page(request, document, version)


@login_required
def document_view_status(request: HttpRequest, pk: int) -> JsonResponse:
    """The state of the open page's PDF rendition, polled by static/js/preview-status.js while it is made."""
    document = visible_or_404(request, pk)
    version = document.current_version
    if version is None:
        raise Http404("No content.")
    state = viewing.viewing_for(document, version).state
    return JsonResponse({"state": state}, headers={"Cache-Control": "private, no-store"})


def _open_page(request: HttpRequest, document: Document, version: DocumentVersion) -> HttpResponse:
    shown = viewing.viewing_for(document, version)
    preview = None
    if shown.kind == "preview":
        # The preview's text goes out in this page, so this page is the audited open; a PDF
        # or an image is audited by the request that fetches it (document_open, renditions).
        with storage_failure_recorded(request, Action.DOCUMENT_OPEN, document, version):
            preview = previews.text_preview(version)
        services.document_access_record(
            action=Action.DOCUMENT_OPEN,
            actor=request.user,
            document=document,
            request=request,
            data={"version": version.number},
        )
    context = {
        "document": document,
        "version": version,
        "viewing": shown,
        "preview": preview,
        "permissions": selectors.document_permissions(request.user, document),
        "filetype": rendering.FAMILY_ICONS[document.family],
    }
    return render(request, "documents/open.html", context)


def _download(request: HttpRequest, document: Document, version: DocumentVersion) -> HttpResponse:
    if not selectors.document_permissions(request.user, document).download:
        services.document_access_record(
            action=Action.DOCUMENT_DOWNLOAD,
            actor=request.user,
            document=document,
            outcome=Outcome.FAILURE,
            reason="denied",
            request=request,
        )
        return error_page(request, 403, "Not allowed", "You may view this document but not download it.")
    with storage_failure_recorded(request, Action.DOCUMENT_DOWNLOAD, document, version):
        response = http.file_response(request, version, as_attachment=True)
    services.document_access_record(
        action=Action.DOCUMENT_DOWNLOAD,
        actor=request.user,
        document=document,
        request=request,
        data={"version": version.number, "range": bool(request.headers.get("Range"))},
    )
    return response


@login_required
def document_download(request: HttpRequest, pk: int) -> HttpResponse:
    document = visible_or_404(request, pk, audit_action=Action.DOCUMENT_DOWNLOAD)
    if document.current_version is None:
        raise Http404("No content.")
    return _download(request, document, document.current_version)


@login_required
def version_download(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    document = visible_or_404(request, pk, audit_action=Action.DOCUMENT_DOWNLOAD)
    # Earlier versions are the owner's working history; grantees get the current one.
    if not selectors.document_permissions(request.user, document).manage:
        return error_page(request, 403, "Not allowed", "Only the owner can download earlier versions.")
    try:
        version = selectors.document_version_get(document, number)
    except DocumentVersion.DoesNotExist:
        raise Http404("No such version.") from None
    return _download(request, document, version)


# --- Access for registered people --------------------------------------------------


def _find_recipient(text: str):
    User = get_user_model()
    text = text.strip()
    if "@" in text:
        return User.objects.filter(email__iexact=text, is_active=True).first()
    try:
        phone = normalize_phone(text)
    except ValidationError:
        return None
    return User.objects.filter(phone_number=phone, is_active=True).first()


@login_required
@require_POST
def grant_create(request: HttpRequest, pk: int) -> HttpResponse:
    document = visible_or_404(request, pk)
    if not selectors.document_permissions(request.user, document).share:
        return error_page(request, 403, "Not allowed", "You may not share this document.")
    form = GrantForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a phone number or email and a permission.")
        return redirect("documents:detail", pk=document.pk)
    typed = form.cleaned_data["recipient"].strip()
    permission = form.cleaned_data["permission"]
    expires_on = form.cleaned_data.get("expires_on")
    expires_at = end_of_day(expires_on) if expires_on else None
    # What may be given is checked before the recipient is looked up, and every answer after
    # that is the same whoever they are: the form must not reveal who has an account, their
    # name, or whether (and from whom) they already have access.
    try:
        terms = services.grant_terms(
            acting_user=request.user, document=document, permission=permission, expires_at=expires_at
        )
        recipient = _find_recipient(typed)
        if recipient is not None:
            services.grant_add(
                acting_user=request.user,
                document=document,
                user=recipient,
                permission=permission,
                expires_at=expires_at,
                request=request,
            )
    except GrantRefused:
        pass  # audited by the service; answered as below
    except DocumentError as exc:
        messages.error(request, exc.message)
        return redirect("documents:detail", pk=document.pk)
    answer = f"If {typed} belongs to a DocuID user, they now have access."
    if terms.capped:
        answer += f" Access you give ends when yours does, on {timezone.localtime(terms.expires_at):%Y-%m-%d}."
    messages.success(request, answer)
    return redirect("documents:detail", pk=document.pk)


@login_required
@require_http_methods(["GET", "POST"])
def grant_delete(request: HttpRequest, pk: int, grant_id: int) -> HttpResponse:
    document = visible_or_404(request, pk)
    if not selectors.document_permissions(request.user, document).manage:
        return error_page(request, 403, "Not allowed", "Only the owner can remove access.")
    try:
        grant = selectors.document_grant_get(document, grant_id)
    except Grant.DoesNotExist:
        raise Http404("No such grant.") from None
    who = grant.user.name if grant.user_id else f"the group {grant.group.name}"
    if not confirmed(request):
        return confirm_page(
            request,
            title=f"Remove access for {who}?",
            message=f"{who[0].upper()}{who[1:]} will no longer see “{document.title}”, "
            "and access they gave others goes with it.",
            action="Remove access",
            back=reverse("documents:detail", args=[document.pk]),
        )
    services.grant_remove(acting_user=request.user, grant=grant, request=request)
    messages.success(request, f"Access removed for {who}.")
    return redirect("documents:detail", pk=document.pk)
