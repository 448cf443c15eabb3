from django.apps import AppConfig
from django.db.backends.signals import connection_created

from audit.dbfunctions import register_sqlite_functions


def _connection_created(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        register_sqlite_functions(connection)


class AuditConfig(AppConfig):
    verbose_name = "Audit trail"
    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The SQLite triggers of migration audit/0004 call docuid_audit_allow_truncate() on DELETE.
        connection_created.connect(_connection_created, dispatch_uid="audit.sqlite_functions")
