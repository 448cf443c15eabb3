"""Backups and recovery drills in the admin: read-only history (the commands and Celery write it)."""

from django.contrib import admin, messages

from docuid.admin import ReadOnlyAdmin
from operations.errors import OperationsError
from operations.models import Backup, RecoveryDrill
from operations.services import backup_pin


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
        "pinned",
        "replicas_pending",
    )
    list_filter = ("status", "verify_status", "trigger", "pinned")
    search_fields = ("name", "sha256")
    date_hierarchy = "started_at"
    actions = ["pin_backups", "unpin_backups"]

    def has_pin_permission(self, request) -> bool:
        # The rows stay read-only; pinning is the one change staff make here, through the service.
        return request.user.has_perm("operations.change_backup")

    def _pin(self, request, queryset, *, pinned: bool) -> None:
        for backup in queryset:
            try:
                backup_pin(backup=backup, pinned=pinned, acting_user=request.user)
            except OperationsError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"{backup.name} {'pinned' if pinned else 'unpinned'}.", messages.SUCCESS)

    @admin.action(description="Pin: retention never prunes them", permissions=["pin"])
    def pin_backups(self, request, queryset):
        self._pin(request, queryset, pinned=True)

    @admin.action(description="Unpin: retention applies again", permissions=["pin"])
    def unpin_backups(self, request, queryset):
        self._pin(request, queryset, pinned=False)


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
