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
    with pytest.raises(BackupError, match="holds a different archive"):
        backup_run()
    assert storages["backups_dr"].listdir("")[1] == []


def test_a_kernel_copy_that_differs_is_never_committed(tmp_path, monkeypatch):
    source, target = FileSystemStorage(location=tmp_path / "a"), FileSystemStorage(location=tmp_path / "b")
    source.save("archive", io.BytesIO(os.urandom(100_000)))
    expected = (hashlib.sha256((tmp_path / "a" / "archive").read_bytes()).hexdigest(), 100_000)
    assert storage_module.copy_local(source, target, "archive", expected=expected) == expected
    assert (tmp_path / "b" / "archive").read_bytes() == (tmp_path / "a" / "archive").read_bytes()

    real = storage_module._kernel_copy

    def corrupting(src, out):
        real(src, out)
        os.pwrite(out.fileno(), b"\0" * 16, 100)

    monkeypatch.setattr(storage_module, "_kernel_copy", corrupting)
    (tmp_path / "b" / "archive").unlink()
    assert storage_module.copy_local(source, target, "archive", expected=expected) != expected
    assert list((tmp_path / "b").iterdir()) == []


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
