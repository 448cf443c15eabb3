from django_otp.admin import OTPAdminSite


class DocuIDAdminSite(OTPAdminSite):
    """Staff must have verified an OTP device (TOTP, backup code, or passkey) in this session."""

    site_header = "DocuID support"
    site_title = "DocuID support"
    index_title = "Support console"
    enable_nav_sidebar = False
