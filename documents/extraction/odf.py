"""OpenDocument (odt, ods, odp): content.xml, paragraphs as lines, table cells tab-separated, slides in order."""

from documents.extraction import Extracted, Limits, TextSink
from documents.extraction.archive import BoundedZip, local

BLOCKS = {"p", "h"}
TEXT_NS = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"


def extract_odf(path: str, limits: Limits, kind: str) -> Extracted:
    sink = TextSink(limits.max_chars)
    slide = 0
    in_cell = 0
    cell: list[str] = []
    row: list[str] = []
    with BoundedZip(path, limits) as zf:
        try:
            # Text inside a paragraph is the element's text plus each child's tail.
            for event, elem in zf.iterparse("content.xml"):
                tag = local(elem.tag)
                if event == "start":
                    if tag in ("table-cell", "covered-table-cell"):
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
                elif tag in ("table-cell", "covered-table-cell"):
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
        except TextSink.Full:
            pass
    return Extracted(sink.text(), f"odf-{kind}")


def _flatten(elem) -> str:
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
