"""Plain text, Markdown and CSV, in whatever encoding they were saved (charset-normalizer decides)."""

import codecs
import os

from documents.extraction import Extracted, Limits

BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def decode(data: bytes) -> str:
    for bom, encoding in BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    try:
        # Incremental: a character cut at the read limit is dropped, not a reason to guess again.
        return codecs.getincrementaldecoder("utf-8")().decode(data)
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = from_bytes(data[: 1024 * 1024])
    best = matches.best()
    if best is None:
        return data.decode("cp1252", errors="replace")
    # Short Western text fits several code pages equally well; Windows-1252 (latin-1's superset) is the
    # likeliest by far, so it wins a tie.
    tied = {match.encoding for match in matches if match.chaos == best.chaos and match.coherence == best.coherence}
    return data.decode("cp1252" if "cp1252" in tied else best.encoding, errors="replace")


def extract_text(path: str, limits: Limits) -> Extracted:
    # A character is at most 4 bytes in any encoding we decode: read no more than that.
    with open(path, "rb") as handle:
        # No bigger buffer than the file: read(n) allocates n bytes up front.
        data = handle.read(min(limits.max_chars * 4, os.fstat(handle.fileno()).st_size + 1))
    text = decode(data)
    if "\x00" in text:  # a scan is cheaper than a copy
        text = text.replace("\x00", "")
    return Extracted(text[: limits.max_chars].strip(), "text")
