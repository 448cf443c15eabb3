"""The audit trail in the support console: read-only, searchable, no way to change it."""

import json

from django.contrib import admin
from django.utils.html import format_html

from audit.models import AuditEvent
from docuid.admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("time", "action", "outcome", "actor_repr", "target_type", "target_repr", "request_id")
    list_filter = ("action", "outcome", "time")
    search_fields = ("actor_repr", "target_repr", "=request_id")
    date_hierarchy = "time"
    ordering = ("-id",)
    list_select_related = False
    show_full_result_count = False  # COUNT(*) over millions of rows on every page is not worth it
    fields = (
        "time",
        "action",
        "outcome",
        "actor",
        "actor_repr",
        "target_type",
        "target_id",
        "target_repr",
        "request_id",
        "masked_ip",
        "user_agent",
        "pretty_data",
        "prev_hash",
        "hash",
        "txid",
    )
    readonly_fields = fields
    actions = None

    @admin.display(description="data")
    def pretty_data(self, event: AuditEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.data, indent=2, sort_keys=True, ensure_ascii=False))
