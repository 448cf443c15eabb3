"""Text extraction from stored files, one module per family of formats.

These modules import nothing from Django: they run in a grandchild of the extraction
zygote with CPU, memory and wall-clock limits (documents.extraction.sandbox, .zygote),
so a hostile file costs bounded resources. documents.services.extraction runs them and
stores the result on the version (VersionText).
"""

from dataclasses import dataclass


class ExtractionError(Exception):
    """The file could not be extracted; the message is a short reason for people (no file content)."""

    reason = "error"

    def __init__(self, message: str, *, reason: str | None = None):
        super().__init__(message)
        if reason:
            self.reason = reason


class ExtractionSkipped(ExtractionError):
    """The format is accepted for upload but its text is not extracted (yet)."""

    reason = "skipped"


@dataclass(frozen=True)
class Limits:
    max_chars: int = 2_000_000
    ocr_languages: str = "eng"
    # Bounds on what a file may make us inflate or visit, whatever its declared structure.
    max_part_bytes: int = 64 * 1024 * 1024
    max_total_bytes: int = 256 * 1024 * 1024
    max_parts: int = 10_000
    max_pages: int = 5_000
    max_ocr_pages: int = 50
    ocr_timeout_seconds: int = 120
    # LibreOffice's own wall-clock limit (legacy .doc/.xls/.ppt); the sandbox keeps it under its own.
    office_timeout_seconds: int = 120


@dataclass(frozen=True)
class Extracted:
    text: str
    extractor: str


class TextSink:
    """Collects text up to a character budget; stops the extractor once it is full."""

    class Full(Exception):
        pass

    def __init__(self, max_chars: int):
        self.max_chars = max_chars
        self.parts: list[str] = []
        self.size = 0

    def add(self, text: str) -> None:
        if not text:
            return
        room = self.max_chars - self.size
        if len(text) >= room:
            self.parts.append(text[:room])
            self.size = self.max_chars
            raise TextSink.Full
        self.parts.append(text)
        self.size += len(text)

    def text(self) -> str:
        return "".join(self.parts).strip()
