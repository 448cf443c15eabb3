"""The fast paths of backup and restore keep the guarantees of the slow ones.

Encryption without per-chunk copies, tar headers written directly, the dump read
ahead from its recorded offset, background write-back, kernel copies to replicas
and files written by a thread: each one still authenticates, checks and reports
errors as before.
"""

import errno
import hashlib
import io
import os
import random

import pytest
from django.core.files.storage import FileSystemStorage, storages

import operations.storage as storage_module
from operations.archive import ArchiveWriter, archive_name, read_archive, read_member_at
from operations.crypto import HEADER_BYTES, TAG_BYTES, CryptoError, EncryptingWriter, decrypt_chunks, decrypt_stream
from operations.errors import BackupError
from operations.services import backup_run


def _encrypt(data: bytes, key: bytes, chunk: int, sizes) -> bytes:
    out = io.BytesIO()
    writer = EncryptingWriter(out, key, chunk_size=chunk)
    position = 0
    while position < len(data):
        size = next(sizes)
        writer.write(data[position : position + size])
        position += size
    writer.close()
    return out.getvalue()


def test_encryption_round_trips_whatever_the_sizes_of_the_writes():
    rng = random.Random(6)
    key = os.urandom(32)
    for chunk in (16, 100, 1000):
        for length in (0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk, 5000):
            data = rng.randbytes(length)
            sizes = iter(
                lambda: rng.choice([1, chunk - 1, chunk, chunk + 1, 2 * chunk + 3, rng.randint(0, 3 * chunk)]), None
            )
            encrypted = _encrypt(data, key, chunk, sizes)
            back = io.BytesIO()
            decrypt_stream(io.BytesIO(encrypted), back, [key])
            assert back.getvalue() == data


def test_decrypting_from_an_offset_authenticates_each_chunk_in_its_place():
    key = os.urandom(32)
    data = os.urandom(10_000)
    encrypted = _encrypt(data, key, 1000, iter(lambda: 1000, None))

    assert b"".join(decrypt_chunks(io.BytesIO(encrypted), [key], start=2500)) == data[2500:]

    block = 1000 + TAG_BYTES
    swapped = bytearray(encrypted)
    second, third = HEADER_BYTES + 2 * block, HEADER_BYTES + 3 * block
    swapped[second:third], swapped[third : third + block] = encrypted[third : third + block], encrypted[second:third]
    with pytest.raises(CryptoError, match="corrupt at chunk 2"):
        list(decrypt_chunks(io.BytesIO(bytes(swapped)), [key], start=2500))


def test_the_archive_is_a_tar_stream_and_a_member_can_be_read_at_its_recorded_offset():
    key = os.urandom(32)
    first, dump = os.urandom(3_000_001), os.urandom(1_500_000)
    out = io.BytesIO()
    writer = ArchiveWriter(out, key, mtime=0)
    digest = writer.add_stream("files/" + "long-name/" * 20 + "a", io.BytesIO(first), len(first))
    assert digest == hashlib.sha256(first).hexdigest()
    offset = writer.offset
    writer.add_stream("database.dump", io.BytesIO(dump), len(dump))
    writer.add_bytes("manifest.json", b"{}")
    writer.close()

    members = []
    read_archive(io.BytesIO(out.getvalue()), [key], lambda m: members.append((m.name, m.stream.read())))
    assert members == [("files/" + "long-name/" * 20 + "a", first), ("database.dump", dump), ("manifest.json", b"{}")]

    found = []
    read_member_at(io.BytesIO(out.getvalue()), [key], offset, "database.dump", lambda m: found.append(m.stream.read()))
    assert found == [dump]
    with pytest.raises(ValueError, match="no member"):
        read_member_at(io.BytesIO(out.getvalue()), [key], offset, "manifest.json", lambda m: None)


def test_a_short_read_fails_the_member():
    writer = ArchiveWriter(io.BytesIO(), os.urandom(32), mtime=0)
    with pytest.raises(OSError, match="expected 100"):
        writer.add_stream("files/x", io.BytesIO(b"only fifty bytes".ljust(50)), 100)


def test_a_background_writeback_error_is_raised_by_sync(tmp_path, monkeypatch):
    monkeypatch.setattr(storage_module, "WRITEBACK_EVERY", 10)

    def failing(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(storage_module.os, "fdatasync", failing)
    with open(tmp_path / "archive", "wb") as raw, storage_module.WritebackFile(raw) as out:
        out.write(b"x" * 20)
        with pytest.raises(OSError, match="Input/output error"):
            out.sync()


def test_files_written_by_the_thread_appear_whole_and_its_errors_reach_the_caller(tmp_path):
    storage = FileSystemStorage(location=tmp_path)
    data = os.urandom(3 * storage_module.CHUNK + 5)
    with storage_module.LocalFileWriter(storage) as writer:
        assert writer.put("a/b/c", io.BytesIO(data)) == (hashlib.sha256(data).hexdigest(), len(data))
        writer.finish()
    assert (tmp_path / "a" / "b" / "c").read_bytes() == data
    assert not list(tmp_path.rglob("*.partial"))

    (tmp_path / "blocker").write_text("a file where a directory should be")
    with storage_module.LocalFileWriter(storage) as writer, pytest.raises(OSError):
        writer.put("blocker/x", io.BytesIO(data))
        writer.put("y", io.BytesIO(data))
        writer.finish()


@pytest.mark.django_db(transaction=True)
def test_a_replica_copy_that_differs_is_never_committed(stored_files, monkeypatch):
    import operations.services.backups as backups_module

    real = storage_module.read_back_partial

    def corrupted_then_read(storage, name):
        with open(storage_module.local_partial_path(storage, name), "r+b") as copy:
            copy.seek(100)
            byte = copy.read(1)
            copy.seek(100)
            copy.write(bytes([byte[0] ^ 1]))
        return real(storage, name)

    monkeypatch.setattr(backups_module, "read_back_partial", corrupted_then_read)
    backup = backup_run()  # the primary's archive is whole: kept, the replica queued for a retry
    assert backup.replicas_pending == ["backups_dr"] and "holds a different archive" in backup.replica_error
    assert storages["backups_dr"].listdir("")[1] == []


@pytest.mark.django_db(transaction=True)
def test_the_manifest_records_where_the_dump_starts(stored_files):
    from operations.services.common import decryption_keys, read_manifest

    backup = backup_run()
    manifest = read_manifest(backup.name)
    found = []
    with storages["backups"].open(archive_name(backup.name)) as raw:
        read_member_at(
            raw,
            decryption_keys(),
            manifest["database"]["offset"],
            "database.dump",
            lambda m: found.append(m.stream.read()),
        )
    assert len(found[0]) == manifest["database"]["size"]
    assert hashlib.sha256(found[0]).hexdigest() == manifest["database"]["sha256"]


class _FailingStream(io.BytesIO):
    """A member stream whose bytes stop authenticating part way through (as a corrupt chunk does)."""

    def read(self, size=-1):
        if self.tell() >= 2 * storage_module.CHUNK:
            raise CryptoError("archive is corrupt at chunk 2 (authentication failed)")
        return super().read(size)


def test_a_file_the_thread_never_finishes_leaves_no_partial_behind(tmp_path):
    storage = FileSystemStorage(location=tmp_path)
    data = os.urandom(5 * storage_module.CHUNK)

    # The producer's stream fails mid-file: the writer is left without finish().
    with pytest.raises(CryptoError), storage_module.LocalFileWriter(storage) as writer:
        writer.put("done", io.BytesIO(b"whole"))
        writer.put("a/half", _FailingStream(data))
    # A write error in the thread: a directory where the file goes, so the rename fails.
    (tmp_path / "b" / "taken").mkdir(parents=True)
    with storage_module.LocalFileWriter(storage) as writer, pytest.raises(OSError):
        writer.put("b/taken", io.BytesIO(data))  # b/taken.partial is written whole, then not committed
        writer.put("c", io.BytesIO(data))
        writer.finish()
    # Abandoned between two files, and at finish() with the file still open.
    with storage_module.LocalFileWriter(storage) as writer:
        writer._send(("open", "c/open"))
        writer._send(("data", b"some bytes"))

    assert (tmp_path / "done").read_bytes() == b"whole"
    assert not list(tmp_path.rglob("*.partial"))


def test_put_atomically_leaves_no_partial_when_the_source_fails(tmp_path):
    storage = FileSystemStorage(location=tmp_path)
    with pytest.raises(CryptoError):
        storage_module.put_atomically(storage, "x/y", _FailingStream(os.urandom(3 * storage_module.CHUNK)))
    assert not list(tmp_path.rglob("*.partial")) and not storage.exists("x/y")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("failing", ["backups", "dr"])
def test_every_sync_is_waited_for_when_one_fails(stored_files, settings, monkeypatch, failing):
    """The archive's and replicas' fsyncs run at once: one failing must not close the files the others sync."""
    import threading
    import time
    from pathlib import Path

    import operations.services.backups as backups_module
    from tests.operations.conftest import _fs

    settings.DOCUID_BACKUP_REPLICAS = ["dr", "slow"]
    settings.STORAGES = {**settings.STORAGES, "backups_slow": _fs(settings.DOCUID_BACKUP_WORK_DIR.parent / "slow")}
    slow_done, slow_saw_closed = threading.Event(), []

    class Syncing(storage_module.WritebackFile):
        def sync(self):
            where = Path(self.raw.name).parent.name
            if where == failing:
                raise OSError(errno.EIO, f"Input/output error on {where}")
            if where == "slow":
                try:
                    time.sleep(0.3)
                    slow_saw_closed.append(self.raw.closed)
                finally:
                    slow_done.set()
            super().sync()

    monkeypatch.setattr(backups_module, "WritebackFile", Syncing)
    if failing == "backups":
        with pytest.raises(BackupError, match="writing the archive to storage 'backups' failed"):
            backup_run()
    else:  # a replica's failure leaves the primary's archive kept and the replica pending
        backup = backup_run()
        assert backup.replicas_pending == ["backups_dr"] and "'backups_dr' is unreach" in backup.replica_error
        assert backup.locations == ["backups", "backups_slow"]
    assert slow_done.is_set(), "the backup returned while a replica's sync was still running"
    assert slow_saw_closed == [False]


@pytest.mark.django_db(transaction=True)
def test_the_spool_of_a_non_local_primary_is_deleted_when_the_upload_fails(stored_files, settings, monkeypatch):
    import operations.services.backups as backups_module

    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }

    def failing_upload(storage, name, source):
        assert list(settings.DOCUID_BACKUP_WORK_DIR.glob("*.spool"))  # the spool exists while it uploads
        raise OSError("upload failed: connection reset")

    monkeypatch.setattr(backups_module, "put_atomically", failing_upload)
    with pytest.raises(BackupError, match="connection reset"):
        backup_run()
    assert list(settings.DOCUID_BACKUP_WORK_DIR.iterdir()) == [settings.DOCUID_BACKUP_WORK_DIR / "backup.lock"]


PG_RESTORE_LIST = """;
; Archive created at 2026-11-27 04:54:23 UTC
;     dbname: docuid
;
; Selected TOC Entries:
;
214; 1259 238426 TABLE public blob postgres
215; 1259 238427 TABLE public BLOBS postgres
3338; 0 238426 TABLE DATA public blob postgres
3341; 2606 238430 CONSTRAINT public blob blob_pkey postgres
"""
LARGE_OBJECT_LINES = [
    "3339; 2613 4242 BLOB - 4242 postgres",  # PostgreSQL <= 16
    "3347; 0 0 COMMENT - LARGE OBJECT 4242 postgres",
    "3348; 0 0 ACL - LARGE OBJECT 4242 postgres",
    "3340; 0 0 BLOBS - BLOBS ",
    "3339; 2613 4242 BLOB METADATA - 4242..4242 postgres",  # PostgreSQL 17+
    "3349; 0 0 SECURITY LABEL - LARGE OBJECT 4242 postgres",
]


def test_a_dump_listing_is_searched_for_large_objects_only():
    from operations.dbtools import large_object_entries

    assert large_object_entries(PG_RESTORE_LIST) == []
    for line in LARGE_OBJECT_LINES:
        assert large_object_entries(PG_RESTORE_LIST + line + "\n") == [line.strip()], line
