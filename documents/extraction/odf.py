"""OpenDocument (odt, ods, odp): content.xml, paragraphs as lines, table cells tab-separated, slides in order."""

from documents.extraction import Extracted, Limits, TextSink
from documents.extraction.archive import BoundedZip, iterparse_xml, local, parse_xml

BLOCKS = {"p", "h"}
TEXT_NS = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"


CELLS = ("table-cell", "covered-table-cell")
# content.xml up to this size is parsed whole by the C parser and walked as a tree (about twice as fast as
# one Python event per element); larger ones are streamed, so memory stays bounded.
TREE_MAX_BYTES = 8 * 1024 * 1024


def extract_odf(path: str, limits: Limits, kind: str) -> Extracted:
    sink = TextSink(limits.max_chars)
    with BoundedZip(path, limits) as zf:
        data = zf.read("content.xml")
        try:
            if len(data) <= TREE_MAX_BYTES:
                tree = _Tree(sink)
                tree.walk(parse_xml(data), None)
                tree.flush()
            else:
                _stream(iterparse_xml(data), sink)
        except TextSink.Full:
            pass
    return Extracted(sink.text(), f"odf-{kind}")


class _Tree:
    def __init__(self, sink: TextSink):
        self.sink = sink
        self.slide = 0
        self.lines: list[str] = []  # handed to the sink in batches (one call per line costs as much as the line)
        self.size = 0

    def add(self, line: str) -> None:
        self.lines.append(line)
        self.size += len(line)
        if self.size > 65536:
            self.flush()

    def flush(self) -> None:
        lines, self.lines, self.size = self.lines, [], 0
        self.sink.add("".join(lines))

    def walk(self, elem, cell: list[str] | None) -> None:
        """`cell` collects the paragraphs of the table cell being read (None outside tables)."""
        for child in elem:
            tag = local(child.tag)
            if tag in BLOCKS:
                text = _flatten(child).strip()
                if text and cell is not None:
                    cell.append(text)
                elif text:
                    self.add(text + "\n")
            elif tag == "table-row" and cell is None:
                row = []
                for item in child:
                    if local(item.tag) in CELLS:
                        parts: list[str] = []
                        self.walk(item, parts)
                        row.append(" ".join(parts))
                while row and not row[-1]:
                    row.pop()
                if row:
                    self.add("\t".join(row) + "\n")
            elif tag == "page" and cell is None:
                self.slide += 1
                self.add(f"Slide {self.slide}\n")
                self.walk(child, None)
                self.add("\n")
            elif tag == "table" and cell is None:
                self.walk(child, None)
                self.add("\n")
            else:
                self.walk(child, cell)


def _stream(events, sink: TextSink) -> None:
    slide = 0
    in_cell = 0
    cell: list[str] = []
    row: list[str] = []
    # Text inside a paragraph is the element's text plus each child's tail.
    for event, elem in events:
        tag = local(elem.tag)
        if event == "start":
            if tag in CELLS:
                in_cell += 1
            elif tag == "page":
                slide += 1
                sink.add(f"Slide {slide}\n")
            continue
        if tag in BLOCKS:
            text = _flatten(elem).strip()
            if text and in_cell:
                cell.append(text)
            elif text:
                sink.add(text + "\n")
            elem.clear()
        elif tag in CELLS:
            in_cell = max(0, in_cell - 1)
            row.append(" ".join(cell))
            cell = []
        elif tag == "table-row":
            while row and not row[-1]:
                row.pop()
            if row:
                sink.add("\t".join(row) + "\n")
            row = []
        elif tag in ("page", "table"):
            sink.add("\n")


def _flatten(elem) -> str:
    if not len(elem):  # most paragraphs: plain text, no spans
        return elem.text or ""
    parts = [elem.text or ""]
    for child in elem:
        tag = local(child.tag)
        if tag == "s":
            count = child.get(f"{{{TEXT_NS}}}c", "1")
            parts.append(" " * min(int(count) if count.isdigit() else 1, 1000))
        elif tag == "tab":
            parts.append("\t")
        elif tag == "line-break":
            parts.append("\n")
        elif tag not in ("note-citation",):
            parts.append(_flatten(child))
        parts.append(child.tail or "")
    return "".join(parts)
