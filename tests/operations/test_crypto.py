import io

import pytest

from operations.crypto import (
    HEADER_BYTES,
    MAX_CHUNK,
    CryptoError,
    DecryptingReader,
    EncryptingWriter,
    decrypt_stream,
    encrypt_stream,
    generate_key,
    parse_key,
)

KEY = parse_key(generate_key())
CHUNK = 64


def encrypt(data: bytes, key: bytes = KEY) -> bytes:
    out = io.BytesIO()
    writer = EncryptingWriter(out, key, chunk_size=CHUNK)
    writer.write(data)
    writer.close()
    return out.getvalue()


def decrypt(blob: bytes, keys=(KEY,)) -> bytes:
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(blob), out, keys)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK])
def test_encrypted_data_decrypts_to_the_same_bytes_at_every_chunk_boundary(size):
    data = bytes(range(256)) * 2
    assert decrypt(encrypt(data[:size])) == data[:size]


def test_the_ciphertext_does_not_contain_the_plaintext():
    assert b"secret document" not in encrypt(b"secret document" * 10)


def test_a_wrong_key_is_reported_as_a_wrong_key_not_as_corruption():
    with pytest.raises(CryptoError, match="wrong key"):
        decrypt(encrypt(b"data"), keys=(parse_key(generate_key()),))


def test_an_old_key_in_the_keyring_still_decrypts():
    old = parse_key(generate_key())
    assert decrypt(encrypt(b"data", key=old), keys=(KEY, old)) == b"data"


def test_a_flipped_byte_is_detected():
    blob = bytearray(encrypt(b"x" * 300))
    blob[60] ^= 1
    with pytest.raises(CryptoError, match="corrupt"):
        decrypt(bytes(blob))


def test_an_archive_cut_at_a_chunk_boundary_is_detected_as_truncated():
    blob = encrypt(b"x" * (3 * CHUNK + 10))
    header = len(blob) - 4 * (CHUNK + 16) + (CHUNK - 10)
    with pytest.raises(CryptoError, match="truncated"):
        decrypt(blob[: header + 2 * (CHUNK + 16)])


def test_swapped_chunks_are_detected():
    blob = encrypt(b"a" * CHUNK + b"b" * CHUNK + b"c")
    header = len(blob) - 2 * (CHUNK + 16) - 17
    first, second = blob[header : header + CHUNK + 16], blob[header + CHUNK + 16 : header + 2 * (CHUNK + 16)]
    with pytest.raises(CryptoError):
        decrypt(blob[:header] + second + first + blob[header + 2 * (CHUNK + 16) :])


def test_a_file_that_is_not_an_archive_is_refused():
    with pytest.raises(CryptoError, match="not a DocuID encrypted archive"):
        decrypt(b"PK\x03\x04 a zip file, not ours" * 3)


def test_the_reader_serves_reads_of_any_size():
    data = bytes(range(256)) * 10
    reader = DecryptingReader(io.BytesIO(encrypt(data)), [KEY])
    parts = [reader.read(7), reader.read(1000), reader.read()]
    assert b"".join(parts) == data


@pytest.mark.parametrize("value", ["not base64!", "c2hvcnQ="])
def test_a_malformed_key_is_refused_with_its_reason(value):
    with pytest.raises(CryptoError, match="backup key"):
        parse_key(value)


def test_stream_helpers_round_trip():
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(b"hello" * 1000), out, KEY)
    assert decrypt(out.getvalue()) == b"hello" * 1000


@pytest.mark.parametrize("chunk_size", [0, MAX_CHUNK + 1, 2**32 - 1])
def test_a_header_with_an_impossible_chunk_size_is_refused_before_reading_on(chunk_size):
    blob = bytearray(encrypt(b"x" * 1000))
    blob[HEADER_BYTES - 4 : HEADER_BYTES] = chunk_size.to_bytes(4, "big")  # corrupt the header's last 4 bytes

    class Source(io.BytesIO):
        def read(self, size=-1):
            assert 0 <= size <= MAX_CHUNK + 64, f"read({size}): the header's chunk size was trusted"
            return super().read(size)

    with pytest.raises(CryptoError, match=f"corrupt header: chunk size {chunk_size}"):
        decrypt_stream(Source(bytes(blob)), io.BytesIO(), [KEY])
