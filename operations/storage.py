"""Moving archives in and out of Django storages without holding them in memory."""

import hashlib
import os
import queue
import shutil
import threading
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages

CHUNK = 1024 * 1024
# Written bytes after which the disk is asked to start on them (see WritebackFile).
WRITEBACK_EVERY = 32 * CHUNK
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


class Background:
    """Run `call(*args)` in a thread; `join()` waits and re-raises its error here."""

    def __init__(self, call, *args):
        self._error: BaseException | None = None

        def run() -> None:
            try:
                call(*args)
            except BaseException as exc:  # noqa: BLE001 — handed to join()
                self._error = exc

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def done(self) -> bool:
        return not self._thread.is_alive()

    def join(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


class WritebackFile:
    """A file being written whose pages go to disk while it is still being written.

    Every WRITEBACK_EVERY bytes a thread fdatasync()s what is written so far, so the
    disk works while this process encrypts and hashes, and the final `sync()` (an
    fsync, as before) waits for the tail only. An error of a background fdatasync is
    raised by `sync()`: the kernel reports a write-back error once, to whichever call
    sees it first, so it must not be lost in the thread.
    """

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self._fd = raw.fileno()
        self._unsynced = 0
        self._syncing: Background | None = None

    def write(self, data) -> int:
        written = self.raw.write(data)
        self._unsynced += len(data)
        if self._unsynced >= WRITEBACK_EVERY and (self._syncing is None or self._syncing.done()):
            if self._syncing is not None:
                self._syncing.join()
            self.raw.flush()
            self._unsynced = 0
            self._syncing = Background(os.fdatasync, self._fd)
        return written

    def flush(self) -> None:
        self.raw.flush()

    def __enter__(self) -> "WritebackFile":
        return self

    def __exit__(self, *exc_info) -> None:
        # Never leave a thread syncing a descriptor that is about to be closed.
        if self._syncing is not None:
            syncing, self._syncing = self._syncing, None
            if exc_info[0] is None:
                syncing.join()
            else:
                with suppress(BaseException):
                    syncing.join()

    def sync(self) -> None:
        if self._syncing is not None:
            syncing, self._syncing = self._syncing, None
            syncing.join()
        self.raw.flush()
        os.fsync(self._fd)


def local_partial_path(storage: FileSystemStorage, name: str) -> Path:
    path = Path(storage.path(name + PARTIAL_SUFFIX))
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def commit_local(storage: FileSystemStorage, name: str) -> None:
    """The rename is the commit: an archive exists under its name whole or not at all."""
    os.replace(storage.path(name + PARTIAL_SUFFIX), storage.path(name))


def _discard_partial(out: BinaryIO | None, path: Path | None) -> None:
    """Close and delete a temporary file that will never be committed."""
    if out is not None:
        with suppress(OSError):
            out.close()
    if path is not None:
        with suppress(OSError):
            os.unlink(path)


def put_atomically(storage: Storage, name: str, source: BinaryIO) -> None:
    """Write `source` to `name`, replacing it, so that readers never see half a file under `name`."""
    if is_local(storage):
        path = local_partial_path(storage, name)
        try:
            with open(path, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            commit_local(storage, name)
        except BaseException:
            _discard_partial(None, path)
            raise
        return
    # Object stores: an upload becomes visible only when complete, so the name is the commit.
    if storage.exists(name):
        storage.delete(name)
    saved = storage.save(name, File(source, name=os.path.basename(name)))
    if saved != name:
        storage.delete(saved)
        raise OSError(f"storage stored {name!r} as {saved!r}")


class LocalFileWriter:
    """Writes files into a local storage from a thread, while the caller decrypts and hashes the next bytes.

    `put(key, stream)` reads and hashes the stream here and hands the bytes to the
    thread (at most `depth` chunks in flight, so memory stays flat), which writes each
    file under a temporary name, fsyncs it and renames it: a file appears under its
    key whole or not at all, as with put_atomically. `finish()` waits for the last one
    and raises the thread's error, if any; leaving the block without it abandons the rest.
    """

    _DONE = object()

    def __init__(self, storage: FileSystemStorage, *, depth: int = 4):
        self._storage = storage
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # `partial`: the temporary file of the key being written, deleted unless committed (a write
        # error, or the producer gave up on the file: corrupt archive, abandoned writer).
        out, key, partial = None, None, None
        try:
            while (item := self._queue.get()) is not self._DONE:
                if self._error is not None:
                    _discard_partial(out, partial)
                    out, partial = None, None
                    continue  # draining: the producer sees the error at its next put
                try:
                    kind, value = item
                    if kind == "open":
                        key = value
                        partial = local_partial_path(self._storage, key)
                        out = open(partial, "wb")  # noqa: SIM115 — closed on "close"
                    elif kind == "data":
                        out.write(value)
                    else:
                        out.flush()
                        os.fsync(out.fileno())
                        out.close()
                        out = None
                        commit_local(self._storage, key)
                        partial = None
                except BaseException as exc:  # noqa: BLE001 — raised by the producer
                    self._error = exc
                    _discard_partial(out, partial)
                    out, partial = None, None
        finally:
            _discard_partial(out, partial)  # finish() while a file was still open: it was abandoned

    def _send(self, item) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(item)

    def put(self, key: str, stream: BinaryIO, size: int | None = None) -> tuple[str, int]:
        """Store `stream`'s bytes under `key`; return their (SHA-256, size) as read (`size` is not trusted)."""
        reader = HashingReader(stream)
        self._send(("open", key))
        while data := reader.read(CHUNK):
            self._send(("data", data))
        self._send(("close", None))
        return reader.sha256.hexdigest(), reader.bytes

    def finish(self) -> None:
        self._queue.put(self._DONE)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> "LocalFileWriter":
        return self

    def __exit__(self, *exc_info) -> None:
        if self._thread.is_alive():
            self._error = self._error or OSError("abandoned")
            with suppress(BaseException):
                self.finish()


def read_back_partial(storage: FileSystemStorage, name: str) -> tuple[str, int]:
    """(SHA-256, size) of `name`'s temporary copy in a local storage, read back from that copy."""
    return sha256_of(storage, name + PARTIAL_SUFFIX)


class Tee:
    """Write the same bytes to several files: the primary archive and local replicas' copies in one pass.

    `on_error[i]` handles an OSError of `files[i]`: None raises it (the primary); a
    callable is given the error and that file is written no more (a replica's copy
    that failed is retried later, and must not fail the primary's archive).
    """

    def __init__(self, files: list, on_error: list):
        self._files = list(zip(files, on_error, strict=True))

    def write(self, data) -> int:
        for entry in list(self._files):
            file, handler = entry
            try:
                file.write(data)
            except OSError as exc:
                if handler is None:
                    raise
                handler(exc)
                self._files.remove(entry)
        return len(data)

    def flush(self) -> None:
        for entry in list(self._files):
            file, handler = entry
            try:
                file.flush()
            except OSError as exc:
                if handler is None:
                    raise
                handler(exc)
                self._files.remove(entry)


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
