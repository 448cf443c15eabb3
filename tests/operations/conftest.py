"""Backup tests run against private storages, key and work directory under tmp_path."""

import sqlite3

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from operations.crypto import generate_key


def _fs(path) -> dict:
    return {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(path), "base_url": None},
    }


@pytest.fixture
def backup_env(settings, tmp_path):
    """A backup key, a primary backup storage, one replica ("dr"), media and work dirs, all private."""
    settings.DOCUID_BACKUP_KEY = generate_key()
    settings.DOCUID_BACKUP_OLD_KEYS = []
    settings.DOCUID_BACKUP_REPLICAS = ["dr"]
    settings.DOCUID_BACKUP_WORK_DIR = tmp_path / "work"
    settings.DOCUID_MAINTENANCE_FILE = tmp_path / "maintenance.json"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": _fs(tmp_path / "media"),
        "backups": _fs(tmp_path / "backups"),
        "backups_dr": _fs(tmp_path / "dr"),
    }
    return tmp_path


@pytest.fixture
def stored_files(backup_env):
    """Two files in the document storage, as another app would have stored them."""
    return {
        "2025/01/aaaa": default_storage.save("2025/01/aaaa", ContentFile(b"first file " * 1000)),
        "bbbb": default_storage.save("bbbb", ContentFile(b"second")),
    }


@pytest.fixture
def sqlite_project(transactional_db, backup_env):
    """Environment for a manage.py subprocess sharing this test's data: the test database copied to a file."""
    if connection.vendor != "sqlite":
        pytest.skip("subprocess tests copy the SQLite test database")
    path = backup_env / "db.sqlite3"
    target = sqlite3.connect(path)
    connection.ensure_connection()
    connection.connection.backup(target)
    target.close()
    from django.conf import settings

    return {
        "DATABASE_URL": f"sqlite:///{path}",
        "DOCUID_VAR_DIR": str(backup_env),
        "DOCUID_BACKUP_KEY": settings.DOCUID_BACKUP_KEY,
        "DOCUID_BACKUP_WORK_DIR": str(backup_env / "work"),
        "DOCUID_BACKUP_REPLICAS": "",
        "DEBUG": "1",
        "SECRET_KEY": "test-only",
        "DJANGO_SETTINGS_MODULE": "docuid.settings",
    }
