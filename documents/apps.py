from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "documents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the signals that delete a rendition's files, and stamping templates, with their version.
        from documents import renditions, watermark  # noqa: F401
