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
