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
    drill = recovery_drill_run()

    assert drill.passed, drill.error
    assert drill.rto_seconds > 0
