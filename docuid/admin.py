from django.contrib import admin
from django_otp.admin import OTPAdminSite

from docuid.admin_login import AdminLoginForm


class DocuIDAdminSite(OTPAdminSite):
    """Staff must have verified an OTP device (TOTP, backup code, or passkey) in this session.

    The sign-in form takes the phone number, password and authenticator code in one
    step and gives one answer for any mistake (docuid/admin_login.py).
    """

    site_header = "DocuID support"
    site_title = "DocuID support"
    index_title = "Support console"
    enable_nav_sidebar = False
    login_form = AdminLoginForm
    login_template = "admin/docuid_login.html"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that code writes (audit events, sign-in requests, backups, extraction, renditions):
    staff look, and may run the admin's actions, but never add, edit or delete a row by hand."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
