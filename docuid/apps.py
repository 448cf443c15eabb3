from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class DocuIDConfig(AppConfig):
    """The project package: templates, commands, health and metrics."""

    # The other AppConfig classes here (and those imported below) would otherwise leave Django unsure which
    # is the package's own, and it would fall back to a bare AppConfig whose ready() registers no checks.
    default = True
    name = "docuid"
    verbose_name = "DocuID"

    def ready(self) -> None:
        from docuid import checks  # noqa: F401 — registers the deploy checks


class DocuIDAdminConfig(admin_apps.AdminConfig):
    """The admin, served by DocuIDAdminSite: only OTP-verified staff get in."""

    default = False
    default_site = "docuid.admin.DocuIDAdminSite"


# The admin index heads each app's models with its verbose_name: django-otp's plugins have none, so
# staff saw "OTP_STATIC" and "OTP_TOTP". Same apps and labels (models, migrations unchanged), plain names.
from axes.apps import AppConfig as _AxesConfig  # noqa: E402
from django_otp.plugins.otp_static.apps import DefaultConfig as _OTPStaticConfig  # noqa: E402
from django_otp.plugins.otp_totp.apps import DefaultConfig as _OTPTOTPConfig  # noqa: E402
from django_otp_webauthn.apps import OtpWebauthnConfig as _OTPWebAuthnConfig  # noqa: E402


class BackupCodesConfig(_OTPStaticConfig):
    default = False
    verbose_name = "Backup codes"


class AuthenticatorAppsConfig(_OTPTOTPConfig):
    default = False
    verbose_name = "Authenticator apps"


class PasskeysConfig(_OTPWebAuthnConfig):
    default = False
    verbose_name = "Passkeys"


class AdminLockoutsConfig(_AxesConfig):
    default = False
    verbose_name = "Admin sign-in lockouts"
