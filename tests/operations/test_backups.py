import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from audit.actions import Action
from audit.models import AuditEvent
from operations.archive import archive_name, manifest_name
from operations.crypto import generate_key
from operations.errors import BackupError
from operations.models import Backup
from operations.services import (
    backup_pin,
    backup_replicas_retry,
    backup_retention_apply,
    backup_run,
    backup_verify,
)
from operations.services.common import read_manifest
from operations.storage import sha256_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_backup_stores_an_encrypted_archive_and_manifest_in_the_primary_and_the_replica(stored_files):
    backup = backup_run()

    assert backup.status == Backup.Status.SUCCEEDED
    assert backup.locations == ["backups", "backups_dr"]
    for alias in backup.locations:
        storage = storages[alias]
        assert storage.size(archive_name(backup.name)) == backup.size_bytes
        with storage.open(archive_name(backup.name)) as handle:
            assert b"first file" not in handle.read()
        assert storage.exists(manifest_name(backup.name))


def test_the_manifest_lists_every_file_with_its_hash_and_every_table_with_its_row_count(stored_files):
    UserFactory.create_batch(3)
    backup = backup_run()

    manifest = read_manifest(backup.name)
    assert {f["key"] for f in manifest["files"]} == set(stored_files.values())
    assert all(len(f["sha256"]) == 64 for f in manifest["files"])
    assert manifest["row_counts"]["accounts_user"] == 3
    assert manifest["database"]["vendor"] == connection.vendor
    assert ["operations", "0001_initial"] in manifest["migrations"]
    assert manifest["archive"]["sha256"] == backup.sha256


def test_the_manifest_names_the_audit_chain_head(backup_env):
    UserFactory()
    from audit import record
    from audit.models import AuditBatch
    from tests.audit.conftest import seal_all

    record(Action.OPS_AUDIT_EXPORT, data={"count": 0})
    seal_all()  # the head is the newest sealed batch (audit migration 0005)
    newest = AuditBatch.objects.order_by("-seq").first()
    record(Action.OPS_AUDIT_EXPORT, data={"count": 1})  # not sealed yet: not in the head
    backup = backup_run()

    assert read_manifest(backup.name)["audit_head"] == newest.hash


def test_a_successful_backup_is_audited(backup_env):
    backup = backup_run()

    event = AuditEvent.objects.get(action=Action.OPS_BACKUP)
    assert event.target_id == str(backup.pk)
    assert event.data["sha256"] == backup.sha256


def test_a_backup_without_a_key_is_refused(backup_env, settings):
    settings.DOCUID_BACKUP_KEY = ""

    with pytest.raises(BackupError, match="DOCUID_BACKUP_KEY is not set"):
        backup_run()
    assert not Backup.objects.exists()


def test_an_unreachable_backup_storage_fails_loudly_and_is_recorded_and_audited(backup_env, settings):
    blocker = backup_env / "not-a-directory"
    blocker.write_text("a file where the storage directory should be")
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {**settings.STORAGES["backups"], "OPTIONS": {"location": str(blocker / "x")}},
    }

    with pytest.raises(BackupError, match="writing the archive to storage 'backups' failed"):
        backup_run()

    backup = Backup.objects.get()
    assert backup.status == Backup.Status.FAILED
    assert "Not a directory" in backup.error
    assert AuditEvent.objects.filter(action=Action.OPS_BACKUP_FAILED, target_id=str(backup.pk)).exists()


def _replica_down(backup_env, settings) -> dict:
    """Point the dr replica at a path under a file (unreachable); return its working configuration."""
    working = settings.STORAGES["backups_dr"]
    blocker = backup_env / "dr-file"
    blocker.write_text("x")
    settings.STORAGES = {
        **settings.STORAGES,
        "backups_dr": {**working, "OPTIONS": {"location": str(blocker / "dr")}},
    }
    return working


def test_an_unreachable_replica_keeps_the_local_backup_marked_degraded_and_says_so(backup_env, settings, caplog):
    _replica_down(backup_env, settings)

    backup = backup_run()

    backup.refresh_from_db()
    assert backup.status == Backup.Status.SUCCEEDED
    assert backup.locations == ["backups"] and backup.replicas_pending == ["backups_dr"]
    assert backup.degraded and "unreachable" in backup.replica_error
    assert storages["backups"].exists(archive_name(backup.name))
    assert any(r.levelname == "ERROR" and "degraded" in r.getMessage() for r in caplog.records)
    assert backup_verify(backup=backup).ok  # the kept copy is a real, restorable backup


def test_the_replica_retry_copies_a_kept_backup_once_the_replica_is_back(backup_env, settings):
    working = _replica_down(backup_env, settings)
    backup = backup_run()
    assert backup_replicas_retry() == []  # still down: stays pending
    assert Backup.objects.get(pk=backup.pk).replicas_pending == ["backups_dr"]

    settings.STORAGES = {**settings.STORAGES, "backups_dr": working}
    completed = backup_replicas_retry()

    backup.refresh_from_db()
    assert completed == [backup]
    assert backup.locations == ["backups", "backups_dr"] and backup.replicas_pending == []
    assert sha256_of(storages["backups_dr"], archive_name(backup.name)) == (backup.sha256, backup.size_bytes)
    assert AuditEvent.objects.filter(action=Action.OPS_BACKUP_REPLICATED, target_id=str(backup.pk)).exists()


def test_replica_retry_and_reverification_are_scheduled(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "operations.tasks.backup_replicas_retry_scheduled" in tasks
    assert "operations.tasks.backup_replicas_verify_scheduled" in tasks


def test_the_scheduled_replica_retry_runs_the_retry(backup_env, settings):
    from operations.tasks import backup_replicas_retry_scheduled

    working = _replica_down(backup_env, settings)
    backup = backup_run()
    settings.STORAGES = {**settings.STORAGES, "backups_dr": working}

    assert backup_replicas_retry_scheduled.delay().get() == {"completed": [backup.name]}


def _flip_a_byte(path: Path, offset: int = 200) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 1]))


def test_backup_verify_replica_reads_every_copy_back_and_queues_a_rotten_one_for_copying_again(stored_files):
    good, rotten = backup_run(), backup_run()
    _flip_a_byte(Path(storages["backups_dr"].path(archive_name(rotten.name))))

    with pytest.raises(CommandError, match="1 of 2 replica copies failed"):
        call_command("backup_verify", "--replica")

    good.refresh_from_db(), rotten.refresh_from_db()
    assert good.replica_checks["backups_dr"]["ok"] is True and good.locations == ["backups", "backups_dr"]
    assert rotten.replica_checks["backups_dr"]["ok"] is False
    assert rotten.locations == ["backups"] and rotten.replicas_pending == ["backups_dr"]
    assert AuditEvent.objects.filter(action=Action.OPS_BACKUP_VERIFIED, outcome="failure").count() == 1

    backup_replicas_retry()  # the next retry copies it again from the primary

    call_command("backup_verify", "--replica", "dr")
    rotten.refresh_from_db()
    assert rotten.replica_checks["backups_dr"]["ok"] is True and rotten.replicas_pending == []


def test_backup_verify_replica_names_an_unknown_replica(backup_env):
    with pytest.raises(CommandError, match="no backup replica named 'offsite'"):
        call_command("backup_verify", "--replica", "offsite")


def test_a_backup_verifies_and_the_result_is_recorded_and_audited(stored_files):
    UserFactory.create_batch(2)
    backup = backup_run()

    report = backup_verify(backup=backup)

    assert report.ok, report.problems
    assert report.files_checked == 2
    backup.refresh_from_db()
    assert backup.verify_status == Backup.VerifyStatus.OK
    assert AuditEvent.objects.filter(action=Action.OPS_BACKUP_VERIFIED, outcome="success").exists()


def test_a_corrupted_archive_fails_verification_with_a_clear_message(stored_files):
    backup = backup_run()
    path = storages["backups"].path(archive_name(backup.name))
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    Path(path).write_bytes(bytes(data))

    report = backup_verify(backup=backup)

    assert not report.ok
    assert "corrupt" in " ".join(report.problems)
    backup.refresh_from_db()
    assert backup.verify_status == Backup.VerifyStatus.FAILED


def test_a_wrong_key_fails_verification_naming_the_key(stored_files, settings):
    backup = backup_run()
    settings.DOCUID_BACKUP_KEY = generate_key()

    report = backup_verify(backup=backup)

    assert not report.ok
    assert "wrong key" in " ".join(report.problems)


def test_a_missing_replica_copy_fails_verification(stored_files):
    backup = backup_run()
    storages["backups_dr"].delete(archive_name(backup.name))

    report = backup_verify(backup=backup)

    assert not report.ok
    assert "storage 'backups_dr' is missing" in " ".join(report.problems)


def test_a_tampered_manifest_fails_verification(stored_files, settings):
    """An attacker who can write to the bucket but lacks the key cannot forge a matching manifest."""
    backup = backup_run()
    other = backup_run()
    storage = storages["backups"]
    with storage.open(manifest_name(other.name)) as handle:
        foreign = handle.read()
    storage.delete(manifest_name(backup.name))
    storage.save(manifest_name(backup.name), __import__("io").BytesIO(foreign))

    report = backup_verify(backup=backup)

    assert not report.ok


def test_verify_command_fails_with_the_problem_for_a_corrupt_backup(stored_files):
    backup = backup_run()
    path = storages["backups"].path(archive_name(backup.name))
    with open(path, "r+b") as handle:
        handle.truncate(handle.seek(0, 2) - 100)

    with pytest.raises(CommandError, match="FAILED verification"):
        call_command("backup_verify", str(backup.pk))


def test_backup_and_list_commands_print_their_results(stored_files, capsys):
    call_command("backup")
    call_command("backup_list")

    out = capsys.readouterr().out
    assert "succeeded" in out
    assert "backups,backups_dr" in out


def _succeeded(days_ago: int, *, verified: bool = False) -> Backup:
    started = timezone.now() - timedelta(days=days_ago)
    return Backup.objects.create(
        name=f"docuid-test-{days_ago}",
        status=Backup.Status.SUCCEEDED,
        started_at=started,
        finished_at=started + timedelta(minutes=1),
        locations=["backups"],
        verify_status=Backup.VerifyStatus.OK if verified else Backup.VerifyStatus.NEVER,
        verified_at=started + timedelta(minutes=2) if verified else None,
    )


def test_retention_never_deletes_the_only_verified_backup(backup_env, settings):
    settings.DOCUID_BACKUP_KEEP_DAILY, settings.DOCUID_BACKUP_KEEP_WEEKLY, settings.DOCUID_BACKUP_KEEP_MONTHLY = 1, 0, 0
    only_verified = _succeeded(40, verified=True)
    _succeeded(20)
    newest = _succeeded(0)

    pruned = backup_retention_apply()

    assert only_verified not in pruned
    assert newest not in pruned
    assert Backup.objects.get(pk=only_verified.pk).status == Backup.Status.SUCCEEDED


def test_retention_keeps_daily_weekly_and_monthly_backups_and_prunes_the_rest(backup_env, settings):
    settings.DOCUID_BACKUP_KEEP_DAILY, settings.DOCUID_BACKUP_KEEP_WEEKLY, settings.DOCUID_BACKUP_KEEP_MONTHLY = 3, 0, 0
    backups = [_succeeded(days) for days in range(6)]

    pruned = backup_retention_apply()

    assert {b.pk for b in pruned} == {b.pk for b in backups[3:]}


def _same_day(hours_ago: int) -> Backup:
    started = timezone.now().replace(hour=23, minute=0) - timedelta(days=1, hours=hours_ago)
    return Backup.objects.create(
        name=f"docuid-test-h{hours_ago}",
        status=Backup.Status.SUCCEEDED,
        started_at=started,
        finished_at=started + timedelta(minutes=1),
        locations=["backups"],
    )


def test_retention_keeps_the_last_n_backups_even_on_the_same_day(backup_env, settings):
    settings.DOCUID_BACKUP_KEEP_LAST = 3
    settings.DOCUID_BACKUP_KEEP_DAILY, settings.DOCUID_BACKUP_KEEP_WEEKLY, settings.DOCUID_BACKUP_KEEP_MONTHLY = 1, 0, 0
    for hours in (1, 2, 3, 4):  # e.g. the nightly one and manual ones before risky changes
        _same_day(hours)

    pruned = backup_retention_apply()

    assert [b.name for b in pruned] == ["docuid-test-h4"]


def test_a_pinned_backup_is_never_pruned(backup_env, settings):
    settings.DOCUID_BACKUP_KEEP_LAST = 1
    settings.DOCUID_BACKUP_KEEP_DAILY, settings.DOCUID_BACKUP_KEEP_WEEKLY, settings.DOCUID_BACKUP_KEEP_MONTHLY = 1, 0, 0
    kept = _succeeded(100)
    backup_pin(backup=kept.pk)
    _succeeded(50)
    _succeeded(0)

    pruned = backup_retention_apply()

    assert [b.name for b in pruned] == ["docuid-test-50"]
    assert Backup.objects.get(pk=kept.pk).status == Backup.Status.SUCCEEDED


def test_the_pin_command_pins_and_unpins_and_both_are_audited(backup_env, capsys):
    backup = _succeeded(3)

    call_command("backup", "pin", str(backup.pk))
    assert Backup.objects.get(pk=backup.pk).pinned
    call_command("backup", "unpin", backup.name)

    assert not Backup.objects.get(pk=backup.pk).pinned
    assert "pinned: retention never prunes it" in capsys.readouterr().out
    events = AuditEvent.objects.filter(action=Action.OPS_BACKUP_PINNED, target_id=str(backup.pk))
    assert [e.data["pinned"] for e in events.order_by("id")] == [True, False]


def test_a_failed_backup_cannot_be_pinned(backup_env):
    failed = Backup.objects.create(name="docuid-failed", status=Backup.Status.FAILED, started_at=timezone.now())

    with pytest.raises(CommandError, match="failed: nothing to keep"):
        call_command("backup", "pin", str(failed.pk))


def test_staff_pin_a_backup_from_the_admin(client):
    from tests.audit.test_admin import verified_client
    from tests.factories import StaffFactory

    backup = _succeeded(3)
    admin = verified_client(client, StaffFactory(is_superuser=True))

    response = admin.post(
        "/admin/operations/backup/", {"action": "pin_backups", "_selected_action": [backup.pk]}, follow=True
    )

    assert response.status_code == 200
    assert Backup.objects.get(pk=backup.pk).pinned


def test_staff_without_the_change_permission_cannot_pin(client):
    from django.contrib.auth.models import Permission

    from tests.audit.test_admin import verified_client
    from tests.factories import StaffFactory

    backup = _succeeded(3)
    viewer = StaffFactory()
    viewer.user_permissions.add(Permission.objects.get(codename="view_backup"))
    admin = verified_client(client, viewer)

    admin.post("/admin/operations/backup/", {"action": "pin_backups", "_selected_action": [backup.pk]})

    assert not Backup.objects.get(pk=backup.pk).pinned


def test_retention_deletes_pruned_archives_from_every_storage(stored_files, settings):
    settings.DOCUID_BACKUP_KEEP_LAST = 1
    settings.DOCUID_BACKUP_KEEP_DAILY, settings.DOCUID_BACKUP_KEEP_WEEKLY, settings.DOCUID_BACKUP_KEEP_MONTHLY = 1, 0, 0
    old = backup_run()
    Backup.objects.filter(pk=old.pk).update(started_at=timezone.now() - timedelta(days=3))
    backup_run()

    backup_retention_apply()

    for alias in ("backups", "backups_dr"):
        assert not storages[alias].exists(archive_name(old.name))
    assert Backup.objects.get(pk=old.pk).status == Backup.Status.PRUNED


def test_the_manifest_is_json_inside_the_archive_too(stored_files):
    backup = backup_run()
    from operations.archive import read_archive
    from operations.services.common import decryption_keys

    names = []
    with storages["backups"].open(archive_name(backup.name)) as handle:
        read_archive(
            handle,
            decryption_keys(),
            lambda m: names.append((m.name, m.stream.read() if m.name == "manifest.json" else None)),
        )
    # The files are archived while the database dump runs, which goes in when it has finished; the manifest last.
    members = [name for name, _ in names]
    assert sorted(members[:-1]) == sorted([*(f"files/{key}" for key in stored_files.values()), "database.dump"])
    assert members[-1] == "manifest.json"
    assert json.loads(names[-1][1])["name"] == backup.name
