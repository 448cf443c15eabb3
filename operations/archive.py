"""The backup archive: a tar stream (files/<key>, the database dump among them, manifest.json last), encrypted
in chunks.

Stream-mode tar on both sides, so neither writing nor reading ever seeks or holds
more than a chunk: memory stays flat whatever the size (read_member_at, for a
restore that wants the dump first, seeks to it). The files are archived while
pg_dump runs and the dump goes in at the first file boundary after it finished
(or last); readers match members by name, so archives written with the dump first
read the same. The manifest goes last
because it carries every file's SHA-256, computed while the file streams past;
a copy of it is also stored encrypted beside the archive (`.manifest.aes`), so a
restore can check compatibility before it touches anything.
"""

import hashlib
import json
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

from operations.crypto import DEFAULT_CHUNK, DecryptingReader, EncryptingWriter

DATABASE_MEMBER = "database.dump"
MANIFEST_MEMBER = "manifest.json"
FILES_PREFIX = "files/"
ARCHIVE_SUFFIX = ".tar.aes"
MANIFEST_SUFFIX = ".manifest.aes"
MANIFEST_FORMAT = 1
READ_SIZE = DEFAULT_CHUNK


def archive_name(base: str) -> str:
    return base + ARCHIVE_SUFFIX


def manifest_name(base: str) -> str:
    return base + MANIFEST_SUFFIX


def _info(name: str, size: int, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = int(mtime)
    info.mode = 0o600
    return info


class ArchiveWriter:
    """tar | encrypt | sink; add members one at a time, each streamed.

    The tar headers are written here (tarfile's own `TarInfo.tobuf`, the format a
    `tarfile` reader expects) and each member's bytes go straight from the source to
    the encrypting writer: tarfile's stream mode would copy every byte once more
    through its record buffer.
    """

    def __init__(self, sink: BinaryIO, key: bytes, *, mtime: float):
        self._encrypting = EncryptingWriter(sink, key)
        self._mtime = mtime
        self._offset = 0
        self._read_view = memoryview(bytearray(READ_SIZE))

    def _write(self, data) -> None:
        self._encrypting.write(data)
        self._offset += len(data)

    def _header(self, name: str, size: int) -> None:
        self._write(_info(name, size, self._mtime).tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape"))

    def _pad(self, size: int) -> None:
        if remainder := size % tarfile.BLOCKSIZE:
            self._write(tarfile.NUL * (tarfile.BLOCKSIZE - remainder))

    @property
    def offset(self) -> int:
        """Plaintext bytes written so far: where the next member's header starts (see read_member_at)."""
        return self._offset

    def add_stream(self, name: str, source: BinaryIO, size: int, on_read: Callable[[int], None] | None = None) -> str:
        """Add `size` bytes from `source`; return their SHA-256. A short read raises OSError."""
        self._header(name, size)
        digest = hashlib.sha256()
        readinto = getattr(source, "readinto", None)
        left = size
        while left:
            if readinto is not None:  # into one reused buffer: no allocation per read
                count = readinto(self._read_view[: min(READ_SIZE, left)]) or 0
                data = self._read_view[:count]
            else:
                data = source.read(min(READ_SIZE, left))
                count = len(data)
            if not count:
                raise OSError(f"{name}: read {size - left} bytes, expected {size} (changed while being backed up?)")
            digest.update(data)
            self._write(data)
            left -= count
            if on_read is not None:
                on_read(count)
        self._pad(size)
        return digest.hexdigest()

    def add_bytes(self, name: str, data: bytes) -> None:
        self._header(name, len(data))
        self._write(data)
        self._pad(len(data))

    def close(self) -> None:
        # End of archive: two zero blocks, then zeros to a whole record, as tarfile writes it.
        self._write(tarfile.NUL * (2 * tarfile.BLOCKSIZE))
        if remainder := self._offset % tarfile.RECORDSIZE:
            self._write(tarfile.NUL * (tarfile.RECORDSIZE - remainder))
        self._encrypting.close()


def manifest_bytes(manifest: dict) -> bytes:
    return json.dumps(manifest, sort_keys=True, indent=1).encode()


@dataclass
class Member:
    name: str
    size: int
    stream: BinaryIO


def read_archive(source: BinaryIO, keys: Iterable[bytes], handle: Callable[[Member], None]) -> None:
    """Decrypt and walk the archive, calling `handle` per member (which must read it now or never).

    Raises operations.crypto.CryptoError for a wrong key or corrupted bytes, and
    tarfile.TarError for a structurally broken archive.
    """
    reader = DecryptingReader(source, keys)
    with tarfile.open(fileobj=reader, mode="r|", bufsize=DEFAULT_CHUNK) as tar:
        for info in tar:
            if not info.isfile():
                continue
            stream = tar.extractfile(info)
            handle(Member(name=info.name, size=info.size, stream=stream))
    # tar's end-of-archive blocks come before the final chunk: authenticate to the very end.
    reader.drain()


def read_member_at(source: BinaryIO, keys: Iterable[bytes], offset: int, name: str, handle: Callable[[Member], None]):
    """Decrypt just the member whose header starts at plaintext `offset` (seeking there) and hand it to `handle`.

    Every chunk read is authenticated; the rest of the archive is not read, so this is
    no substitute for read_archive's check of the whole archive. Raises CryptoError,
    tarfile.TarError, or ValueError when the member there is not `name`.
    """
    reader = DecryptingReader(source, keys, start=offset)
    with tarfile.open(fileobj=reader, mode="r|", bufsize=DEFAULT_CHUNK) as tar:
        info = tar.next()
        if info is None or info.name != name or not info.isfile():
            raise ValueError(f"no member {name!r} at offset {offset}")
        handle(Member(name=info.name, size=info.size, stream=tar.extractfile(info)))
