from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from audit.actions import Action
from audit.models import AuditEvent
from operations import dbtools
from operations.models import Backup, RecoveryDrill
from operations.services import backup_run, backup_verify, recovery_drill_run
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def recent_backup(stored_files):
    """A backup taken and verified just before the drill: a failure now would lose a few seconds."""
    backup = backup_run()
    assert backup_verify(backup=backup).ok
    return Backup.objects.get(pk=backup.pk)


def _verified_backup(*, age: timedelta, **fields) -> Backup:
    snapshot = timezone.now() - age
    values = {
        "name": f"docuid-earlier-{int(age.total_seconds())}",
        "status": Backup.Status.SUCCEEDED,
        "started_at": snapshot,
        "snapshot_at": snapshot,
        "finished_at": snapshot + timedelta(seconds=10),
        "locations": ["backups"],
        "verify_status": Backup.VerifyStatus.OK,
        "verified_at": snapshot + timedelta(seconds=20),
    }
    return Backup.objects.create(**{**values, **fields})


def test_a_drill_records_the_achieved_rto_and_rpo_against_the_targets(recent_backup):
    UserFactory()

    drill = recovery_drill_run()

    assert drill.status == RecoveryDrill.Status.PASSED
    assert 0 < drill.rto_seconds < drill.rto_target_seconds
    assert 0 <= drill.rpo_seconds < drill.rpo_target_seconds
    assert drill.backup.verify_status == "ok"
    assert AuditEvent.objects.filter(action=Action.OPS_RECOVERY_DRILL, outcome="success").exists()


def test_a_drill_that_misses_its_rto_is_recorded_as_missed(stored_files, settings):
    settings.DOCUID_RTO_SECONDS = 0

    drill = recovery_drill_run()

    assert drill.status == RecoveryDrill.Status.MISSED
    assert not drill.passed


def test_a_drill_that_cannot_back_up_is_recorded_as_failed(backup_env, settings):
    settings.DOCUID_BACKUP_KEY = ""

    drill = recovery_drill_run()

    assert drill.status == RecoveryDrill.Status.FAILED
    assert "DOCUID_BACKUP_KEY" in drill.error


def test_the_drills_rpo_is_the_age_of_the_last_verified_backup_before_its_own(stored_files):
    """Nightly backups without WAL: a failure just before the drill loses two days, not the seconds
    since the drill's own backup."""
    earlier = _verified_backup(age=timedelta(days=2))

    drill = recovery_drill_run()

    assert drill.rpo_basis == RecoveryDrill.RpoBasis.BACKUP
    assert drill.restore_point_at == earlier.snapshot_at
    assert drill.rpo_seconds == pytest.approx(2 * 86400, abs=60)
    assert drill.backup_age_seconds < 60  # its own backup is fresh, and says nothing about the RPO
    assert drill.status == RecoveryDrill.Status.MISSED


def test_a_backup_that_failed_verification_is_no_restore_point(stored_files):
    _verified_backup(age=timedelta(days=3))
    _verified_backup(age=timedelta(minutes=1), verify_status=Backup.VerifyStatus.FAILED)

    drill = recovery_drill_run()

    assert drill.rpo_seconds == pytest.approx(3 * 86400, abs=60)


def test_a_drill_with_nothing_restorable_before_it_reports_no_rpo_and_misses(stored_files):
    drill = recovery_drill_run()

    assert drill.rpo_basis == RecoveryDrill.RpoBasis.NONE
    assert drill.rpo_seconds is None and drill.restore_point_at is None
    assert drill.status == RecoveryDrill.Status.MISSED


def test_with_wal_archiving_the_rpo_is_the_time_since_the_last_archived_segment(stored_files, monkeypatch):
    _verified_backup(age=timedelta(days=1))
    archived = timezone.now() - timedelta(seconds=40)
    monkeypatch.setattr(dbtools, "wal_last_archived_at", lambda: archived)

    drill = recovery_drill_run()

    assert drill.rpo_basis == RecoveryDrill.RpoBasis.WAL
    assert drill.restore_point_at == archived
    assert 40 <= drill.rpo_seconds < 60
    assert drill.status == RecoveryDrill.Status.PASSED


def test_the_drill_command_prints_rto_and_rpo_next_to_the_targets(recent_backup, capsys):
    call_command("recovery_drill")

    out = capsys.readouterr().out
    assert "RTO achieved" in out and "(target 7200s)" in out
    assert "RPO achieved" in out and "(target 300s" in out


def test_the_drill_command_fails_when_a_target_is_missed(stored_files, settings):
    settings.DOCUID_RPO_SECONDS = -1

    with pytest.raises(CommandError, match="missed a target"):
        call_command("recovery_drill")


def test_the_drill_command_says_what_the_restore_point_was(stored_files, capsys):
    _verified_backup(age=timedelta(hours=1))

    with pytest.raises(CommandError, match="missed a target"):
        call_command("recovery_drill")

    assert "Last verified backup before the drill's own" in capsys.readouterr().out


def test_a_fresh_install_exports_no_drill_yet_and_its_install_time(db, client):
    body = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()

    values = {
        sample.name: sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if not sample.labels
    }
    assert values["docuid_recovery_drill_last_timestamp_seconds"] == 0
    assert values["docuid_backup_replicas_pending"] == 0
    assert 0 < values["docuid_installed_timestamp_seconds"] <= timezone.now().timestamp()


def test_backup_and_drill_metrics_appear_on_metrics_from_the_database(recent_backup, client):
    drill = recovery_drill_run()

    body = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()

    def value(name):
        line = next(line for line in body.splitlines() if line.startswith(name + " "))
        return float(line.split()[1])

    assert value("docuid_backup_last_success_timestamp_seconds") == pytest.approx(drill.backup.finished_at.timestamp())
    assert value("docuid_backup_size_bytes") == drill.backup.size_bytes
    assert value("docuid_backup_verify_last_success_timestamp_seconds") > 0
    assert value("docuid_recovery_drill_rto_seconds") == pytest.approx(drill.rto_seconds)
    assert value("docuid_recovery_drill_rpo_seconds") == pytest.approx(drill.rpo_seconds)
    assert value("docuid_recovery_drill_passed") == 1
    assert value("docuid_recovery_drill_last_timestamp_seconds") == pytest.approx(drill.finished_at.timestamp())
