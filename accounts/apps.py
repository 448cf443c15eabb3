from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The deploy checks and the Celery tasks register themselves on import.
        from accounts import checks, signals, tasks  # noqa: F401

        signals.connect()
