"""The backup archive: a tar stream (database dump, files/<key>, manifest.json last), encrypted in chunks.

Stream-mode tar on both sides, so neither writing nor reading ever seeks or holds
more than a chunk: memory stays flat whatever the size. The manifest goes last
because it carries every file's SHA-256, computed while the file streams past;
a copy of it is also stored encrypted beside the archive (`.manifest.aes`), so a
restore can check compatibility before it touches anything.
"""

import io
import json
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

from operations.crypto import DEFAULT_CHUNK, DecryptingReader, EncryptingWriter
from operations.storage import HashingReader

DATABASE_MEMBER = "database.dump"
MANIFEST_MEMBER = "manifest.json"
FILES_PREFIX = "files/"
ARCHIVE_SUFFIX = ".tar.aes"
MANIFEST_SUFFIX = ".manifest.aes"
MANIFEST_FORMAT = 1


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
    """tar | encrypt | sink; add members one at a time, each streamed."""

    def __init__(self, sink: BinaryIO, key: bytes, *, mtime: float):
        self._encrypting = EncryptingWriter(sink, key)
        # A 1 MiB tar buffer: tarfile's stream slices its buffer on every write, which is
        # quadratic in the write size with the default 10 KiB records.
        self._tar = tarfile.open(  # noqa: SIM115 — closed by close()
            fileobj=self._encrypting,
            mode="w|",
            format=tarfile.PAX_FORMAT,
            bufsize=DEFAULT_CHUNK,
            copybufsize=DEFAULT_CHUNK,
        )
        self._mtime = mtime

    def add_stream(self, name: str, source: BinaryIO, size: int, on_read: Callable[[int], None] | None = None) -> str:
        """Add `size` bytes from `source`; return their SHA-256. A short read raises OSError."""
        reader = HashingReader(source, on_read)
        self._tar.addfile(_info(name, size, self._mtime), reader)
        if reader.bytes != size:
            raise OSError(f"{name}: read {reader.bytes} bytes, expected {size} (changed while being backed up?)")
        return reader.sha256.hexdigest()

    def add_bytes(self, name: str, data: bytes) -> None:
        self._tar.addfile(_info(name, len(data), self._mtime), io.BytesIO(data))

    def close(self) -> None:
        self._tar.close()
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
