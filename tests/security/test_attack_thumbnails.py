"""Attacks on thumbnails (issue #15): images that are decompression bombs below Pillow's hard stop.

documents.thumbnails sets Image.MAX_IMAGE_PIXELS to 64 MP and SECURITY.md says larger images
are refused before decoding. Pillow only *warns* between that limit and twice it, and raises
above 2x: a real, valid 121 MP PNG (about 350 kB uploaded) was decoded whole — 363 MB of
pixels and seconds of CPU in the worker's child for every such upload.
"""

import struct
import time
import zlib

import pytest

from documents import thumbnails


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def valid_png(width: int, height: int) -> bytes:
    """A complete, valid black RGB PNG of width x height (its IDAT compresses to almost nothing)."""
    row = b"\0" + b"\0" * (width * 3)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [8_100, 11_000], ids=["66MP", "121MP"])
def test_an_image_over_the_pixel_limit_is_refused_before_decoding(tmp_path, side):
    assert thumbnails.MAX_IMAGE_PIXELS < side * side < 2 * thumbnails.MAX_IMAGE_PIXELS
    source = tmp_path / "bomb.png"
    source.write_bytes(valid_png(side, side))
    started = time.monotonic()
    with pytest.raises(thumbnails.ThumbnailError) as refused:
        thumbnails.run(str(source), "image", str(tmp_path / "t.webp"), timeout_seconds=60, memory_mb=1024)
    assert refused.value.reason == "failed"
    assert time.monotonic() - started < 10  # refused from the header, not after decoding


def test_an_image_at_the_limit_still_gets_its_thumbnail(tmp_path):
    source = tmp_path / "big.png"
    source.write_bytes(valid_png(4_000, 3_000))  # 12 MP: a phone photo
    width, height = thumbnails.run(str(source), "image", str(tmp_path / "t.webp"), timeout_seconds=60, memory_mb=1024)
    assert (width, height) == (320, 240)
