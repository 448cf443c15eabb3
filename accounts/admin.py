from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import ngettext
from django_otp_webauthn.admin import WebAuthnCredentialAdmin
from django_otp_webauthn.models import WebAuthnCredential

from accounts import services
from accounts.forms import UserAddForm
from accounts.models import EnrollmentLink, FraudReport, LoginRequest, User, UserSession
from audit import record
from audit.actions import Action, Outcome
from docuid.admin import ReadOnlyAdmin


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
    # Plain labelled multiple selects: the two-box widget's search icons carry ARIA a <span> may not have.
    filter_horizontal = ()

    @admin.display(description="Phone")
    def masked_phone(self, user: User) -> str:
        return user.masked_phone

    add_form = UserAddForm
    actions = ["send_enrollment_link", "revoke_devices", "revoke_sessions", "unlock"]

    def save_model(self, request, obj, form, change):
        # A changed phone number hands the account to whoever holds the new phone, and
        # is_staff / is_superuser / permissions hand out the admin: each change goes into
        # the append-only trail (field names only: values such as the number are PII),
        # inside the transaction the admin opens for the whole change.
        super().save_model(request, obj, form, change)
        fields = sorted(form.changed_data)
        if change and not fields:
            return
        if not change:
            action = Action.USER_CREATED
        elif "is_active" in fields and not obj.is_active:
            action = Action.USER_DEACTIVATED
        else:
            action = Action.USER_UPDATED
        record(
            action,
            outcome=Outcome.SUCCESS,
            actor=request.user,
            target=obj,
            request=request,
            data={"via": "admin", "fields": fields},
        )
        if change and "phone_number" in fields:
            services.user_phone_number_changed(user=obj, acting_user=request.user, request=request)
            self.message_user(
                request,
                "The number changed, so this person's passkeys, sessions and API tokens were revoked. "
                "Send an enrollment link to the new number to register the new phone.",
                messages.WARNING,
            )

    def user_change_password(self, request, id, form_url=""):
        # Staff accounts have admin passwords; setting one for somebody else is audited.
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            record(
                Action.USER_PASSWORD_CHANGED,
                outcome=Outcome.SUCCESS,
                actor=request.user,
                target=self.get_object(request, id),
                request=request,
                data={"via": "admin"},
            )
        return response

    @admin.action(description="Send a new enrollment link (older links stop working)")
    def send_enrollment_link(self, request, queryset):
        for user in queryset:
            services.enrollment_link_create(user=user, acting_user=request.user, request=request)
        count = queryset.count()
        self.message_user(
            request,
            ngettext("Enrollment link sent to %(count)d person.", "Enrollment links sent to %(count)d people.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description="Lost phone: revoke all passkeys")
    def revoke_devices(self, request, queryset):
        count = sum(
            services.devices_revoke_all(user=user, acting_user=request.user, request=request) for user in queryset
        )
        self.message_user(
            request,
            ngettext("%(count)d passkey revoked.", "%(count)d passkeys revoked.", count) % {"count": count},
            messages.SUCCESS,
        )

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
        self.message_user(
            request,
            ngettext("%(count)d session signed out.", "%(count)d sessions signed out.", count) % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description="Unlock sign-in (lift denial lock and fraud block)")
    def unlock(self, request, queryset):
        for user in queryset:
            services.user_unlock(user=user, acting_user=request.user, request=request)
        count = queryset.count()
        self.message_user(
            request,
            ngettext("%(count)d person unlocked.", "%(count)d people unlocked.", count) % {"count": count},
            messages.SUCCESS,
        )


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


# --- API clients and tokens (issue 5) ---------------------------------------------------------

from accounts.models import ApiClient, ApiToken  # noqa: E402
from accounts.services import api_tokens  # noqa: E402


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ["name", "key_prefix", "is_active", "created_at", "last_used_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "key_prefix"]
    readonly_fields = ["key_prefix", "created_at", "last_used_at"]
    fields = ["name", "key_prefix", "is_active", "allowed_origins", "created_at", "last_used_at"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            api_tokens.api_client_origins_changed()
            return
        client, key = api_tokens.api_client_create(name=obj.name, origins=obj.origins, acting_user=request.user)
        client.is_active = obj.is_active
        client.save(update_fields=["is_active"])
        obj.pk, obj.key_prefix = client.pk, client.key_prefix
        # Shown once: only its hash is kept.
        self.message_user(request, f"API key for {client.name} (copy it now, it is not shown again): {key}")

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        api_tokens.api_client_origins_changed()


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ["user", "client", "created_at", "access_expires_at", "last_used_at", "rotated_at", "revoked_at"]
    list_filter = ["client", "revoke_reason"]
    search_fields = ["user__name"]
    exclude = ["access_hash", "refresh_hash"]
    actions = ["revoke"]

    @admin.action(description="Revoke (sign these API clients out now)")
    def revoke(self, request, queryset):
        count = sum(
            api_tokens.api_token_revoke(token=token, acting_user=request.user, reason="staff", request=request)
            for token in queryset.select_related("user", "client")
        )
        self.message_user(request, f"{count} API tokens revoked.", messages.SUCCESS)
