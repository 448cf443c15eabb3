"""What backup, verify, restore and drills share: keys, locks, progress, finding an archive."""

import fcntl
import json
import os
from collections.abc import Callable
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from operations.archive import archive_name, manifest_name
from operations.crypto import CryptoError, DecryptingReader, parse_key
from operations.errors import OperationsError
from operations.models import Backup
from operations.storage import PRIMARY, get_storage

# (stage, bytes or items done, total or 0 when unknown)
Progress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    pass


def encryption_key() -> bytes:
    if not settings.DOCUID_BACKUP_KEY:
        raise OperationsError(
            "DOCUID_BACKUP_KEY is not set: DocuID never writes an unencrypted backup. Create a key with "
            "`python -m operations.crypto genkey`, store it in your secret manager AND somewhere outside "
            "this system (without it no backup can be restored), and set DOCUID_BACKUP_KEY."
        )
    try:
        return parse_key(settings.DOCUID_BACKUP_KEY)
    except CryptoError as exc:
        raise OperationsError(f"DOCUID_BACKUP_KEY: {exc}") from None


def decryption_keys() -> list[bytes]:
    keys = [encryption_key()]
    for value in settings.DOCUID_BACKUP_OLD_KEYS:
        keys.append(parse_key(value))
    return keys


def work_dir() -> Path:
    path = Path(settings.DOCUID_BACKUP_WORK_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def exclusive_lock(name: str):
    """One backup/restore at a time on this host. The kernel releases it if the process is killed."""
    path = work_dir() / f"{name}.lock"
    handle = open(path, "w")  # noqa: SIM115 — held for the duration of the block
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OperationsError(
                f"another backup or restore is running on this host (lock {path}); wait for it to finish"
            ) from None
        yield
    finally:
        handle.close()


@dataclass
class Ref:
    """An archive to read: by Backup row when the database knows it, else by name alone (disaster recovery)."""

    base: str
    backup: Backup | None

    @property
    def locations(self) -> list[str]:
        if self.backup is not None and self.backup.locations:
            return list(self.backup.locations)
        return [PRIMARY]


def operations_schema_present(alias: str = DEFAULT_DB_ALIAS) -> bool:
    """False for a fresh, empty database (created for a restore): it has no table to record anything in yet."""
    return Backup._meta.db_table in connections[alias].introspection.table_names()


def resolve(ref: str | int | Backup) -> Ref:
    if isinstance(ref, Backup):
        return Ref(base=ref.name, backup=ref)
    text = str(ref).strip()
    backup = None
    if not operations_schema_present():
        # A fresh database to restore into: archives are found by name alone, as after losing the database.
        if text.isdigit():
            raise OperationsError(
                f"this database has no DocuID tables (a fresh database?), so it knows no backup {text}: give the "
                "archive name instead (docuid-YYYYMMDDTHHMMSSZ-xxxxxx, as listed in the backup storage)"
            )
        base = text.removesuffix(".tar.aes").removesuffix(".manifest.aes")
        if not get_storage(PRIMARY).exists(archive_name(base)):
            raise OperationsError(f"no backup named {base!r} in the backup storage")
        return Ref(base=base, backup=None)
    if text.isdigit():
        backup = Backup.objects.filter(pk=int(text)).first()
        if backup is None:
            raise OperationsError(f"no backup with id {text}; `manage.py backup_list` shows them")
    else:
        base = text.removesuffix(".tar.aes").removesuffix(".manifest.aes")
        backup = Backup.objects.filter(name=base).first()
        if backup is None:
            # A database lost with everything in it still has its archives: read them by name.
            if not get_storage(PRIMARY).exists(archive_name(base)):
                raise OperationsError(f"no backup named {base!r} in the database or the backup storage")
            return Ref(base=base, backup=None)
    return Ref(base=backup.name, backup=backup)


def read_manifest(base: str, *, location: str = PRIMARY) -> dict:
    """The encrypted copy of the manifest stored beside the archive."""
    storage = get_storage(location)
    name = manifest_name(base)
    try:
        with storage.open(name, "rb") as handle:
            data = DecryptingReader(handle, decryption_keys()).read()
    except FileNotFoundError:
        raise OperationsError(f"{name} is missing from storage {location!r}") from None
    except CryptoError as exc:
        raise OperationsError(f"{name}: {exc}") from None
    try:
        return json.loads(data)
    except ValueError:
        raise OperationsError(f"{name} is not a valid manifest") from None


def unlink_quietly(path: Path) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)
