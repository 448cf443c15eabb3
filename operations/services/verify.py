"""Proving a backup restores: fetch, decrypt, check every checksum, restore into scratch, compare."""

import json
import logging
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from django.db import DatabaseError, transaction
from django.utils import timezone

from audit import record
from audit.actions import Action, Outcome
from audit.chain import GENESIS_HASH, compute_hash
from audit.models import AuditEvent
from audit.selectors import audit_chain_verify
from operations import dbtools
from operations.archive import (
    DATABASE_MEMBER,
    FILES_PREFIX,
    MANIFEST_MEMBER,
    Member,
    archive_name,
    read_archive,
    read_member_at,
)
from operations.crypto import CryptoError
from operations.errors import OperationsError, VerifyError
from operations.models import Backup
from operations.services.common import (
    Progress,
    Ref,
    decryption_keys,
    no_progress,
    read_manifest,
    resolve,
    unlink_quietly,
    work_dir,
)
from operations.storage import CHUNK, HashingReader, backup_storage_aliases, get_storage, is_local, sha256_of

logger = logging.getLogger("docuid.operations")

# (key, stream, size) -> (sha256, size) of what was consumed
FileSink = Callable[[str, BinaryIO, int], tuple[str, int]]


def hash_only(key: str, stream: BinaryIO, size: int) -> tuple[str, int]:
    return _extract(stream, None)


def _extract(stream: BinaryIO, path: Path | None) -> tuple[str, int]:
    """(SHA-256, size) of `stream`, read to its end and written to `path` if one is given."""
    reader = HashingReader(stream)
    if path is None:
        while reader.read(CHUNK):
            pass
    else:
        with open(path, "wb") as out:
            while data := reader.read(CHUNK):
                out.write(data)
    return reader.sha256.hexdigest(), reader.bytes


def check_locations(ref: Ref) -> tuple[list[str], list[str]]:
    """(usable locations, problems): every recorded copy must exist with the recorded size."""
    usable, problems = [], []
    name = archive_name(ref.base)
    for alias in ref.locations:
        if alias not in backup_storage_aliases():
            problems.append(f"storage {alias!r} holds a copy but is no longer configured (DOCUID_BACKUP_REPLICAS)")
            continue
        storage = get_storage(alias)
        try:
            if not storage.exists(name):
                problems.append(f"storage {alias!r} is missing {name}")
                continue
            size = storage.size(name)
        except OSError as exc:
            problems.append(f"storage {alias!r} is unreachable: {exc}")
            continue
        if ref.backup is not None and ref.backup.size_bytes is not None and size != ref.backup.size_bytes:
            problems.append(f"storage {alias!r} holds {name} with {size} bytes, expected {ref.backup.size_bytes}")
            continue
        usable.append(alias)
    return usable, problems


def stream_archive(
    ref: Ref,
    *,
    location: str,
    dump_path: Path | None,
    on_file: FileSink,
    progress: Progress,
    expected: dict,
    on_database: Callable[[Path], None] | None = None,
) -> dict:
    """Decrypt the archive once: dump to `dump_path` (None: hash only), each file to `on_file`; check all
    against `expected`.

    `on_database(dump_path)` is called as soon as the dump is written and matches the
    expected manifest's checksum and size, while the rest of the archive is still to
    be read (so a restore can start on it; it must not commit before this returns).
    Returns the manifest found inside the archive; raises VerifyError on any mismatch.
    """
    storage = get_storage(location)
    name = archive_name(ref.base)
    total = expected.get("archive", {}).get("size") or storage.size(name)
    seen_files: dict[str, tuple[str, int]] = {}
    found: dict = {}
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        progress("read", done, total)

    def handle(member: Member) -> None:
        if member.name == DATABASE_MEMBER:
            # No dump_path: already extracted (prefetch_dump), checked here all the same.
            found["database"] = _extract(member.stream, dump_path)
            db = expected.get("database", {})
            if (
                on_database is not None
                and dump_path is not None
                and found["database"] == (db.get("sha256"), db.get("size"))
            ):
                on_database(dump_path)
        elif member.name.startswith(FILES_PREFIX):
            key = member.name.removeprefix(FILES_PREFIX)
            seen_files[key] = on_file(key, member.stream, member.size)
        elif member.name == MANIFEST_MEMBER:
            found["manifest"] = json.loads(member.stream.read())
        else:
            raise VerifyError(f"{name} holds an unexpected member {member.name!r}")

    try:
        raw = storage.open(name, "rb")
    except FileNotFoundError:  # the archive itself; any other file's error is reported as it is
        raise VerifyError(f"{name} is missing from storage {location!r}") from None
    try:
        with raw:
            source = HashingReader(raw, advance)
            read_archive(source, decryption_keys(), handle)
    except CryptoError as exc:
        raise VerifyError(f"{name}: {exc}") from None
    except tarfile.TarError as exc:
        raise VerifyError(f"{name}: the decrypted archive is not a valid tar stream ({exc})") from None

    problems = []
    archive = expected.get("archive", {})
    if archive and (source.sha256.hexdigest(), source.bytes) != (archive["sha256"], archive["size"]):
        problems.append("the archive's SHA-256 differs from the one recorded when it was written")
    manifest = found.get("manifest")
    if manifest is None:
        raise VerifyError(f"{name} has no manifest (incomplete archive)")
    if {k: v for k, v in manifest.items() if k != "archive"} != {k: v for k, v in expected.items() if k != "archive"}:
        problems.append("the manifest inside the archive differs from the manifest stored beside it")
    db = manifest["database"]
    if found.get("database") != (db.get("sha256"), db.get("size")):
        problems.append("the database dump's SHA-256 or size differs from the manifest")
    listed = {entry["key"]: (entry["sha256"], entry["size"]) for entry in manifest["files"]}
    for key, value in listed.items():
        if key not in seen_files:
            problems.append(f"file {key} is listed in the manifest but missing from the archive")
        elif seen_files[key] != value:
            problems.append(f"file {key} differs from its manifest checksum")
    problems.extend(f"file {key} is in the archive but not in the manifest" for key in seen_files.keys() - listed)
    if problems:
        raise VerifyError(
            "; ".join(problems[:10]) + (f" (and {len(problems) - 10} more)" if len(problems) > 10 else "")
        )
    return manifest


def prefetch_dump(ref: Ref, *, location: str, dump_path: Path, expected: dict) -> bool:
    """Extract only the database dump, from where the manifest says it starts; True if it matches the manifest.

    Lets a restore start on the database while stream_archive reads (and checks) the
    whole archive, files included. False, without error, for archives whose manifest
    does not record the offset (older backups) or on any mismatch: the caller then
    takes the dump from stream_archive.
    """
    db = expected.get("database", {})
    storage = get_storage(location)
    if db.get("offset") is None or not is_local(storage):  # an object store would download the archive twice
        return False
    found = {}

    def handle(member: Member) -> None:
        found["database"] = _extract(member.stream, dump_path)

    try:
        with storage.open(archive_name(ref.base), "rb") as raw:
            read_member_at(raw, decryption_keys(), db["offset"], DATABASE_MEMBER, handle)
    except (CryptoError, tarfile.TarError, ValueError, OSError) as exc:
        logger.warning("%s: could not read the database dump ahead (%s); reading it in sequence", ref.base, exc)
        return False
    return found.get("database") == (db.get("sha256"), db.get("size"))


def _chain_head(alias: str, tables: dict) -> tuple[bool, str, int]:
    """Verify the scratch copy's audit trail: (intact, head, events checked).

    Events still waiting for the sealer when the backup was taken are not part of the
    head yet; they are sealed after the restore, so only integrity counts here.
    """
    if "audit_batch" not in tables:  # a backup from before audit migration 0005: the per-event chain only
        expected_prev, checked = GENESIS_HASH, 0
        events = AuditEvent.objects.using(alias).defer("txid").order_by("id")
        for event in events.iterator(chunk_size=2000):
            checked += 1
            if event.prev_hash != expected_prev or compute_hash(event) != event.hash:
                return False, expected_prev, checked
            expected_prev = event.hash
        return True, expected_prev, checked
    result = audit_chain_verify(using=alias)
    return result.intact, result.head, result.checked


def compare_scratch(alias: str, manifest: dict) -> tuple[list[str], int]:
    """Compare a restored database with its manifest: every table's row count and the audit chain."""
    problems = []
    facts = dbtools.facts_of(alias)
    expected = manifest["row_counts"]
    for table in sorted(set(expected) | set(facts.row_counts)):
        if expected.get(table) != facts.row_counts.get(table):
            problems.append(
                f"table {table}: {facts.row_counts.get(table)} rows restored, manifest says {expected.get(table)}"
            )
    events = 0
    if dbtools.AUDIT_TABLE in facts.row_counts:
        intact, head, events = _chain_head(alias, facts.row_counts)
        if not intact:
            problems.append(f"the restored audit chain is broken after {events - 1} events")
        elif head != (manifest["audit_head"] or GENESIS_HASH):
            problems.append(
                f"the restored audit chain head {head} differs from the manifest's {manifest['audit_head']}"
            )
    return problems, events


@dataclass
class VerifyReport:
    base: str
    ok: bool
    problems: list[str] = field(default_factory=list)
    files_checked: int = 0
    tables_checked: int = 0
    audit_events_checked: int = 0
    seconds: float = 0.0
    manifest: dict = field(default_factory=dict)
    finished_at: object = None


def _verify(ref: Ref, report: VerifyReport, progress: Progress) -> None:
    usable, problems = check_locations(ref)
    report.problems.extend(problems)
    if not usable:
        return
    expected = read_manifest(ref.base, location=usable[0])
    if ref.backup is not None and ref.backup.sha256 and expected["archive"]["sha256"] != ref.backup.sha256:
        report.problems.append("the stored manifest names a different archive checksum than the backup record")
    dump_path = work_dir() / f"{ref.base}.verify.dump"
    try:
        manifest = stream_archive(
            ref, location=usable[0], dump_path=dump_path, on_file=hash_only, progress=progress, expected=expected
        )
        report.manifest = manifest
        report.files_checked = len(manifest["files"])
        progress("scratch restore", 0, 0)
        with dbtools.scratch_database(dump_path) as alias:
            problems, report.audit_events_checked = compare_scratch(alias, manifest)
        report.problems.extend(problems)
        report.tables_checked = len(manifest["row_counts"])
    finally:
        unlink_quietly(dump_path)


def backup_verify(*, backup, acting_user=None, progress: Progress | None = None) -> VerifyReport:
    """Restore a backup into scratch and check everything; record the result. Never raises for a bad backup:
    the report says what is wrong (ok=False)."""
    progress = progress or no_progress
    ref = resolve(backup)
    report = VerifyReport(base=ref.base, ok=False)
    clock = time.monotonic()
    try:
        _verify(ref, report, progress)
    except (OperationsError, OSError, DatabaseError) as exc:
        report.problems.append(str(exc) or exc.__class__.__name__)
    report.ok = not report.problems
    report.seconds = time.monotonic() - clock
    report.finished_at = timezone.now()
    _record(ref, report, acting_user=acting_user)
    return report


def _record(ref: Ref, report: VerifyReport, *, acting_user) -> None:
    with transaction.atomic():
        target = None
        if ref.backup is not None:
            target = Backup.objects.select_for_update().filter(pk=ref.backup.pk).first()
        if target is not None:
            target.verify_status = Backup.VerifyStatus.OK if report.ok else Backup.VerifyStatus.FAILED
            target.verified_at = report.finished_at
            target.verify_error = "; ".join(report.problems)[:2000]
            target.save(update_fields=["verify_status", "verified_at", "verify_error"])
            ref.backup.refresh_from_db()
        record(
            Action.OPS_BACKUP_VERIFIED,
            outcome=Outcome.SUCCESS if report.ok else Outcome.FAILURE,
            actor=acting_user,
            target=target,
            target_repr=None if target is not None else ref.base,
            data={
                "name": ref.base,
                "ok": report.ok,
                "problems": report.problems[:5],
                "files": report.files_checked,
                "tables": report.tables_checked,
                "audit_events": report.audit_events_checked,
                "seconds": round(report.seconds, 3),
            },
        )
    if report.ok:
        logger.info("backup %s verified in %.1fs", ref.base, report.seconds)
    else:
        logger.error("backup %s FAILED verification: %s", ref.base, "; ".join(report.problems))


# --- Re-verifying replica copies ------------------------------------------------------


@dataclass
class ReplicaCheck:
    backup: str
    storage: str
    ok: bool
    problem: str = ""


def replica_aliases(replica: str | None) -> list[str]:
    """The replica storages to check: all, or one by name (`dr` or `backups_dr`)."""
    replicas = backup_storage_aliases()[1:]
    if not replica:
        return replicas
    alias = replica if replica.startswith("backups_") else f"backups_{replica}"
    if alias not in replicas:
        names = ", ".join(a.removeprefix("backups_") for a in replicas) or "none configured"
        raise OperationsError(f"no backup replica named {replica!r} (DOCUID_BACKUP_REPLICAS: {names})")
    return [alias]


def _check_replica_copy(backup: Backup, alias: str) -> tuple[str, bool]:
    """(problem or "", whether the copy is bad rather than unreachable); reads the whole archive back."""
    storage = get_storage(alias)
    name = archive_name(backup.name)
    try:
        sha, size = sha256_of(storage, name)
    except FileNotFoundError:
        return f"storage {alias!r} is missing {name}", True
    except OSError as exc:
        return f"storage {alias!r} is unreachable: {exc}", False
    if (sha, size) != (backup.sha256, backup.size_bytes):
        return f"storage {alias!r} holds {name} with another checksum or size than recorded ({size} bytes)", True
    try:
        manifest = read_manifest(backup.name, location=alias)
    except OperationsError as exc:
        return str(exc), True
    except OSError as exc:
        return f"storage {alias!r} is unreachable: {exc}", False
    if manifest.get("archive", {}).get("sha256") != backup.sha256:
        return f"storage {alias!r} holds a manifest naming another archive", True
    return "", False


def backup_replicas_verify(*, replica: str | None = None, acting_user=None) -> list[ReplicaCheck]:
    """Read back every kept backup's copy on the replicas and check it against the recorded SHA-256.

    A missing or different copy is taken off the backup's locations and queued for
    backup_replicas_retry (which copies it again from the primary); an unreachable
    replica is reported and keeps its place.
    """
    aliases = replica_aliases(replica)
    checks = []
    backups = Backup.objects.filter(status=Backup.Status.SUCCEEDED).order_by("-started_at")
    for backup in backups:
        for alias in aliases:
            if alias not in (backup.locations or []):
                continue
            problem, bad = _check_replica_copy(backup, alias)
            checks.append(ReplicaCheck(backup=backup.name, storage=alias, ok=not problem, problem=problem))
            now = timezone.now()
            with transaction.atomic():
                backup.replica_checks = {
                    **(backup.replica_checks or {}),
                    alias: {"checked_at": now.isoformat(), "ok": not problem, "error": problem[:500]},
                }
                fields = ["replica_checks"]
                if bad:
                    backup.locations = [a for a in backup.locations if a != alias]
                    backup.replicas_pending = sorted({*backup.replicas_pending, alias})
                    backup.replica_error = problem[:2000]
                    fields += ["locations", "replicas_pending", "replica_error"]
                backup.save(update_fields=fields)
                record(
                    Action.OPS_BACKUP_VERIFIED,
                    outcome=Outcome.SUCCESS if not problem else Outcome.FAILURE,
                    actor=acting_user,
                    target=backup,
                    data={
                        "name": backup.name,
                        "replica": alias,
                        "ok": not problem,
                        "problems": [problem] if problem else [],
                    },
                )
            if problem:
                logger.error("backup %s: replica copy FAILED its check: %s", backup.name, problem)
    logger.info("replica copies checked: %d ok, %d failed", sum(c.ok for c in checks), sum(not c.ok for c in checks))
    return checks
