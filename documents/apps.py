from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "documents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the signal that deletes a rendition's files with its version.
        from documents import renditions  # noqa: F401
