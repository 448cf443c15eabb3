from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django_otp_webauthn.admin import WebAuthnCredentialAdmin
from django_otp_webauthn.models import WebAuthnCredential

from accounts import services
from accounts.forms import UserAddForm
from accounts.models import EnrollmentLink, FraudReport, LoginRequest, User, UserSession


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["name"]
    list_display = ["name", "masked_phone", "email", "is_active", "is_staff", "date_joined"]
    list_filter = ["is_active", "is_staff", "is_superuser"]
    search_fields = ["name", "phone_number", "email"]
    readonly_fields = ["date_joined", "last_login"]
    fieldsets = [
        (None, {"fields": ["phone_number", "name", "email", "address"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["date_joined", "last_login"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["phone_number", "name", "email", "address"]})]

    @admin.display(description="Phone")
    def masked_phone(self, user: User) -> str:
        return user.masked_phone

    add_form = UserAddForm
    actions = ["send_enrollment_link", "revoke_devices", "revoke_sessions", "unlock"]

    @admin.action(description="Send a new enrollment link (older links stop working)")
    def send_enrollment_link(self, request, queryset):
        for user in queryset:
            services.enrollment_link_create(user=user, acting_user=request.user, request=request)
        self.message_user(request, f"Enrollment links sent to {queryset.count()} people.", messages.SUCCESS)

    @admin.action(description="Lost phone: revoke all passkeys")
    def revoke_devices(self, request, queryset):
        count = sum(
            services.devices_revoke_all(user=user, acting_user=request.user, request=request) for user in queryset
        )
        self.message_user(request, f"{count} passkeys revoked.", messages.SUCCESS)

    @admin.action(description="Sign out of every session")
    def revoke_sessions(self, request, queryset):
        count = sum(
            services.user_sessions_revoke_all(
                user=user,
                acting_user=request.user,
                request=request,
                keep_session_key=request.session.session_key if user.pk == request.user.pk else "",
            )
            for user in queryset
        )
        self.message_user(request, f"{count} sessions signed out.", messages.SUCCESS)

    @admin.action(description="Unlock sign-in (lift denial lock and fraud block)")
    def unlock(self, request, queryset):
        for user in queryset:
            services.user_unlock(user=user, acting_user=request.user, request=request)
        self.message_user(request, f"{queryset.count()} people unlocked.", messages.SUCCESS)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LoginRequest)
class LoginRequestAdmin(ReadOnlyAdmin):
    list_display = ["short_id", "user", "masked_phone", "status", "failure_reason", "provider", "channel", "created_at"]
    list_filter = ["status", "provider", "channel", "failure_reason"]
    search_fields = ["phone_number", "user__name"]
    date_hierarchy = "created_at"
    exclude = ["phone_number", "claim_secret_hash", "approval_token_hash", "assertion_challenge", "match_code"]
    readonly_fields = ["masked_phone"]

    @admin.display(description="Request")
    def short_id(self, obj: LoginRequest) -> str:
        return str(obj.pk)[:8]

    @admin.display(description="Phone")
    def masked_phone(self, obj: LoginRequest) -> str:
        return obj.masked_phone


@admin.register(FraudReport)
class FraudReportAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "phone", "blocked_until", "reviewed"]
    list_filter = ["reviewed"]
    readonly_fields = ["login_request", "user", "phone", "created_at", "blocked_until"]
    fields = ["login_request", "user", "phone", "created_at", "blocked_until", "reviewed", "note"]

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="Phone")
    def phone(self, obj: FraudReport) -> str:
        return obj.login_request.masked_phone


@admin.register(EnrollmentLink)
class EnrollmentLinkAdmin(ReadOnlyAdmin):
    list_display = ["user", "created_by", "created_at", "expires_at", "used_at", "revoked_at"]
    exclude = ["token_hash"]


@admin.register(UserSession)
class UserSessionAdmin(ReadOnlyAdmin):
    list_display = ["user", "browser", "os", "ip_masked", "created_at", "last_seen_at"]
    exclude = ["session_key"]


admin.site.register(WebAuthnCredential, WebAuthnCredentialAdmin)
