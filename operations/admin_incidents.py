"""The on-call console: incidents (acknowledge, assess impact, escalate, post updates, mitigate,
resolve), blameless post-mortems, and the ops report page. Every change goes through
operations.services.incidents, so the admin writes the same audit events as the webhook and
`manage.py incident`.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import ngettext

from operations.models import Incident, IncidentUpdate, PostMortem, PostMortemActionItem
from operations.services import incidents as services
from operations.services.incidents import IncidentError
from operations.services.reports import PERIODS, ops_report_build, ops_report_context, ops_report_csv

BUTTONS = {
    "_acknowledge": ("acknowledged", services.incident_acknowledge),
    "_mitigate": ("marked mitigated", services.incident_mitigate),
    "_resolve": ("resolved", services.incident_resolve),
}


class IncidentForm(forms.ModelForm):
    new_update = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Post an update",
        help_text="What is known, what is being done, when the next update comes.",
    )
    new_update_public = forms.BooleanField(
        required=False, label="Public update", help_text="Also show this update on the public status page."
    )

    class Meta:
        model = Incident
        fields = ["title", "severity", "component", "description", "public", "impact", "escalated_to"]


class IncidentUpdateInline(admin.TabularInline):
    model = IncidentUpdate
    fields = ("time", "author", "public", "message")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-time",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    form = IncidentForm
    change_form_template = "operations/admin_incident_change_form.html"
    change_list_template = "operations/admin_incident_change_list.html"
    list_display = ("id", "title", "severity", "status", "component", "public", "started_at", "acknowledged_at")
    list_filter = ("status", "severity", "component", "public", "source")
    search_fields = ("title", "alert_name", "alert_fingerprint")
    date_hierarchy = "started_at"
    inlines = [IncidentUpdateInline]
    actions = ["acknowledge_selected", "resolve_selected"]
    # What people decide is editable; what happened (times, who, the alert) is not.
    HISTORY_FIELDS = (
        "status",
        "source",
        "alert_name",
        "alert_fingerprint",
        "alert_labels",
        "runbook_url",
        "started_at",
        "last_alert_at",
        "acknowledged_at",
        "acknowledged_by",
        "escalated_at",
        "mitigated_at",
        "resolved_at",
        "resolved_by",
    )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # Once opened, title and classification come from the alert or the opener.
        return (*self.HISTORY_FIELDS, "title", "severity", "component", "description")

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["title", "severity", "component", "description", "public"]})]
        return [
            (None, {"fields": ["title", "status", "severity", "component", "public", "description", "runbook_url"]}),
            ("Triage", {"fields": ["impact", "escalated_to", "new_update", "new_update_public"]}),
            (
                "Timeline",
                {
                    "fields": [
                        "started_at",
                        ("acknowledged_at", "acknowledged_by"),
                        "escalated_at",
                        "mitigated_at",
                        ("resolved_at", "resolved_by"),
                        "last_alert_at",
                    ]
                },
            ),
            (
                "Alert",
                {"fields": ["source", "alert_name", "alert_fingerprint", "alert_labels"], "classes": ["collapse"]},
            ),
        ]

    def has_delete_permission(self, request, obj=None):
        return False  # incidents are history: they are resolved, never deleted

    def save_model(self, request, obj, form, change):
        if not change:
            incident = services.incident_open(
                title=obj.title,
                severity=obj.severity,
                component=obj.component,
                description=obj.description,
                public=obj.public,
                acting_user=request.user,
                request=request,
            )
            obj.pk = incident.pk
            obj._state.adding = False
            return
        self._apply_changes(request, obj, form)

    def _apply_changes(self, request, obj, form):
        changed = set(form.changed_data)
        steps = []
        if "impact" in changed:
            steps.append(lambda: services.incident_assess_impact(incident=obj, impact=obj.impact, **self._who(request)))
        if "escalated_to" in changed and obj.escalated_to.strip():
            steps.append(
                lambda: services.incident_escalate(incident=obj, escalated_to=obj.escalated_to, **self._who(request))
            )
        if "public" in changed:
            steps.append(lambda: services.incident_set_public(incident=obj, public=obj.public, **self._who(request)))
        if form.cleaned_data.get("new_update", "").strip():
            steps.append(
                lambda: services.incident_post_update(
                    incident=obj,
                    message=form.cleaned_data["new_update"],
                    public=form.cleaned_data["new_update_public"],
                    **self._who(request),
                )
            )
        for button, (_done, service) in BUTTONS.items():
            if button in request.POST:
                steps.append(lambda service=service: service(incident=obj, **self._who(request)))
        request._incident_errors = []
        for step in steps:
            try:
                step()
            except IncidentError as exc:
                request._incident_errors.append(str(exc))

    @staticmethod
    def _who(request) -> dict:
        return {"acting_user": request.user, "request": request}

    def response_change(self, request, obj):
        errors = getattr(request, "_incident_errors", [])
        if errors:
            for error in errors:
                self.message_user(request, error, messages.ERROR)
            return HttpResponseRedirect(request.path)
        for button, (done, _service) in BUTTONS.items():
            if button in request.POST:
                self.message_user(request, f"Incident #{obj.pk} {done}.", messages.SUCCESS)
                return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    @admin.action(description="Acknowledge selected incidents", permissions=["change"])
    def acknowledge_selected(self, request, queryset):
        self._bulk(request, queryset, services.incident_acknowledge, "acknowledged")

    @admin.action(description="Resolve selected incidents", permissions=["change"])
    def resolve_selected(self, request, queryset):
        self._bulk(request, queryset, services.incident_resolve, "resolved")

    def _bulk(self, request, queryset, service, done):
        count = 0
        for incident in queryset:
            try:
                service(incident=incident, **self._who(request))
                count += 1
            except IncidentError as exc:
                self.message_user(request, str(exc), messages.ERROR)
        if count:
            self.message_user(
                request,
                ngettext("%(count)d incident %(done)s.", "%(count)d incidents %(done)s.", count)
                % {"count": count, "done": done},
                messages.SUCCESS,
            )

    # --- the ops report page --------------------------------------------------------------

    def get_urls(self):
        report = path("report/", self.admin_site.admin_view(self.report_view), name="operations_incident_report")
        return [report, *super().get_urls()]

    def report_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        period = request.GET.get("period", "daily")
        if period not in PERIODS:
            period = "daily"
        report = ops_report_build(period=period)
        if request.GET.get("format") == "csv":
            response = HttpResponse(ops_report_csv(report), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = (
                f'attachment; filename="docuid-ops-report-{period}-{report.until:%Y%m%d}.csv"'
            )
            return response
        context = {
            **self.admin_site.each_context(request),
            **ops_report_context(report),
            "title": f"Ops report ({period})",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "operations/admin_report.html", context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "report_url": reverse("admin:operations_incident_report")}
        return super().changelist_view(request, extra_context)


class ActionItemInline(admin.TabularInline):
    model = PostMortemActionItem
    fields = ("action", "owner", "due", "done")
    extra = 1


@admin.register(PostMortem)
class PostMortemAdmin(admin.ModelAdmin):
    list_display = ("incident", "created_at", "updated_at")
    list_select_related = ("incident",)
    search_fields = ("incident__title", "summary", "root_cause")
    autocomplete_fields = ()
    inlines = [ActionItemInline]
    fields = ("incident", "summary", "impact", "timeline", "root_cause", "what_went_well", "what_went_wrong")

    def get_readonly_fields(self, request, obj=None):
        return ("incident",) if obj is not None else ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "incident":
            kwargs["queryset"] = Incident.objects.filter(postmortem__isnull=True).order_by("-started_at")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.postmortem_save(postmortem=obj, acting_user=request.user, request=request)
