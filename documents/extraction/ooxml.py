"""Office Open XML: Word (paragraphs and tables), Excel (sheets as tab-separated rows), PowerPoint (slides and notes)."""

import posixpath
import zipfile

import defusedxml

from documents.extraction import Extracted, ExtractionError, Limits, TextSink
from documents.extraction.archive import BoundedZip, iterparse_xml, local, parse_xml

R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


# Parts up to this size are parsed whole by the C parser and walked as a tree (about twice as fast as
# handing every element to Python as an event); larger ones are streamed, so memory stays bounded.
TREE_MAX_BYTES = 8 * 1024 * 1024


def _paragraph_text(zf: BoundedZip, name: str, sink: TextSink, *, paragraph: str, text: str) -> None:
    """Text of one WordprocessingML / DrawingML part: paragraphs as lines, table rows as tab-separated cells."""
    data = zf.read(name)
    if len(data) <= TREE_MAX_BYTES:
        tree = _TreeText(paragraph, text, sink)
        tree.walk(parse_xml(data))
        tree.flush()
    else:
        _stream_text(iterparse_xml(data), sink, paragraph=paragraph, text=text)


class _TreeText:
    def __init__(self, paragraph: str, text: str, sink: TextSink):
        self.paragraph, self.text, self.sink = paragraph, text, sink
        self.names: dict[str, tuple] = {}  # a paragraph's tag -> the full names of its text, tab and breaks
        self.lines: list[str] = []  # handed to the sink in batches: one call per line costs as much as the line
        self.size = 0

    def add(self, line: str) -> None:
        self.lines.append(line)
        self.size += len(line)
        if self.size > 65536:
            self.flush()

    def flush(self) -> None:
        lines, self.lines, self.size = self.lines, [], 0
        self.sink.add("".join(lines))

    def walk(self, elem) -> None:
        for child in elem:
            tag = local(child.tag)
            if tag == self.paragraph:
                if line := self.line(child, in_cell=False):
                    self.add(line + "\n")
            elif tag == "tr":
                cells = [self.cell(tc) for tc in child if local(tc.tag) == "tc"]
                while cells and not cells[-1]:
                    cells.pop()
                if cells:
                    self.add("\t".join(cells) + "\n")
            else:
                self.walk(child)

    def cell(self, tc) -> str:
        lines = (self.line(elem, in_cell=True) for elem in tc.iter() if local(elem.tag) == self.paragraph)
        return " ".join(line for line in lines if line)

    def line(self, paragraph, *, in_cell: bool) -> str:
        # Full names (the paragraph's namespace) compared directly: this loop sees every element of the part.
        names = self.names.get(paragraph.tag)
        if names is None:
            namespace = paragraph.tag[: -len(self.paragraph)]
            names = self.names[paragraph.tag] = (
                namespace + self.text,
                namespace + "tab",
                (namespace + "br", namespace + "cr"),
            )
        text, tab, breaks = names
        parts = []
        for elem in paragraph.iter():
            tag = elem.tag
            if tag == text:
                if elem.text:
                    parts.append(elem.text)
            elif tag == tab:
                parts.append(" " if in_cell else "\t")
            elif tag in breaks:
                parts.append(" " if in_cell else "\n")
        return "".join(parts).strip()


def _stream_text(events, sink: TextSink, *, paragraph: str, text: str) -> None:
    line: list[str] = []
    cell: list[str] = []  # paragraphs of the current table cell
    row: list[str] = []  # cells of the current table row
    in_cell = 0
    for event, elem in events:
        tag = local(elem.tag)
        if event == "start":
            if tag == "tc":
                in_cell += 1
            continue
        if tag == text and elem.text:
            line.append(elem.text)
        elif tag == "tab":
            line.append(" " if in_cell else "\t")
        elif tag in ("br", "cr"):
            line.append(" " if in_cell else "\n")
        elif tag == paragraph:
            joined = "".join(line).strip()
            if joined and in_cell:
                cell.append(joined)
            elif joined:
                sink.add(joined + "\n")
            line = []
        elif tag == "tc":
            in_cell -= 1
            row.append(" ".join(cell))
            cell = []
        elif tag == "tr":
            while row and not row[-1]:
                row.pop()
            if row:
                sink.add("\t".join(row) + "\n")
            row = []
        elem.clear()


def _relationships(zf: BoundedZip, part: str) -> dict[str, str]:
    folder, base = posixpath.split(part)
    rels = posixpath.join(folder, "_rels", base + ".rels")
    if not zf.has(rels):
        return {}
    targets = {}
    for rel in zf.parse(rels):
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External" or not target:
            continue
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
        targets[rel.get("Id", "")] = path
    return targets


def extract_docx(path: str, limits: Limits) -> Extracted:
    sink = TextSink(limits.max_chars)
    with BoundedZip(path, limits) as zf:
        try:
            _paragraph_text(zf, "word/document.xml", sink, paragraph="p", text="t")
            for name in sorted(n for n in zf.names() if n.startswith("word/footnotes") and n.endswith(".xml")):
                _paragraph_text(zf, name, sink, paragraph="p", text="t")
        except TextSink.Full:
            pass
    return Extracted(sink.text(), "ooxml-docx")


def extract_pptx(path: str, limits: Limits) -> Extracted:
    sink = TextSink(limits.max_chars)
    with BoundedZip(path, limits) as zf:
        presentation = zf.parse("ppt/presentation.xml")
        rels = _relationships(zf, "ppt/presentation.xml")
        slides = [rels.get(sld.get(f"{{{R_NS}}}id", "")) for sld in presentation.iter() if local(sld.tag) == "sldId"]
        try:
            for number, slide in enumerate((s for s in slides if s and zf.has(s)), start=1):
                sink.add(f"Slide {number}\n")
                _paragraph_text(zf, slide, sink, paragraph="p", text="t")
                for target in _relationships(zf, slide).values():
                    if "notesSlides/" in target and zf.has(target):
                        sink.add("Notes:\n")
                        _paragraph_text(zf, target, sink, paragraph="p", text="t")
                sink.add("\n")
        except TextSink.Full:
            pass
    return Extracted(sink.text(), "ooxml-pptx")


def extract_xlsx(path: str, limits: Limits) -> Extracted:
    import openpyxl

    # openpyxl inflates parts itself: check every declared size first (zip bomb).
    with BoundedZip(path, limits) as zf:
        total = 0
        for info in zf.infos.values():
            if info.file_size > limits.max_part_bytes:
                raise ExtractionError(
                    "A part of the file inflates beyond the size limit (zip bomb?).", reason="too_large"
                )
            total += info.file_size
        if total > limits.max_total_bytes:
            raise ExtractionError("The file inflates beyond the size limit (zip bomb?).", reason="too_large")
        # No part may declare a DOCTYPE: then openpyxl may parse with the C parser (the sandbox turns its
        # defusedxml off, about a quarter of its time) without any entity ever being declared.
        zf.refuse_doctypes()
    sink = TextSink(limits.max_chars)
    # Sheets are parsed lazily (read-only mode) while their rows are read: both steps can meet
    # a hostile part, so both are guarded.
    try:
        # A file object, not the path: openpyxl refuses paths whose extension it does not know.
        with open(path, "rb") as handle:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
            try:
                for sheet in workbook.worksheets:
                    sink.add(f"Sheet: {sheet.title}\n")
                    for row in sheet.iter_rows(values_only=True):
                        cells = ["" if value is None else str(value) for value in row]
                        while cells and not cells[-1]:
                            cells.pop()
                        if cells:
                            sink.add("\t".join(cells) + "\n")
                    sink.add("\n")
            except TextSink.Full:
                pass
            finally:
                workbook.close()
    except defusedxml.DefusedXmlException as exc:
        raise ExtractionError("The file's XML declares entities (billion laughs?); refused.", reason="unsafe") from exc
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError, SyntaxError) as exc:
        if _caused_by_defusedxml(exc):  # openpyxl re-raises defusedxml's refusal as a ValueError
            raise ExtractionError(
                "The file's XML declares entities (billion laughs?); refused.", reason="unsafe"
            ) from exc
        raise ExtractionError("The workbook could not be read; it may be damaged.", reason="damaged") from exc
    return Extracted(sink.text(), "ooxml-xlsx")


def _caused_by_defusedxml(exc: BaseException | None) -> bool:
    for _ in range(10):
        if exc is None:
            return False
        if isinstance(exc, defusedxml.DefusedXmlException):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
