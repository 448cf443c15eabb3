"""Streaming authenticated encryption for backup archives and archived WAL.

Django-free on purpose: PostgreSQL's archive_command and restore_command run
`python -m operations.crypto` (deploy/postgres/) without the project settings.

Format (all integers big-endian):

    header  = b"DOCUIDBK" | version (1 byte) | key id (8 bytes) | nonce prefix (7 bytes) | chunk size (4 bytes)
    chunk_i = AES-256-GCM(key, nonce = prefix | i (4 bytes) | last (1 byte), plaintext_i, aad = header)

Every plaintext chunk is `chunk size` bytes except the last (0..chunk size),
which alone carries last=1. One GCM tag per chunk authenticates as we go, so a
reader never acts on unauthenticated bytes and memory stays at one chunk; the
counter stops reordering and the last flag stops truncation at a chunk
boundary (the STREAM construction of Hoang, Reyhanitabar, Rogaway, Vizár).
"""

import base64
import binascii
import hashlib
import hmac
import os
import sys
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"DOCUIDBK"
VERSION = 1
KEY_BYTES = 32
KEY_ID_BYTES = 8
PREFIX_BYTES = 7
TAG_BYTES = 16
DEFAULT_CHUNK = 1024 * 1024
# A reader holds two chunks: a header claiming more is corrupt (this writer uses DEFAULT_CHUNK).
MAX_CHUNK = 64 * 1024 * 1024
HEADER_BYTES = len(MAGIC) + 1 + KEY_ID_BYTES + PREFIX_BYTES + 4
MAX_CHUNKS = 2**32  # the counter is 4 bytes: 4 PiB at 1 MiB chunks
# Encryption into a reused buffer (cryptography >= 45); older versions allocate each chunk.
_ENCRYPT_INTO = hasattr(AESGCM, "encrypt_into")


class CryptoError(Exception):
    """The archive cannot be decrypted: wrong key, corrupted or truncated. The message says which."""


def parse_key(value: str) -> bytes:
    """A DOCUID_BACKUP_KEY value (base64 of 32 random bytes) as bytes, or CryptoError."""
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError("the backup key is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise CryptoError(f"the backup key must be {KEY_BYTES} bytes (base64 of 32 random bytes), not {len(key)}")
    return key


def generate_key() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def key_id(key: bytes) -> bytes:
    """A public fingerprint naming the key, so a wrong key is reported as such, not as corruption."""
    return hmac.new(key, b"docuid-backup-key-id", hashlib.sha256).digest()[:KEY_ID_BYTES]


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    if counter >= MAX_CHUNKS:
        raise CryptoError("stream too long for one archive")
    return prefix + counter.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


class EncryptingWriter:
    """A write-only file object: plaintext in, encrypted chunks out to `sink`; close() writes the last chunk.

    One plaintext and one ciphertext buffer of a chunk each, reused for every chunk, and
    whole chunks encrypted straight from the caller's buffer. What is handed to
    `sink.write` is only valid during that call (a file, a pipe or BytesIO copies it).
    """

    def __init__(self, sink: BinaryIO, key: bytes, *, chunk_size: int = DEFAULT_CHUNK):
        if not 0 < chunk_size <= MAX_CHUNK:
            raise ValueError(f"chunk size must be 1..{MAX_CHUNK} bytes, not {chunk_size}")
        self._sink = sink
        self._aead = AESGCM(key)
        self._prefix = os.urandom(PREFIX_BYTES)
        self._chunk = chunk_size
        self._header = MAGIC + bytes([VERSION]) + key_id(key) + self._prefix + chunk_size.to_bytes(4, "big")
        self._buffer = bytearray(chunk_size)
        self._view = memoryview(self._buffer)
        self._filled = 0
        self._out = memoryview(bytearray(chunk_size + TAG_BYTES)) if _ENCRYPT_INTO else None
        self._counter = 0
        self.closed = False
        self.plaintext_bytes = 0
        sink.write(self._header)

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        size, chunk = len(view), self._chunk
        self.plaintext_bytes += size
        # A chunk is emitted only when more bytes follow it: the last one is close()'s, with last=1.
        position = 0
        if self._filled:
            position = min(chunk - self._filled, size)
            self._view[self._filled : self._filled + position] = view[:position]
            self._filled += position
            if self._filled == chunk and position < size:
                self._emit(self._view, last=False)
                self._filled = 0
        if not self._filled:
            while size - position > chunk:
                self._emit(view[position : position + chunk], last=False)
                position += chunk
            rest = size - position
            self._view[:rest] = view[position:]
            self._filled = rest
        return size

    def _emit(self, plaintext, *, last: bool) -> None:
        nonce = _nonce(self._prefix, self._counter, last)
        if self._out is not None:
            out = self._out[: len(plaintext) + TAG_BYTES]
            self._aead.encrypt_into(nonce, plaintext, self._header, out)
            self._sink.write(out)
        else:  # cryptography < 45 (the system Python that PostgreSQL's archive_command may run)
            self._sink.write(self._aead.encrypt(nonce, bytes(plaintext), self._header))
        self._counter += 1

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if not self.closed:
            self._emit(self._view[: self._filled], last=True)
            self._filled = 0
            self.closed = True


def _read_exactly(source: BinaryIO, size: int) -> bytes:
    parts, remaining = [], size
    while remaining:
        part = source.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def decrypt_chunks(source: BinaryIO, keys: Iterable[bytes], *, start: int = 0) -> Iterator[bytes]:
    """Yield authenticated plaintext chunks; raise CryptoError naming what is wrong.

    `start` (a plaintext offset; `source` must then be seekable) begins at the chunk
    holding that byte: each chunk is authenticated on its own, with its index in its
    nonce, so a chunk read out of place fails authentication like a corrupt one.
    """
    header = _read_exactly(source, HEADER_BYTES)
    if len(header) < HEADER_BYTES or not header.startswith(MAGIC):
        raise CryptoError("not a DocuID encrypted archive (bad header)")
    if header[len(MAGIC)] != VERSION:
        raise CryptoError(f"unsupported archive format version {header[len(MAGIC)]}")
    offset = len(MAGIC) + 1
    wanted = header[offset : offset + KEY_ID_BYTES]
    prefix = header[offset + KEY_ID_BYTES : offset + KEY_ID_BYTES + PREFIX_BYTES]
    chunk_size = int.from_bytes(header[-4:], "big")
    if not 0 < chunk_size <= MAX_CHUNK:
        raise CryptoError(f"not a valid DocuID encrypted archive (corrupt header: chunk size {chunk_size})")
    by_id = {key_id(key): key for key in keys}
    if wanted not in by_id:
        raise CryptoError(
            f"wrong key: the archive was encrypted with key {wanted.hex()}, "
            f"configured: {', '.join(k.hex() for k in by_id) or 'none'}"
        )
    aead = AESGCM(by_id[wanted])
    block = chunk_size + TAG_BYTES
    counter, skip = divmod(start, chunk_size)
    if counter:
        source.seek(HEADER_BYTES + counter * block)
    current = _read_exactly(source, block)
    while True:
        following = _read_exactly(source, block)
        last = not following
        try:
            plaintext = aead.decrypt(_nonce(prefix, counter, last), current, header)
            if skip:
                plaintext, skip = plaintext[skip:], 0
            yield plaintext
        except InvalidTag:
            where = "truncated or its last chunk is corrupt" if last else f"corrupt at chunk {counter}"
            raise CryptoError(f"archive is {where} (authentication failed)") from None
        if last:
            return
        counter += 1
        current = following


class DecryptingReader:
    """A read-only file object over decrypt_chunks, for tarfile's stream mode."""

    def __init__(self, source: BinaryIO, keys: Iterable[bytes], *, start: int = 0):
        self._chunks = decrypt_chunks(source, keys, start=start)
        self._buffer = b""
        self._offset = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return b"".join([self._take(len(self._buffer) - self._offset), *self._chunks])
        while len(self._buffer) - self._offset < size and not self._done:
            rest = self._buffer[self._offset :]
            try:
                self._buffer = rest + next(self._chunks)
            except StopIteration:
                self._buffer = rest
                self._done = True
            self._offset = 0
        return self._take(size)

    def _take(self, size: int) -> bytes:
        data = self._buffer[self._offset : self._offset + size]
        self._offset += len(data)
        return data

    def drain(self) -> None:
        """Read to the end, so the last chunk's authentication (truncation check) is done."""
        while self.read(DEFAULT_CHUNK):
            pass


def encrypt_stream(source: BinaryIO, sink: BinaryIO, key: bytes) -> int:
    writer = EncryptingWriter(sink, key)
    while data := source.read(DEFAULT_CHUNK):
        writer.write(data)
    writer.close()
    return writer.plaintext_bytes


def decrypt_stream(source: BinaryIO, sink: BinaryIO, keys: Iterable[bytes]) -> int:
    total = 0
    for chunk in decrypt_chunks(source, keys):
        sink.write(chunk)
        total += len(chunk)
    return total


def keys_from_env(environ=os.environ) -> list[bytes]:
    """DOCUID_BACKUP_KEY first, then DOCUID_BACKUP_OLD_KEYS (comma-separated) for reading old archives."""
    values = [environ.get("DOCUID_BACKUP_KEY", ""), *environ.get("DOCUID_BACKUP_OLD_KEYS", "").split(",")]
    return [parse_key(value) for value in values if value.strip()]


def main(argv: list[str]) -> int:
    """`python -m operations.crypto encrypt|decrypt|genkey` between stdin and stdout (deploy/postgres scripts)."""
    if argv == ["genkey"]:
        print(generate_key())
        return 0
    if argv not in (["encrypt"], ["decrypt"]):
        print("usage: python -m operations.crypto encrypt|decrypt|genkey  (stdin -> stdout)", file=sys.stderr)
        return 2
    try:
        keys = keys_from_env()
        if not keys:
            raise CryptoError("DOCUID_BACKUP_KEY is not set")
        if argv[0] == "encrypt":
            encrypt_stream(sys.stdin.buffer, sys.stdout.buffer, keys[0])
        else:
            decrypt_stream(sys.stdin.buffer, sys.stdout.buffer, keys)
        sys.stdout.buffer.flush()
    except CryptoError as exc:
        print(f"docuid crypto: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
