"""SQL functions the audit trail's SQLite triggers call (migration audit/0004)."""

from pathlib import PurePath

from django.conf import settings


def truncate_allowed(connection) -> bool:
    """Whether DELETE may empty the audit tables: only a Django test database, only with the test-only setting.

    The test runner empties every table between transactional tests; PostgreSQL's
    equivalent is the session setting docuid.audit_allow_truncate (migration 0002).
    """
    if not getattr(settings, "DOCUID_AUDIT_ALLOW_TRUNCATE", False):
        return False
    name = str(connection.settings_dict["NAME"])
    return connection.is_in_memory_db() or PurePath(name).name.startswith("test_")


def register_sqlite_functions(connection) -> None:
    connection.connection.create_function(
        "docuid_audit_allow_truncate", 0, lambda: int(truncate_allowed(connection)), deterministic=False
    )
