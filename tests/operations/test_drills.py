import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.actions import Action
from audit.models import AuditEvent
from operations.models import RecoveryDrill
from operations.services import recovery_drill_run
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_drill_records_the_achieved_rto_and_rpo_against_the_targets(stored_files):
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


def test_the_drill_command_prints_rto_and_rpo_next_to_the_targets(stored_files, capsys):
    call_command("recovery_drill")

    out = capsys.readouterr().out
    assert "RTO achieved" in out and "(target 7200s)" in out
    assert "RPO achieved" in out and "(target 300s" in out


def test_the_drill_command_fails_when_a_target_is_missed(stored_files, settings):
    settings.DOCUID_RPO_SECONDS = -1

    with pytest.raises(CommandError, match="missed a target"):
        call_command("recovery_drill")


def test_backup_and_drill_metrics_appear_on_metrics_from_the_database(stored_files, client):
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
