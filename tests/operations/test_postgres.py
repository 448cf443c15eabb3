"""The same backup, verify and restore on PostgreSQL (pg_dump/psql; CI runs these)."""

import pytest
from django.db import connection

from operations.models import Backup
from operations.services import backup_run, backup_verify, recovery_drill_run
from tests.factories import UserFactory
from tests.operations.test_restore import round_trip

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_round_trip_on_postgresql_restores_rows_files_and_an_intact_audit_chain(postgres, stored_files, capsys):
    round_trip(capsys)


def test_a_failure_found_after_the_database_was_restored_rolls_the_restore_back(postgres, backup_env, monkeypatch):
    """The dump goes into an open transaction while the rest of the archive is still being checked:
    anything found wrong later must leave the database as it was."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from operations import dbtools
    from operations.errors import RestoreError
    from operations.services import backup_restore, restore_plan
    from operations.services import restore as restore_service

    UserFactory()
    backup = backup_run()
    UserFactory()
    started = []
    real_started, real_stream = dbtools.restore_started, restore_service.stream_archive

    def restore_started(path):
        started.append(path)
        return real_started(path)

    def stream_archive(*args, **kwargs):
        real_stream(*args, **kwargs)
        raise RestoreError("a late checksum mismatch (simulated)")

    monkeypatch.setattr(dbtools, "restore_started", restore_started)
    monkeypatch.setattr(restore_service, "stream_archive", stream_archive)
    with pytest.raises(RestoreError, match="stays in maintenance mode"):
        backup_restore(plan=restore_plan(backup=backup))

    assert started, "the database restore never began: this test would prove nothing"
    assert get_user_model().objects.count() == 2
    call_command("maintenance", "off")


def test_a_postgresql_backup_verifies_in_a_scratch_database_that_is_dropped_afterwards(postgres, stored_files):
    UserFactory.create_batch(3)
    backup = backup_run()

    report = backup_verify(backup=backup)

    assert report.ok, report.problems
    assert Backup.objects.get(pk=backup.pk).verify_status == Backup.VerifyStatus.OK
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'docuid_scratch_%%'")
        assert cursor.fetchone()[0] == 0


def test_a_postgresql_drill_reports_rto_and_rpo(postgres, stored_files):
    assert backup_verify(backup=backup_run()).ok  # the restore point a failure at the drill's start would have

    drill = recovery_drill_run()

    assert drill.passed, drill.error
    assert drill.rto_seconds > 0


def test_a_dump_with_large_objects_is_refused_before_the_database_is_touched(postgres, backup_env):
    """pg_restore commits large objects in transactions of its own: the one-transaction restore cannot hold them."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from operations.errors import RestoreError
    from operations.services import backup_restore, restore_plan

    UserFactory()
    with connection.cursor() as cursor:
        cursor.execute("SELECT lo_from_bytea(0, 'not DocuID data'::bytea)")
        oid = cursor.fetchone()[0]
        try:
            backup = backup_run()
        finally:
            cursor.execute("SELECT lo_unlink(%s)", [oid])
    UserFactory()

    try:
        with pytest.raises(RestoreError, match=r"large object.*DocuID never creates"):
            backup_restore(plan=restore_plan(backup=backup))
    finally:  # large objects outlive the test runner's flush: never leave one for the next test
        with connection.cursor() as cursor:
            cursor.execute("SELECT lo_unlink(oid) FROM pg_largeobject_metadata")

    assert get_user_model().objects.count() == 2
    call_command("maintenance", "off")


@pytest.fixture
def plain_dump(postgres, tmp_path):
    from operations import dbtools

    path = tmp_path / "db.dump"
    with dbtools.pg_dump_started(path) as job:
        job.wait()
    return path


def test_psql_that_cannot_connect_is_reported_rather_than_pg_restores_broken_pipe(plain_dump, monkeypatch):
    import socket

    from operations import dbtools
    from operations.errors import OperationsError

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, never listening: connections are refused
        real = dbtools.pg_env
        monkeypatch.setattr(dbtools, "pg_env", lambda sd, dbname=None: {**real(sd, dbname), "PGPORT": str(port)})

        failed = r"psql restore failed \(exit 2\).*refused"
        with pytest.raises(OperationsError, match=failed), dbtools.pg_restore_started(plain_dump) as commit:
            commit()
        settings_dict = connection.settings_dict
        with pytest.raises(OperationsError, match=failed):
            dbtools._psql_restore(plain_dump, settings_dict, settings_dict["NAME"], replace_schema=False)


def test_pg_restore_is_reaped_when_psql_cannot_start(plain_dump, monkeypatch):
    import errno
    import os
    import subprocess

    from operations import dbtools

    started = []

    class Popen(subprocess.Popen):
        def __init__(self, args, *rest, **kwargs):
            if os.path.basename(args[0]) == "psql" and "--version" not in args:
                raise OSError(errno.ENOENT, "psql vanished")
            super().__init__(args, *rest, **kwargs)
            started.append(self)

    monkeypatch.setattr(subprocess, "Popen", Popen)
    with pytest.raises(OSError, match="psql vanished"), dbtools.pg_restore_started(plain_dump):
        pass
    producers = [p for p in started if os.path.basename(p.args[0]) == "pg_restore" and "--file=-" in p.args]
    assert len(producers) == 1
    assert producers[0].returncode is not None  # killed and waited for: no orphan, no zombie


@pytest.mark.parametrize("code", [0, 1])
def test_pg_restore_warnings_beyond_a_pipes_buffer_do_not_block_a_scratch_restore(
    postgres, tmp_path, monkeypatch, code
):
    from operations import dbtools
    from operations.errors import OperationsError

    fake = tmp_path / "pg_restore"
    fake.write_text(f"#!/bin/sh\nhead -c 300000 /dev/zero | tr '\\0' w >&2\necho 'SELECT 1;'\nexit {code}\n")
    fake.chmod(0o755)
    real = dbtools.pg_tool
    monkeypatch.setattr(dbtools, "pg_tool", lambda name, sd=None: str(fake) if name == "pg_restore" else real(name, sd))
    monkeypatch.setattr(dbtools, "PG_TIMEOUT_SECONDS", 20)  # the old pipe deadlocked until this timeout
    settings_dict = connection.settings_dict

    if code:
        with pytest.raises(OperationsError, match=r"pg_restore failed \(exit 1\): w+$"):
            dbtools._psql_restore(tmp_path / "unused", settings_dict, settings_dict["NAME"], replace_schema=False)
    else:
        dbtools._psql_restore(tmp_path / "unused", settings_dict, settings_dict["NAME"], replace_schema=False)


def test_restore_into_a_fresh_empty_postgresql_database_works_by_itself(postgres, stored_files, backup_env, settings):
    """The site's database is lost: `createdb`, then `restore NAME --yes`, with no migrate in between."""
    import os
    import secrets
    import subprocess
    import sys
    from pathlib import Path

    from operations import dbtools

    UserFactory()
    backup = backup_run()
    db = connection.settings_dict
    fresh = f"docuid_fresh_{secrets.token_hex(4)}"
    with dbtools.pg_connect(db, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{fresh}"')
    try:
        env = {
            "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT'] or 5432}/{fresh}",
            "DOCUID_VAR_DIR": str(backup_env),
            "DOCUID_BACKUP_KEY": settings.DOCUID_BACKUP_KEY,
            "DOCUID_BACKUP_WORK_DIR": str(settings.DOCUID_BACKUP_WORK_DIR),
            "DOCUID_BACKUP_REPLICAS": "",
            "DEBUG": "1",
            "SECRET_KEY": "test-only",
            "DJANGO_SETTINGS_MODULE": "docuid.settings",
        }
        result = subprocess.run(
            [sys.executable, "manage.py", "restore", backup.name, "--yes"],
            cwd=Path(__file__).resolve().parents[2],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        with dbtools.pg_connect(db, dbname=fresh) as conn:
            status = conn.execute("SELECT status FROM operations_backup WHERE name = %s", [backup.name]).fetchone()
            users = conn.execute("SELECT count(*) FROM accounts_user").fetchone()[0]
        assert status == ("succeeded",) and users >= 1
    finally:
        with dbtools.pg_connect(db, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')
