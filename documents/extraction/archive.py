"""Zip containers (OOXML, OpenDocument) read within bounds, and XML parsed without entities.

A part's declared size is checked before it is inflated, and reading stops one byte
past it, so neither a zip bomb nor a header that lies about its size can make us
inflate more than Limits allows. XML goes through defusedxml: a DTD's entities
(billion laughs) and external references are refused.
"""

import io
import zipfile
from collections.abc import Iterator
from xml.etree.ElementTree import Element

import defusedxml
import defusedxml.ElementTree as SafeET

from documents.extraction import ExtractionError, Limits

CHUNK = 1024 * 1024


class BoundedZip:
    def __init__(self, path: str, limits: Limits):
        self.limits = limits
        self.inflated = 0
        try:
            self.zip = zipfile.ZipFile(path)
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise ExtractionError("The file is not a readable zip container.", reason="damaged") from exc
        if len(infos) > limits.max_parts:
            raise ExtractionError(f"The file has more than {limits.max_parts} parts.", reason="too_large")
        self.infos = {info.filename: info for info in infos}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.zip.close()

    def names(self) -> list[str]:
        return list(self.infos)

    def has(self, name: str) -> bool:
        return name in self.infos

    def read(self, name: str) -> bytes:
        info = self.infos.get(name)
        if info is None:
            raise ExtractionError(f"The file has no {name} part.", reason="damaged")
        limit = min(self.limits.max_part_bytes, self.limits.max_total_bytes - self.inflated)
        if info.file_size > limit:
            raise ExtractionError("A part of the file inflates beyond the size limit (zip bomb?).", reason="too_large")
        out = io.BytesIO()
        try:
            with self.zip.open(info) as part:
                while chunk := part.read(min(CHUNK, limit + 1 - out.tell())):
                    out.write(chunk)
                    if out.tell() > limit:
                        raise ExtractionError(
                            "A part of the file inflates beyond the size limit (zip bomb?).", reason="too_large"
                        )
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError) as exc:
            raise ExtractionError("A part of the file is damaged.", reason="damaged") from exc
        self.inflated += out.tell()
        return out.getvalue()

    def parse(self, name: str) -> Element:
        return parse_xml(self.read(name))

    def iterparse(self, name: str, events=("start", "end")) -> Iterator[tuple[str, Element]]:
        return iterparse_xml(self.read(name), events)


def parse_xml(data: bytes) -> Element:
    try:
        return SafeET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise ExtractionError("The file's XML declares entities (billion laughs?); refused.", reason="unsafe") from exc
    except SafeET.ParseError as exc:
        raise ExtractionError("The file's XML is damaged.", reason="damaged") from exc


def iterparse_xml(data: bytes, events=("start", "end")) -> Iterator[tuple[str, Element]]:
    try:
        yield from SafeET.iterparse(io.BytesIO(data), events=events, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise ExtractionError("The file's XML declares entities (billion laughs?); refused.", reason="unsafe") from exc
    except SafeET.ParseError as exc:
        raise ExtractionError("The file's XML is damaged.", reason="damaged") from exc


def local(tag: str) -> str:
    """The element's name without its namespace."""
    return tag.rsplit("}", 1)[-1]
