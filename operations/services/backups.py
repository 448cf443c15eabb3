"""Taking a full backup (database + every stored file + manifest), replicating it, and retention."""

import contextlib
import functools
import io
import logging
import secrets
import time
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from audit import record
from audit.actions import Action, Outcome
from operations import dbtools
from operations.archive import (
    DATABASE_MEMBER,
    FILES_PREFIX,
    MANIFEST_FORMAT,
    MANIFEST_MEMBER,
    ArchiveWriter,
    archive_name,
    manifest_bytes,
    manifest_name,
)
from operations.crypto import EncryptingWriter
from operations.errors import BackupError, OperationsError
from operations.models import Backup
from operations.services.common import (
    Progress,
    encryption_key,
    exclusive_lock,
    no_progress,
    resolve,
    unlink_quietly,
    work_dir,
)
from operations.storage import (
    PRIMARY,
    Background,
    HashingWriter,
    Tee,
    WritebackFile,
    backup_storage_aliases,
    commit_local,
    get_storage,
    is_local,
    local_partial_path,
    put_atomically,
    read_back_partial,
    remove_partials,
    sha256_of,
    walk_files,
)

logger = logging.getLogger("docuid.operations")


def _new_name(now: datetime) -> str:
    return f"docuid-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _fail_stale_runs() -> None:
    """Runs still marked running while we hold the lock died (killed, host lost): say so."""
    for stale in Backup.objects.filter(status=Backup.Status.RUNNING):
        stale.status = Backup.Status.FAILED
        stale.finished_at = stale.finished_at or timezone.now()
        stale.error = "interrupted: the process running this backup died before it finished"
        stale.save(update_fields=["status", "finished_at", "error"])
        logger.error("backup %s was interrupted before it finished", stale.name)
    for alias in backup_storage_aliases():
        try:
            removed = remove_partials(get_storage(alias))
        except OSError:
            continue  # an unreachable storage is reported by the backup itself
        if removed:
            logger.warning("removed %d partial archive(s) from storage %s", len(removed), alias)


def _replica_unreachable(alias: str, exc: OSError) -> BackupError:
    return BackupError(f"replica storage {alias!r} is unreachable: {exc}")


def _teed_replicas() -> list[str]:
    """Replicas written in the archive's own pass: local ones, when the primary is local too."""
    if not is_local(get_storage(PRIMARY)):
        return []
    return [alias for alias in backup_storage_aliases()[1:] if is_local(get_storage(alias))]


def _spool_path(base: str) -> Path:
    """Where the archive is written before its upload to a non-local primary (deleted by backup_run)."""
    return work_dir() / f"{archive_name(base)}.spool"


def _write_archive(
    *,
    base: str,
    dump_path,
    dump: dbtools.DumpJob,
    key: bytes,
    progress: Progress,
    teed: list[str],
    timings: dict,
    failures: dict[str, str],
) -> tuple:
    """Stream the archive into the primary storage under a temporary name; return (manifest, snapshot).

    The files are archived while the database dump runs; the dump goes in at the first
    file boundary after it has finished (or after the last file), the manifest last.
    """
    storage = get_storage(PRIMARY)
    name = archive_name(base)
    keys = walk_files(default_storage)  # listed after the dump's snapshot was taken, as before
    total = sum(default_storage.size(k) for k in keys)
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        progress("archive", done, total)

    target_path = local_partial_path(storage, name) if is_local(storage) else _spool_path(base)
    manifest = {
        "format": MANIFEST_FORMAT,
        "name": base,
        "created_at": timezone.now().isoformat(),
        "app_version": settings.DOCUID_VERSION,
        "files": [],
        "files_missing": [],
    }

    def add_database(writer: ArchiveWriter) -> dbtools.Snapshot:
        nonlocal total
        progress("database", 0, 0)
        waited = time.monotonic()
        try:
            snapshot = dump.wait()
            timings["dump_wait"] = time.monotonic() - waited
        except OperationsError as exc:
            raise BackupError(f"database dump failed: {exc}") from exc
        size = dump_path.stat().st_size
        total += size
        manifest.update(
            {
                "snapshot_at": snapshot.snapshot_at.isoformat(),
                "database": {"vendor": snapshot.vendor, "version": snapshot.server_version, "member": DATABASE_MEMBER},
                "migrations": snapshot.migrations,
                "row_counts": snapshot.row_counts,
                "audit_head": snapshot.audit_head,
                "newest_audit_event_at": snapshot.newest_audit_event_at,
            }
        )
        manifest["database"]["offset"] = writer.offset  # a restore starts on the dump before reading the rest
        with open(dump_path, "rb") as handle:
            manifest["database"]["sha256"] = writer.add_stream(DATABASE_MEMBER, handle, size, advance)
        manifest["database"]["size"] = size
        return snapshot

    snapshot = None
    timings["files_before_dump"] = 0
    with contextlib.ExitStack() as files:
        durable = files.enter_context(WritebackFile(files.enter_context(open(target_path, "wb"))))
        # Local replicas get their copy in the same pass, each under its temporary name: the disk writes
        # them while this process encrypts; _replicate reads each back and commits it only if it matches.
        # A replica that fails is recorded in `failures` and left behind: the archive is still kept
        # in the primary, and the replica gets its copy from there later (backup_replicas_retry).
        copies, handlers, written = [], [None], []
        for alias in teed:
            try:
                handle = files.enter_context(open(local_partial_path(get_storage(alias), name), "wb"))
            except OSError as exc:
                failures[alias] = str(_replica_unreachable(alias, exc))
                continue
            copies.append(files.enter_context(WritebackFile(handle)))
            handlers.append(functools.partial(_replica_failed, failures, alias))
            written.append(alias)
        sink = HashingWriter(Tee([durable, *copies], handlers) if copies else durable)
        writer = ArchiveWriter(sink, key, mtime=time.time())
        for file_key in keys:
            if snapshot is None and dump.ready():
                snapshot = add_database(writer)
            timings["files_before_dump"] += snapshot is None
            try:
                handle = default_storage.open(file_key, "rb")
                size = default_storage.size(file_key)
            except FileNotFoundError:
                # Deleted since the listing (its row is gone from the snapshot or soon will be).
                manifest["files_missing"].append(file_key)
                continue
            with handle:
                digest = writer.add_stream(FILES_PREFIX + file_key, handle, size, advance)
            manifest["files"].append({"key": file_key, "size": size, "sha256": digest})
        if snapshot is None:
            snapshot = add_database(writer)
        writer.add_bytes(MANIFEST_MEMBER, manifest_bytes(manifest))
        writer.close()
        _sync_all(durable, copies, written, failures)
    manifest["archive"] = {"sha256": sink.sha256.hexdigest(), "size": sink.bytes}
    if is_local(storage):
        commit_local(storage, name)
    else:
        with open(target_path, "rb") as spooled:
            put_atomically(storage, name, spooled)
    _write_sidecar(storage, base, manifest, key)
    return manifest, snapshot


def _replica_failed(failures: dict[str, str], alias: str, exc: OSError) -> None:
    failures.setdefault(alias, str(_replica_unreachable(alias, exc)))


def _sync_all(durable: WritebackFile, copies: list[WritebackFile], teed: list[str], failures: dict[str, str]) -> None:
    """fsync the archive and the replicas' copies at once; every sync is waited for (their files are closed
    next). The primary's error is raised; a replica's is recorded in `failures`."""
    syncing = [None if alias in failures else Background(copy.sync) for alias, copy in zip(teed, copies, strict=True)]
    error: BaseException | None = None
    try:
        durable.sync()
    except BaseException as exc:  # noqa: BLE001 — raised below, once every replica's sync has ended
        error = exc
    for alias, sync in zip(teed, syncing, strict=True):
        if sync is None:
            continue
        try:
            sync.join()
        except OSError as exc:
            _replica_failed(failures, alias, exc)
        except BaseException as exc:  # noqa: BLE001
            error = error or exc
    if error is not None:
        raise error


def _write_sidecar(storage, base: str, manifest: dict, key: bytes) -> None:
    buffer = io.BytesIO()
    writer = EncryptingWriter(buffer, key)
    writer.write(manifest_bytes(manifest))
    writer.close()
    buffer.seek(0)
    put_atomically(storage, manifest_name(base), buffer)


def _copy_to_replica(*, alias: str, base: str, sha256: str, size: int, teed: bool) -> None:
    """Copy archive and manifest from the primary to one replica and read the copy back; raise BackupError if
    the replica is unreachable or holds something else. Nothing is committed under the name unless it matches."""
    primary = get_storage(PRIMARY)
    replica = get_storage(alias)
    try:
        if teed:
            copied_sha, copied_size = read_back_partial(replica, archive_name(base))
            if (copied_sha, copied_size) == (sha256, size):
                commit_local(replica, archive_name(base))
                with primary.open(manifest_name(base), "rb") as source:
                    put_atomically(replica, manifest_name(base), source)
        else:
            for name in (archive_name(base), manifest_name(base)):
                with primary.open(name, "rb") as source:
                    put_atomically(replica, name, source)
            copied_sha, copied_size = sha256_of(replica, archive_name(base))
    except OSError as exc:
        raise _replica_unreachable(alias, exc) from exc
    if (copied_sha, copied_size) != (sha256, size):
        if not teed:
            with contextlib.suppress(OSError):
                replica.delete(archive_name(base))
        raise BackupError(f"replica storage {alias!r} holds a different archive (checksum mismatch)")


def _replicate(
    *, base: str, sha256: str, size: int, progress: Progress, teed: list[str], failures: dict[str, str]
) -> list[str]:
    """Copy archive and manifest to every replica, then read each copy back and compare checksums.

    Replicas in `teed` already hold the archive under its temporary name (written in
    the archive's pass): it is read back from there and committed only if it matches.
    A replica that fails is recorded in `failures` (alias -> why), never raised.
    """
    locations = [PRIMARY]
    for alias in backup_storage_aliases()[1:]:
        if alias in failures:
            continue
        try:
            _copy_to_replica(alias=alias, base=base, sha256=sha256, size=size, teed=alias in teed)
        except BackupError as exc:
            failures[alias] = str(exc)
            continue
        locations.append(alias)
        progress(f"replica {alias}", size, size)
    return locations


def backup_run(*, trigger: str = Backup.Trigger.MANUAL, acting_user=None, progress: Progress | None = None) -> Backup:
    """Take a full backup; on any failure the record says failed, nothing is committed under its name, and
    BackupError is raised."""
    progress = progress or no_progress
    try:
        key = encryption_key()
    except OperationsError as exc:
        raise BackupError(str(exc)) from None
    with exclusive_lock("backup"):
        _fail_stale_runs()
        started = timezone.now()
        backup = Backup(name=_new_name(started), trigger=trigger, started_at=started)
        backup.full_clean()
        backup.save()
        clock = time.monotonic()
        dump_path = work_dir() / f"{backup.name}.dump"
        try:
            with contextlib.ExitStack() as dump:
                try:
                    job = dump.enter_context(dbtools.dump_started(dump_path))
                except (OperationsError, OSError) as exc:
                    raise BackupError(f"database dump failed: {exc}") from exc
                teed, timings, failures = _teed_replicas(), {}, {}
                try:
                    manifest, snapshot = _write_archive(
                        base=backup.name,
                        dump_path=dump_path,
                        dump=job,
                        key=key,
                        progress=progress,
                        teed=teed,
                        timings=timings,
                        failures=failures,
                    )
                except OSError as exc:
                    raise BackupError(
                        f"writing the archive to storage {PRIMARY!r} failed (unreachable?): {exc}"
                    ) from exc
            archived = time.monotonic() - clock
            archive = manifest["archive"]
            with transaction.atomic():
                backup.snapshot_at = snapshot.snapshot_at
                backup.size_bytes, backup.sha256 = archive["size"], archive["sha256"]
                backup.locations = [PRIMARY]
                backup.app_version = settings.DOCUID_VERSION
                backup.database_vendor = snapshot.vendor
                backup.file_count = len(manifest["files"])
                backup.save()
            backup.locations = _replicate(
                base=backup.name,
                sha256=archive["sha256"],
                size=archive["size"],
                progress=progress,
                teed=teed,
                failures=failures,
            )
            backup.replicas_pending = sorted(failures)
            backup.replica_error = "; ".join(failures[alias] for alias in sorted(failures))[:2000]
        except Exception as exc:
            _record_failure(backup, exc, acting_user=acting_user)
            if isinstance(exc, BackupError):
                raise
            raise BackupError(f"backup failed: {exc.__class__.__name__}: {exc}") from exc
        finally:
            unlink_quietly(dump_path)
            unlink_quietly(_spool_path(backup.name))
            for alias in backup_storage_aliases():
                with contextlib.suppress(OSError):
                    remove_partials(get_storage(alias))
        with transaction.atomic():
            backup.status = Backup.Status.SUCCEEDED
            backup.finished_at = started + timedelta(seconds=time.monotonic() - clock)
            backup.full_clean()
            backup.save()
            record(
                Action.OPS_BACKUP,
                outcome=Outcome.SUCCESS,
                actor=acting_user,
                target=backup,
                data={
                    "name": backup.name,
                    "trigger": backup.trigger,
                    "size_bytes": backup.size_bytes,
                    "sha256": backup.sha256,
                    "locations": backup.locations,
                    "replicas_pending": backup.replicas_pending,
                    "files": backup.file_count,
                    "duration_seconds": round(backup.duration_seconds, 3),
                },
            )
    logger.info(
        "backup %s succeeded: %d bytes in %s (%.1fs: archive with the database dump %.1fs, of which waiting "
        "for the dump %.1fs after %d files, replicas %.1fs)",
        backup.name,
        backup.size_bytes,
        ",".join(backup.locations),
        backup.duration_seconds,
        archived,
        timings["dump_wait"],
        timings["files_before_dump"],
        backup.duration_seconds - archived,
    )
    if backup.replicas_pending:
        # Kept, not discarded: the primary copy is whole and checked. Loud, because until the retry
        # copies it a site loss takes this backup with it.
        logger.error(
            "backup %s is kept in %s only (degraded): %s; backup_replicas_retry copies it when the replica is back",
            backup.name,
            ",".join(backup.locations),
            backup.replica_error,
        )
    return backup


def backup_replicas_retry(*, acting_user=None) -> list[Backup]:
    """Copy every kept backup that a replica still lacks to that replica (newest first); return those that
    are complete now. A replica still down stays pending, with the reason, for the next try."""
    completed = []
    with exclusive_lock("backup"):
        pending = Backup.objects.filter(status=Backup.Status.SUCCEEDED).exclude(replicas_pending=[])
        for backup in pending.order_by("-started_at"):
            copied, errors = [], {}
            for alias in backup.replicas_pending:
                if alias not in backup_storage_aliases():
                    continue  # no longer configured: nothing to copy to
                try:
                    _copy_to_replica(
                        alias=alias, base=backup.name, sha256=backup.sha256, size=backup.size_bytes, teed=False
                    )
                except (BackupError, OSError) as exc:
                    errors[alias] = str(exc)
                    continue
                copied.append(alias)
            with transaction.atomic():
                backup.locations = [*backup.locations, *(a for a in copied if a not in backup.locations)]
                backup.replicas_pending = sorted(errors)
                backup.replica_error = "; ".join(errors[alias] for alias in sorted(errors))[:2000]
                backup.save(update_fields=["locations", "replicas_pending", "replica_error"])
                if copied:
                    record(
                        Action.OPS_BACKUP_REPLICATED,
                        outcome=Outcome.SUCCESS,
                        actor=acting_user,
                        target=backup,
                        data={"name": backup.name, "replicas": copied, "still_pending": backup.replicas_pending},
                    )
            if copied:
                logger.info("backup %s copied to %s", backup.name, ",".join(copied))
            if errors:
                logger.error(
                    "backup %s still lacks a copy in %s: %s", backup.name, ",".join(errors), backup.replica_error
                )
            else:
                completed.append(backup)
    return completed


def _record_failure(backup: Backup, exc: BaseException, *, acting_user) -> None:
    message = str(exc) or exc.__class__.__name__
    with transaction.atomic():
        backup.status = Backup.Status.FAILED
        backup.finished_at = timezone.now()
        backup.error = message[:2000]
        backup.save(update_fields=["status", "finished_at", "error"])
        record(
            Action.OPS_BACKUP_FAILED,
            outcome=Outcome.ERROR,
            actor=acting_user,
            target=backup,
            data={"name": backup.name, "trigger": backup.trigger, "error": message[:500]},
        )
    logger.error("backup %s failed: %s", backup.name, message)


# --- Retention ---------------------------------------------------------------------------


def retention_keep(backups: list[Backup]) -> set[int]:
    """The last DOCUID_BACKUP_KEEP_LAST backups, plus grandfather-father-son: the newest backup of each of the
    last N days, W ISO weeks, M months; plus every pinned backup.

    `backups` are succeeded backups, newest first. The newest backup and the newest
    verified backup are always kept, whatever the counts.
    """
    keep: set[int] = {backup.pk for backup in backups[: max(0, settings.DOCUID_BACKUP_KEEP_LAST)]}
    keep |= {backup.pk for backup in backups if backup.pinned}
    rules = (
        (settings.DOCUID_BACKUP_KEEP_DAILY, lambda b: b.started_at.date()),
        (settings.DOCUID_BACKUP_KEEP_WEEKLY, lambda b: tuple(b.started_at.isocalendar())[:2]),
        (settings.DOCUID_BACKUP_KEEP_MONTHLY, lambda b: (b.started_at.year, b.started_at.month)),
    )
    for count, period in rules:
        seen: list = []
        for backup in backups:
            bucket = period(backup)
            if bucket in seen:
                continue
            if len(seen) >= count:
                break
            seen.append(bucket)
            keep.add(backup.pk)
    if backups:
        keep.add(backups[0].pk)
    verified = [b for b in backups if b.verify_status == Backup.VerifyStatus.OK]
    if verified:
        keep.add(max(verified, key=lambda b: b.verified_at or b.started_at).pk)
    return keep


def _delete_everywhere(backup: Backup) -> None:
    for alias in set(backup.locations or []) | {PRIMARY}:
        if alias not in backup_storage_aliases():
            continue
        storage = get_storage(alias)
        for name in (archive_name(backup.name), manifest_name(backup.name)):
            if storage.exists(name):
                storage.delete(name)


def backup_pin(*, backup, pinned: bool = True, acting_user=None) -> Backup:
    """Pin a backup (retention never prunes it) or unpin it (retention's rules apply again)."""
    ref = resolve(backup)
    if ref.backup is None:
        raise OperationsError(f"{ref.base} has no record in this database: only a recorded backup can be pinned")
    with transaction.atomic():
        target = Backup.objects.select_for_update().get(pk=ref.backup.pk)
        if target.status != Backup.Status.SUCCEEDED:
            raise OperationsError(f"backup {target.name} is {target.get_status_display().lower()}: nothing to keep")
        if target.pinned != pinned:
            target.pinned = pinned
            target.save(update_fields=["pinned"])
            record(
                Action.OPS_BACKUP_PINNED,
                outcome=Outcome.SUCCESS,
                actor=acting_user,
                target=target,
                data={"name": target.name, "pinned": pinned},
            )
            logger.info("backup %s %s", target.name, "pinned" if pinned else "unpinned")
    return target


def backup_retention_apply() -> list[Backup]:
    """Prune succeeded backups outside the retention windows (every storage) and leftovers of failed ones."""
    succeeded = list(Backup.objects.filter(status=Backup.Status.SUCCEEDED).order_by("-started_at"))
    keep = retention_keep(succeeded)
    pruned = []
    for backup in succeeded:
        if backup.pk in keep:
            continue
        _delete_everywhere(backup)
        with transaction.atomic():
            backup.status = Backup.Status.PRUNED
            backup.save(update_fields=["status"])
        pruned.append(backup)
        logger.info("retention pruned backup %s", backup.name)
    if succeeded:
        newest = succeeded[0].started_at
        for failed in Backup.objects.filter(status=Backup.Status.FAILED, started_at__lt=newest).exclude(locations=[]):
            _delete_everywhere(failed)
            failed.locations = []
            failed.save(update_fields=["locations"])
    return pruned
