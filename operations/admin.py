"""Backups and recovery drills in the admin: read-only history (the commands and Celery write it)."""

from django.contrib import admin

from operations.models import Backup, RecoveryDrill


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Backup)
class BackupAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "status",
        "trigger",
        "started_at",
        "finished_at",
        "size_bytes",
        "verify_status",
        "verified_at",
    )
    list_filter = ("status", "verify_status", "trigger")
    search_fields = ("name", "sha256")
    date_hierarchy = "started_at"


@admin.register(RecoveryDrill)
class RecoveryDrillAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "status",
        "rto_seconds",
        "rto_target_seconds",
        "rpo_seconds",
        "rpo_target_seconds",
        "backup",
    )
    list_filter = ("status",)
    list_select_related = ("backup",)


# The incident console (incidents, post-mortems, ops report) registers itself on import.
from operations import admin_incidents  # noqa: E402, F401
