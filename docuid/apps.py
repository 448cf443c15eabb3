from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class DocuIDConfig(AppConfig):
    """The project package: templates, commands, health and metrics."""

    name = "docuid"
    verbose_name = "DocuID"

    def ready(self) -> None:
        from docuid import checks  # noqa: F401 — registers the deploy checks


class DocuIDAdminConfig(admin_apps.AdminConfig):
    """The admin, served by DocuIDAdminSite: only OTP-verified staff get in."""

    default = False
    default_site = "docuid.admin.DocuIDAdminSite"
