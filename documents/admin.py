"""Support staff's view of documents: metadata, versions, grants and shares — not content.

Content is reachable only through the "download content" link, which needs the
`documents.download_document_content` permission and is audited. Every change
made here goes through the services or is recorded as admin.change.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import ngettext

from audit import record
from audit.actions import Action, Outcome
from docuid.admin import ReadOnlyAdmin
from documents import http, services, watermark
from documents.errors import DocumentError
from documents.models import (
    Document,
    DocumentVersion,
    Grant,
    Permission,
    Rendition,
    SecurityLevel,
    Share,
    Tag,
    VersionText,
)
from documents.services.extraction import version_text_queue

CONTENT_PERMISSION = "documents.download_document_content"


class DocumentVersionInline(admin.TabularInline):
    model = DocumentVersion
    extra = 0
    can_delete = False
    # The rendition's state is on Documents → Renditions: one more column here overflows a 1280 px window.
    fields = ("number", "original_name", "mime_type", "size", "sha256", "author", "note", "created_at", "text_status")
    readonly_fields = fields

    @admin.display(description="Text extraction")
    def text_status(self, obj) -> str:
        text = VersionText.objects.filter(version=obj).first()
        if text is None:
            return "not queued"
        url = reverse("admin:documents_versiontext_change", args=[text.pk])
        return format_html(
            '<a href="{}">{}</a>{}', url, text.get_status_display(), f": {text.error}" if text.error else ""
        )

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class GrantInline(admin.StackedInline):
    # Stacked, not tabular: a tabular row's inputs have only the column header, no label of their own.
    model = Grant
    extra = 0
    fields = ("user", "group", "permission", "expires_at", "granted_by", "via", "created_at")
    readonly_fields = ("granted_by", "via", "created_at")
    autocomplete_fields = ("user",)
    # One labelled date-and-time input: the admin's split date / time pair leaves both inputs without a label.
    formfield_overrides = {
        models.DateTimeField: {
            "form_class": forms.DateTimeField,
            "widget": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        }
    }

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        acting_user = request.user

        class NoSelfGrantFormSet(formset):
            def clean(self):
                super().clean()
                for form in self.forms:
                    if not form.has_changed() or self._should_delete_form(form):
                        continue
                    _refuse_self_grant(acting_user, form.cleaned_data.get("user"), form.cleaned_data.get("group"))

        return NoSelfGrantFormSet


class ShareInline(admin.TabularInline):
    model = Share
    extra = 0
    can_delete = False
    fields = ("created_by", "access", "recipient_email", "expires_at", "view_count", "max_views", "revoked_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class CategoryListFilter(admin.AllValuesFieldListFilter):
    """Categories to filter by, where documents without one show as "(none)" instead of an empty link."""

    def choices(self, changelist):
        for choice in super().choices(changelist):
            if choice["display"] == "":
                choice["display"] = "(none)"
            yield choice


def _refuse_self_grant(acting_user, user, group) -> None:
    """Staff may not give themselves content access they do not hold.

    Reading content from the admin needs CONTENT_PERMISSION and is audited; a grant
    to oneself (or to a group one belongs to) would be a way around both.
    """
    if acting_user.has_perm(CONTENT_PERMISSION):
        return
    reaches_self = (user is not None and user.pk == acting_user.pk) or (
        group is not None and acting_user.groups.filter(pk=group.pk).exists()
    )
    if reaches_self:
        raise ValidationError(
            "You cannot grant access to yourself or to a group you belong to: "
            "that needs the 'download document content' permission."
        )


class DocumentAddForm(forms.ModelForm):
    """Staff upload on behalf of a person: the file goes through the same checks as any upload."""

    file = forms.FileField(help_text="Checked like any upload: type by content, size limit, duplicates.")
    tag_names = forms.CharField(required=False, label="Tags", help_text="Comma-separated.")

    class Meta:
        model = Document
        fields = ("owner", "title", "description", "category", "security_level")

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.fields["title"].required = False
        self.created: Document | None = None

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        upload = data["file"]
        # The upload runs here so that a refused file is a form error, not a 500; the admin
        # wraps the whole request in one transaction, so a later failure undoes it.
        try:
            self.created = services.document_upload(
                acting_user=self.request.user,
                owner=data["owner"],
                file=upload,
                name=upload.name,
                title=data.get("title") or "",
                description=data.get("description") or "",
                category=data.get("category") or "",
                tags=[t for t in (data.get("tag_names") or "").split(",") if t.strip()],
                security_level=data.get("security_level") or SecurityLevel.INTERNAL,
                request=self.request,
            )
        except DocumentError as exc:
            raise forms.ValidationError(exc.message) from None
        return data


class BulkGrantForm(forms.Form):
    group = forms.ModelChoiceField(queryset=Group.objects.order_by("name"))
    permission = forms.ChoiceField(choices=Permission.choices, initial=Permission.VIEW)


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "family", "size", "security_level", "updated_at")
    list_filter = ("family", "security_level", ("category", CategoryListFilter), "created_at")
    search_fields = ("title", "category", "owner__name")
    date_hierarchy = "updated_at"
    list_select_related = ("owner",)
    autocomplete_fields = ("owner",)
    readonly_fields = (
        "family",
        "mime_type",
        "size",
        "sha256",
        "page_count",
        "created_at",
        "current_version",
        "content_link",
    )
    fields = (
        "owner",
        "title",
        "description",
        "category",
        "tags",
        "security_level",
        "allow_original_download",
        *readonly_fields,
    )
    inlines = (DocumentVersionInline, GrantInline, ShareInline)
    actions = ("grant_to_group",)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = DocumentAddForm
            kwargs["fields"] = ("owner", "file", "title", "description", "category", "security_level")
            form = super().get_form(request, obj, **kwargs)

            class RequestForm(form):
                def __init__(self, *args, **inner):
                    super().__init__(*args, request=request, **inner)

            return RequestForm
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ("owner", "file", "title", "description", "category", "security_level")})]
        return super().get_fieldsets(request, obj)

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        if not request.user.has_perm(CONTENT_PERMISSION):
            # Ownership is content access: reassigning it needs the content permission too.
            return ("owner", *self.readonly_fields)
        return self.readonly_fields

    def save_form(self, request, form, change):
        if not change:
            return form.created
        return super().save_form(request, form, change)

    def save_model(self, request, obj, form, change):
        if not change:
            return  # the upload service saved it
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if form.changed_data:
                record(
                    Action.ADMIN_CHANGE,
                    outcome=Outcome.SUCCESS,
                    actor=request.user,
                    target=obj,
                    request=request,
                    data={"fields": sorted(form.changed_data)},
                )

    def save_related(self, request, form, formsets, change):
        if not change:
            return
        super().save_related(request, form, formsets, change)
        from documents import search

        search.refresh_search_vector(form.instance)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Grant:
            return super().save_formset(request, form, formset, change)
        grants = formset.save(commit=False)
        for grant in formset.deleted_objects:
            services.grant_remove(acting_user=request.user, grant=grant, request=request)
        for grant in grants:
            services.grant_add(
                acting_user=request.user,
                document=form.instance,
                user=grant.user,
                group=grant.group,
                permission=grant.permission,
                expires_at=grant.expires_at,
                notify=False,
                by_staff=True,
                request=request,
            )
        return None

    @admin.display(description="Content")
    def content_link(self, obj: Document) -> str:
        if obj.pk is None or obj.current_version_id is None:
            return "—"
        url = reverse("admin:documents_document_content", args=[obj.pk])
        return format_html('<a href="{}">Download content (needs permission; audited)</a>', url)

    def get_urls(self):
        urls = super().get_urls()
        custom = [
            path(
                "<int:pk>/content/",
                self.admin_site.admin_view(self.content_view),
                name="documents_document_content",
            )
        ]
        return custom + urls

    def content_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Staff download of content: an explicit permission, and an audit event either way."""
        document = Document.objects.select_related("current_version").filter(pk=pk).first()
        if document is None or document.current_version is None:
            raise Http404("No such document.")
        allowed = request.user.has_perm(CONTENT_PERMISSION)
        if allowed and request.method != "HEAD" and http.stamps(document.current_version):
            # Support staff get a copy stamped with their own name, recorded in this event.
            watermark.remember(request, watermark.stamp_for_user(request.user, request))
        with transaction.atomic():
            record(
                Action.ADMIN_CONTENT_ACCESS,
                outcome=Outcome.SUCCESS if allowed else Outcome.FAILURE,
                actor=request.user,
                target=document,
                request=request,
                data={
                    "version": document.current_version.number,
                    **({} if allowed else {"reason": "denied"}),
                    **watermark.audit_data(request),
                },
            )
        if not allowed:
            raise PermissionDenied("Downloading content needs the 'download document content' permission.")
        return http.file_response(request, document.current_version, as_attachment=True)

    @admin.action(description="Grant access to a group…")
    def grant_to_group(self, request: HttpRequest, queryset):
        if "apply" in request.POST:
            form = BulkGrantForm(request.POST)
            if form.is_valid():
                try:
                    _refuse_self_grant(request.user, None, form.cleaned_data["group"])
                except ValidationError as exc:
                    self.message_user(request, exc.messages[0], messages.ERROR)
                    return None
                with transaction.atomic():
                    for document in queryset:
                        services.grant_add(
                            acting_user=request.user,
                            document=document,
                            group=form.cleaned_data["group"],
                            permission=form.cleaned_data["permission"],
                            notify=False,
                            by_staff=True,
                            request=request,
                        )
                self.message_user(
                    request,
                    ngettext(
                        "Granted %(group)s access to %(count)d document.",
                        "Granted %(group)s access to %(count)d documents.",
                        queryset.count(),
                    )
                    % {"group": form.cleaned_data["group"].name, "count": queryset.count()},
                    messages.SUCCESS,
                )
                return None
        else:
            form = BulkGrantForm()
        return TemplateResponse(
            request,
            "admin/documents/bulk_grant.html",
            {
                **self.admin_site.each_context(request),
                "title": "Grant access to a group",
                "form": form,
                "documents": queryset,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )


@admin.register(Share)
class ShareAdmin(admin.ModelAdmin):
    list_display = ("document", "created_by", "access", "expires_at", "view_count", "revoked_at")
    list_filter = ("access", "require_login", "created_at")
    search_fields = ("document__title",)
    list_select_related = ("document", "created_by")
    readonly_fields = [f.name for f in Share._meta.fields if f.name not in {"id", "token_hash", "password_hash"}]
    exclude = ("token_hash", "password_hash")
    actions = ("revoke",)

    def has_add_permission(self, request) -> bool:
        return False  # links are made by the people who share, so that they can see the token once

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Revoke the selected links")
    def revoke(self, request: HttpRequest, queryset):
        for share in queryset.select_related("document"):
            services.share_revoke(acting_user=request.user, share=share, request=request)
        self.message_user(request, "Revoked.", messages.SUCCESS)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ("name",)


@admin.register(VersionText)
class VersionTextAdmin(ReadOnlyAdmin):
    """Extraction status and errors, read-only. The text itself is document content: not shown here."""

    list_display = ("version", "status", "extractor", "error", "duration_ms", "attempts", "extracted_at")
    list_filter = ("status", "extractor")
    list_select_related = ("version__document",)
    search_fields = ("version__document__title",)
    fields = ("version", "status", "extractor", "error", "duration_ms", "attempts", "extracted_at")
    readonly_fields = fields
    actions = ("re_extract",)

    @admin.action(description="Extract the text of the selected versions again", permissions=["view"])
    def re_extract(self, request: HttpRequest, queryset):
        count = 0
        with transaction.atomic():
            for text in queryset.select_related("version"):
                version_text_queue(version=text.version)
                count += 1
        self.message_user(
            request, ngettext("%d version queued.", "%d versions queued.", count) % count, messages.SUCCESS
        )


@admin.register(Rendition)
class RenditionAdmin(ReadOnlyAdmin):
    """PDF rendition and thumbnail status and errors, read-only (the files are document content: not linked here)."""

    list_display = ("version", "status", "reason", "error", "page_count", "duration_ms", "attempts", "rendered_at")
    list_filter = ("status", "reason")
    list_select_related = ("version__document",)
    search_fields = ("version__document__title",)
    fields = (
        *("version", "status", "reason", "error", "page_count", "pdf_size"),
        *("thumbnail_width", "thumbnail_height", "duration_ms", "attempts", "rendered_at"),
    )
    readonly_fields = fields
    actions = ("re_render",)

    @admin.action(description="Make the selected renditions again", permissions=["view"])
    def re_render(self, request: HttpRequest, queryset):
        from documents import renditions

        count = 0
        with transaction.atomic():
            for rendition in queryset.select_related("version__document"):
                renditions.queue(version=rendition.version)
                count += 1
        self.message_user(
            request, ngettext("%d version queued.", "%d versions queued.", count) % count, messages.SUCCESS
        )
