import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit import record
from audit.actions import Action
from audit.models import AuditEvent
from operations.errors import RestoreRefused
from operations.maintenance import maintenance_active
from operations.models import Backup
from operations.services import backup_restore, backup_run, restore_plan
from operations.services.common import read_manifest
from operations.storage import walk_files
from tests.factories import UserFactory, make_document

pytestmark = pytest.mark.django_db(transaction=True)


def _populate() -> None:
    """Users, a device, documents with versions, grants, shares and the audit events they write."""
    from django_otp.plugins.otp_static.models import StaticDevice

    from documents import services as documents

    owner, colleague = UserFactory(), UserFactory()
    StaticDevice.objects.create(user=owner, name="backup codes")
    document = make_document(owner, name="contract.pdf")
    make_document(owner, name="invoice.pdf")
    from django.core.files.base import ContentFile

    from documents import samples

    documents.document_version_add(
        acting_user=owner, document=document, file=ContentFile(samples.pdf_bytes("v2"), name="contract-v2.pdf")
    )
    documents.grant_add(acting_user=owner, document=document, user=colleague, notify=False)
    documents.share_create(acting_user=owner, document=document)
    record(Action.OPS_AUDIT_EXPORT, data={"count": 0})


def _file_hashes() -> dict[str, str]:
    hashes = {}
    for key in walk_files(default_storage):
        with default_storage.open(key) as handle:
            hashes[key] = hashlib.sha256(handle.read()).hexdigest()
    return hashes


def _counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        counts = {}
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT count(*) FROM "{table}"')
            counts[table] = cursor.fetchone()[0]
        return counts


def _wipe() -> None:
    """Lose everything: every table emptied, every stored file deleted."""
    call_command("flush", interactive=False, verbosity=0)
    for key in walk_files(default_storage):
        default_storage.delete(key)


def round_trip(capsys) -> None:
    _populate()
    files_before = _file_hashes()
    backup = backup_run()
    manifest = read_manifest(backup.name)
    _wipe()
    assert _counts()["accounts_user"] == 0

    backup_restore(plan=restore_plan(backup=backup.name))

    after = _counts()
    for table, count in manifest["row_counts"].items():
        if table.startswith("operations_"):
            continue  # backup history is merged, not rolled back (see restore._merge_history)
        expected = count + 1 if table == "audit_auditevent" else count  # + the ops.restore event
        assert after[table] == expected, table
    assert _file_hashes() == files_before
    assert len(files_before) >= 3
    call_command("audit_verify")
    assert "Audit chain OK" in capsys.readouterr().out
    assert AuditEvent.objects.filter(action=Action.OPS_RESTORE).count() == 1
    assert Backup.objects.get(name=backup.name).status == Backup.Status.SUCCEEDED
    assert not maintenance_active()


def test_round_trip_on_sqlite_restores_rows_files_and_an_intact_audit_chain(backup_env, capsys):
    if connection.vendor != "sqlite":
        pytest.skip("the PostgreSQL round trip is in test_postgres.py")
    round_trip(capsys)


def test_a_backup_from_a_newer_schema_is_refused_and_nothing_changes(backup_env):
    UserFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO django_migrations (app, name, applied) VALUES ('accounts', '9999_future', '2030-01-01')"
        )
    backup = backup_run()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE name = '9999_future'")
    UserFactory()

    plan = restore_plan(backup=backup)
    with pytest.raises(RestoreRefused, match="schema is newer"):
        backup_restore(plan=plan)

    assert _counts()["accounts_user"] == 2
    assert not maintenance_active()


def test_a_backup_from_another_app_version_is_refused_unless_forced(backup_env, settings):
    backup = backup_run()
    settings.DOCUID_VERSION = "9.9.9"

    with pytest.raises(RestoreRefused, match="made by DocuID"):
        backup_restore(plan=restore_plan(backup=backup))
    backup_restore(plan=restore_plan(backup=backup), force=True)

    assert AuditEvent.objects.get(action=Action.OPS_RESTORE).data["forced"] is True


def test_restore_without_yes_shows_the_plan_and_changes_nothing(backup_env, capsys):
    backup = backup_run()
    UserFactory.create_batch(2)

    with pytest.raises(CommandError, match="--yes"):
        call_command("restore", str(backup.pk))

    out = capsys.readouterr().out
    assert "accounts_user" in out and "REPLACE" in out
    assert _counts()["accounts_user"] == 2


def test_restore_command_with_yes_restores(backup_env, capsys):
    backup = backup_run()
    UserFactory.create_batch(2)

    call_command("restore", str(backup.pk), "--yes")

    assert _counts()["accounts_user"] == 0
    assert "Restored" in capsys.readouterr().out


def test_restore_by_archive_name_works_when_the_database_has_lost_the_record(backup_env):
    backup = backup_run()
    name = backup.name
    call_command("flush", interactive=False, verbosity=0)

    backup_restore(plan=restore_plan(backup=name))

    assert Backup.objects.filter(name=name).exists()


def test_a_corrupt_archive_leaves_the_database_untouched_and_the_site_in_maintenance(backup_env):
    from django.core.files.storage import storages

    from operations.archive import archive_name
    from operations.errors import RestoreError

    UserFactory()
    backup = backup_run()
    UserFactory()
    path = storages["backups"].path(archive_name(backup.name))
    data = bytearray(Path(path).read_bytes())
    data[-50] ^= 1
    Path(path).write_bytes(bytes(data))

    with pytest.raises(RestoreError, match="stays in maintenance mode"):
        backup_restore(plan=restore_plan(backup=backup))

    assert _counts()["accounts_user"] == 2
    assert maintenance_active()
    call_command("maintenance", "off")
    assert not maintenance_active()


def test_a_restore_that_fails_in_the_middle_of_a_file_leaves_no_partial_file_in_the_media_storage(backup_env):
    import os

    from django.conf import settings
    from django.core.files.base import ContentFile
    from django.core.files.storage import storages

    from operations.archive import archive_name
    from operations.crypto import DEFAULT_CHUNK, HEADER_BYTES, TAG_BYTES
    from operations.errors import RestoreError

    size = 6 * DEFAULT_CHUNK
    default_storage.save("scans/big", ContentFile(os.urandom(size)))
    backup = backup_run()
    default_storage.delete("scans/big")
    database = read_manifest(backup.name)["database"]
    # The only file is before or after the dump: corrupt a chunk in the middle of the file.
    middle = size // 2 + (database["size"] + 4096 if database["offset"] == 0 else 0)
    chunk = middle // DEFAULT_CHUNK
    path = Path(storages["backups"].path(archive_name(backup.name)))
    data = bytearray(path.read_bytes())
    data[HEADER_BYTES + chunk * (DEFAULT_CHUNK + TAG_BYTES) + 100] ^= 1
    path.write_bytes(bytes(data))

    with pytest.raises(RestoreError, match=f"corrupt at chunk {chunk}"):
        backup_restore(plan=restore_plan(backup=backup))

    media = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    assert not list(media.rglob("*.partial"))
    assert not default_storage.exists("scans/big")
    call_command("maintenance", "off")


def test_a_missing_file_error_while_streaming_is_not_reported_as_a_missing_archive(backup_env):
    from django.core.files.base import ContentFile

    from operations.services.common import resolve
    from operations.services.verify import stream_archive

    default_storage.save("a", ContentFile(b"bytes"))
    backup = backup_run()
    ref = resolve(backup.name)

    def on_file(key, stream, size):
        raise FileNotFoundError(2, "No such file or directory", "/media/a.partial")

    def stream():
        stream_archive(
            ref,
            location="backups",
            dump_path=None,
            on_file=on_file,
            progress=lambda *a: None,
            expected=read_manifest(backup.name),
        )

    with pytest.raises(FileNotFoundError, match=r"a\.partial"):
        stream()

    from django.core.files.storage import storages

    from operations.archive import archive_name
    from operations.errors import VerifyError

    storages["backups"].delete(archive_name(backup.name))
    with pytest.raises(VerifyError, match="is missing from storage 'backups'"):
        stream()


@pytest.mark.parametrize("name", ["backup", "restore", "backup_verify", "recovery_drill"])
def test_recovery_commands_do_not_wait_on_unrelated_system_checks(name):
    """As migrate: a check failing on a template or URL setting broken in an incident must not block a restore."""
    from django.core.management import load_command_class

    assert load_command_class("operations", name).requires_system_checks == []


# --- into a fresh, empty database (the site's database was lost) ----------------------------


def _manage_run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_restore_into_a_fresh_empty_sqlite_database_works_by_itself(sqlite_project):
    backup = _manage_run(sqlite_project, "backup")
    assert backup.returncode == 0, backup.stdout + backup.stderr
    name = next(p.name for p in (Path(sqlite_project["DOCUID_VAR_DIR"]) / "backups").glob("*.tar.aes"))
    base = name.removesuffix(".tar.aes")
    fresh = Path(sqlite_project["DOCUID_VAR_DIR"]) / "fresh.sqlite3"  # does not exist yet: a new, empty database
    env = {**sqlite_project, "DATABASE_URL": f"sqlite:///{fresh}"}

    restored = _manage_run(env, "restore", base, "--yes")

    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "Traceback" not in restored.stderr
    with sqlite3.connect(fresh) as conn:
        assert conn.execute("SELECT status FROM operations_backup WHERE name = ?", (base,)).fetchone() == ("succeeded",)
        assert conn.execute("SELECT count(*) FROM django_migrations").fetchone()[0] > 0


def test_a_backup_id_on_an_empty_database_asks_for_the_archive_name(sqlite_project):
    fresh = Path(sqlite_project["DOCUID_VAR_DIR"]) / "fresh.sqlite3"

    result = _manage_run({**sqlite_project, "DATABASE_URL": f"sqlite:///{fresh}"}, "restore", "7")

    assert result.returncode == 1
    assert "no DocuID tables" in result.stderr and "archive name" in result.stderr
    assert "Traceback" not in result.stderr
