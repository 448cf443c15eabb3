"""Restoring a backup over the live site: database and files, in maintenance mode."""

import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import default_storage
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.loader import MigrationLoader
from django.forms.models import model_to_dict

from audit import record
from audit.actions import Action, Outcome
from operations import dbtools
from operations.errors import OperationsError, RestoreError, RestoreRefused
from operations.maintenance import maintenance_off, maintenance_on
from operations.models import Backup, RecoveryDrill
from operations.services.common import (
    Progress,
    Ref,
    exclusive_lock,
    no_progress,
    operations_schema_present,
    read_manifest,
    resolve,
    unlink_quietly,
    work_dir,
)
from operations.services.verify import check_locations, prefetch_dump, stream_archive
from operations.storage import HashingReader, LocalFileWriter, is_local, put_atomically

logger = logging.getLogger("docuid.operations")


@dataclass
class RestorePlan:
    """What a restore would do, shown before anyone types --yes."""

    ref: Ref
    location: str
    manifest: dict
    current_counts: dict[str, int]
    refusals: list[str] = field(default_factory=list)
    pending_migrations: list[str] = field(default_factory=list)

    @property
    def table_changes(self) -> list[tuple[str, int | None, int | None]]:
        tables = sorted(set(self.current_counts) | set(self.manifest["row_counts"]))
        return [(t, self.current_counts.get(t), self.manifest["row_counts"].get(t)) for t in tables]


def _known_migrations() -> set[tuple[str, str]]:
    return set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)


def restore_plan(*, backup) -> RestorePlan:
    """Read the backup's manifest and compare it with this deployment; change nothing."""
    ref = resolve(backup)
    usable, problems = check_locations(ref)
    if not usable:
        raise RestoreError("; ".join(problems) or f"no storage holds {ref.base}")
    manifest = read_manifest(ref.base, location=usable[0])
    current = dbtools.facts_of(DEFAULT_DB_ALIAS)
    plan = RestorePlan(ref=ref, location=usable[0], manifest=manifest, current_counts=current.row_counts)
    vendor = manifest["database"]["vendor"]
    if vendor != dbtools.vendor():
        plan.refusals.append(f"the backup is a {vendor} database, this site runs on {dbtools.vendor()}")
    known = _known_migrations()
    newer = sorted(f"{app}.{name}" for app, name in manifest["migrations"] if (app, name) not in known)
    if newer:
        plan.refusals.append(
            f"the backup's schema is newer than this code ({len(newer)} unknown migration{'s' if len(newer) != 1 else ''}, "
            f"e.g. {newer[0]}); "
            "deploy the version that made it"
        )
    if manifest["app_version"] != settings.DOCUID_VERSION:
        plan.refusals.append(
            f"the backup was made by DocuID {manifest['app_version']}, this is {settings.DOCUID_VERSION}"
        )
    in_backup = {tuple(m) for m in manifest["migrations"]}
    plan.pending_migrations = sorted(f"{a}.{n}" for a, n in known - in_backup)
    return plan


def _restore_file(key: str, stream, size: int) -> tuple[str, int]:
    reader = HashingReader(stream)
    put_atomically(default_storage, key, reader)
    return reader.sha256.hexdigest(), reader.bytes


def _operations_history() -> tuple[list[dict], list[dict]]:
    """Backups and drills as they stand now: a restore must not forget backups newer than itself."""
    if not operations_schema_present():
        return [], []  # a fresh, empty database: nothing to remember
    backups = [model_to_dict(b) | {"id": b.pk} for b in Backup.objects.all()]
    drills = [
        model_to_dict(d, exclude=["backup"]) | {"backup_name": d.backup.name if d.backup else None}
        for d in RecoveryDrill.objects.select_related("backup")
    ]
    return backups, drills


def _mark_restored_backup(ref: Ref, manifest: dict) -> None:
    """The restored database was dumped while its own backup ran: that row reads "running". It finished."""
    Backup.objects.filter(name=ref.base, status=Backup.Status.RUNNING).update(
        status=Backup.Status.SUCCEEDED,
        finished_at=datetime.fromisoformat(manifest["created_at"]),
        snapshot_at=datetime.fromisoformat(manifest["snapshot_at"]),
        size_bytes=manifest["archive"]["size"],
        sha256=manifest["archive"]["sha256"],
        locations=ref.locations,
        app_version=manifest["app_version"],
        database_vendor=manifest["database"]["vendor"],
        file_count=len(manifest["files"]),
    )


def _merge_history(backups: list[dict], drills: list[dict]) -> None:
    for data in backups:
        fields = {k: v for k, v in data.items() if k not in {"id", "name"}}
        Backup.objects.update_or_create(name=data["name"], defaults=fields)
    by_name = {b.name: b for b in Backup.objects.all()}
    for data in drills:
        fields = {k: v for k, v in data.items() if k not in {"id", "backup_name", "started_at"}}
        fields["backup"] = by_name.get(data["backup_name"])
        RecoveryDrill.objects.update_or_create(started_at=data["started_at"], defaults=fields)


def backup_restore(*, plan: RestorePlan, force: bool = False, acting_user=None, progress: Progress | None = None):
    """Replace the database and files with the backup's; the site answers 503 meanwhile.

    Trap: on failure the site stays in maintenance mode on purpose (the data may be
    half-replaced); the error says how to finish or leave it.
    """
    progress = progress or no_progress
    if plan.refusals and not force:
        raise RestoreRefused("restore refused: " + "; ".join(plan.refusals) + " (--force overrides)")
    if plan.manifest["database"]["vendor"] != dbtools.vendor():
        raise RestoreRefused("restore refused: " + plan.refusals[0] + " (cannot be forced)")
    ref = plan.ref
    clock = time.monotonic()
    with exclusive_lock("backup"):
        history = _operations_history()
        maintenance_on(reason=f"restoring backup {ref.base}")
        dump_path = work_dir() / f"{ref.base}.restore.dump"
        try:
            # The database is restored in one transaction, started as soon as the dump has been read
            # (and matched its checksum) and committed only when the whole archive is authenticated,
            # every checksum matched and every file is on disk: a corrupt archive changes nothing in
            # the database. Files written until then are the backup's own (keys are random and never
            # reused, so no live file is altered).
            with contextlib.ExitStack() as stack:
                # Local media: files are written, fsynced and renamed by a thread while the next are decrypted.
                writer = stack.enter_context(LocalFileWriter(default_storage)) if is_local(default_storage) else None
                database = {}

                def start_database(path) -> None:
                    progress("database", 0, 0)
                    database["commit"] = stack.enter_context(dbtools.restore_started(path))

                # The dump first, from where the manifest says it is, so the database restores while the
                # files stream; the whole archive, the dump included, is still checked by stream_archive.
                # (SQLite restores nothing before commit: reading its dump ahead would only decrypt it twice.)
                prefetched = dbtools.vendor() == "postgresql" and prefetch_dump(
                    ref, location=plan.location, dump_path=dump_path, expected=plan.manifest
                )
                if prefetched:
                    start_database(dump_path)
                stream_archive(
                    ref,
                    location=plan.location,
                    dump_path=None if prefetched else dump_path,
                    on_file=writer.put if writer is not None else _restore_file,
                    on_database=start_database,
                    progress=progress,
                    expected=plan.manifest,
                )
                if writer is not None:
                    writer.finish()
                if "commit" not in database:  # stream_archive raises unless the dump matched
                    raise RestoreError(f"{ref.base}: the database dump was not restored")
                database["commit"]()
            ContentType.objects.clear_cache()
            with transaction.atomic():
                _mark_restored_backup(ref, plan.manifest)
                _merge_history(*history)
                record(
                    Action.OPS_RESTORE,
                    outcome=Outcome.SUCCESS,
                    actor=acting_user,
                    target_repr=ref.base,
                    data={
                        "name": ref.base,
                        "forced": bool(force and plan.refusals),
                        "refusals_overridden": plan.refusals if force else [],
                        "snapshot_at": plan.manifest["snapshot_at"],
                        "files": len(plan.manifest["files"]),
                        "seconds": round(time.monotonic() - clock, 3),
                    },
                )
        except (OperationsError, OSError) as exc:
            connections.close_all()
            logger.error("restore of %s failed; the site stays in maintenance mode: %s", ref.base, exc)
            raise RestoreError(
                f"restore of {ref.base} failed: {exc}. The site stays in maintenance mode: fix the cause and run "
                "the restore again (or restore another backup); `manage.py maintenance off` ends it."
            ) from exc
        finally:
            unlink_quietly(dump_path)
        maintenance_off()
    logger.info("backup %s restored in %.1fs", ref.base, time.monotonic() - clock)
    return time.monotonic() - clock
