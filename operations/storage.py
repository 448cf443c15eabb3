"""Moving archives in and out of Django storages without holding them in memory."""

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages

CHUNK = 1024 * 1024
PRIMARY = "backups"
PARTIAL_SUFFIX = ".partial"


def backup_storage_aliases() -> list[str]:
    """The primary backup storage first, then every replica in DOCUID_BACKUP_REPLICAS."""
    return [PRIMARY, *(f"backups_{name}" for name in settings.DOCUID_BACKUP_REPLICAS)]


def get_storage(alias: str) -> Storage:
    return storages[alias]


def is_local(storage: Storage) -> bool:
    return isinstance(storage, FileSystemStorage)


class HashingReader:
    """Wrap a readable file: SHA-256 and byte count of everything read through it."""

    def __init__(self, raw: BinaryIO, on_read: Callable[[int], None] | None = None):
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.bytes = 0
        self._on_read = on_read

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.sha256.update(data)
        self.bytes += len(data)
        if self._on_read is not None and data:
            self._on_read(len(data))
        return data

    def readable(self) -> bool:
        return True


class HashingWriter:
    """Wrap a writable file: SHA-256 and byte count of everything written through it."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def write(self, data) -> int:
        self.raw.write(data)
        self.sha256.update(data)
        self.bytes += len(data)
        return len(data)

    def flush(self) -> None:
        self.raw.flush()


def local_partial_path(storage: FileSystemStorage, name: str) -> Path:
    path = Path(storage.path(name + PARTIAL_SUFFIX))
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def commit_local(storage: FileSystemStorage, name: str) -> None:
    """The rename is the commit: an archive exists under its name whole or not at all."""
    os.replace(storage.path(name + PARTIAL_SUFFIX), storage.path(name))


def put_atomically(storage: Storage, name: str, source: BinaryIO) -> None:
    """Write `source` to `name`, replacing it, so that readers never see half a file under `name`."""
    if is_local(storage):
        path = local_partial_path(storage, name)
        with open(path, "wb") as out:
            shutil.copyfileobj(source, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        commit_local(storage, name)
        return
    # Object stores: an upload becomes visible only when complete, so the name is the commit.
    if storage.exists(name):
        storage.delete(name)
    saved = storage.save(name, File(source, name=os.path.basename(name)))
    if saved != name:
        storage.delete(saved)
        raise OSError(f"storage stored {name!r} as {saved!r}")


def sha256_of(storage: Storage, name: str) -> tuple[str, int]:
    reader = HashingReader(storage.open(name, "rb"))
    try:
        while reader.read(CHUNK):
            pass
    finally:
        reader.raw.close()
    return reader.sha256.hexdigest(), reader.bytes


def remove_partials(storage: Storage) -> list[str]:
    """Delete debris of a backup that died mid-write (local storages; object stores have none)."""
    if not is_local(storage) or not os.path.isdir(storage.location):
        return []
    removed = []
    for entry in os.scandir(storage.location):
        if entry.is_file() and entry.name.endswith(PARTIAL_SUFFIX):
            os.unlink(entry.path)
            removed.append(entry.name)
    return removed


def walk_files(storage: Storage, top: str = "") -> list[str]:
    """Every file key in a storage, sorted (works for local and S3 storages)."""
    try:
        dirs, files = storage.listdir(top)
    except FileNotFoundError:
        return []
    keys = [f"{top}/{name}" if top else name for name in files]
    for directory in dirs:
        keys.extend(walk_files(storage, f"{top}/{directory}" if top else directory))
    return sorted(keys)
