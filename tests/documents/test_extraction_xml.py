"""XML inside OOXML / OpenDocument parts: parsed by ElementTree's C parser only after a DOCTYPE was ruled out."""

import pytest

from documents.extraction import ExtractionError
from documents.extraction.archive import iterparse_xml, parse_xml
from tests.documents.test_extraction import BILLION_LAUGHS

EXTERNAL = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>'
PARAMETER = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY % p SYSTEM "http://example.invalid/x.dtd"> %p;]><d/>'


@pytest.mark.parametrize(
    "data",
    [
        (BILLION_LAUGHS + "<d>&lol9;</d>").encode(),
        EXTERNAL.encode(),
        PARAMETER.encode(),
        b'<?xml version="1.0"?><!DOCTYPE d><d>harmless</d>',  # no entities at all: still refused
        EXTERNAL.replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16"),  # not ASCII bytes
        EXTERNAL.encode("utf-16-be"),  # no BOM
    ],
    ids=["billion-laughs", "external-entity", "parameter-entity", "plain-doctype", "utf-16", "utf-16-no-bom"],
)
@pytest.mark.parametrize("parse", [parse_xml, lambda data: list(iterparse_xml(data))], ids=["tree", "events"])
def test_any_document_type_declaration_is_refused_before_parsing(parse, data):
    with pytest.raises(ExtractionError) as refused:
        parse(data)
    assert refused.value.reason in ("unsafe", "damaged")
    assert "passwd" not in str(refused.value) and "root:" not in str(refused.value)


def test_a_doctype_is_refused_as_unsafe_with_a_reason_people_understand():
    with pytest.raises(ExtractionError, match="entities") as refused:
        parse_xml((BILLION_LAUGHS + "<d>&lol9;</d>").encode())
    assert refused.value.reason == "unsafe"


@pytest.mark.parametrize(
    "data", [b"", b"<a><b></a>", b"\x00\x01garbage", b"<a>" * 10], ids=["empty", "mismatched", "binary", "unclosed"]
)
def test_damaged_xml_is_a_damaged_file(data):
    with pytest.raises(ExtractionError) as damaged:
        list(iterparse_xml(data))
    assert damaged.value.reason == "damaged"


def test_ordinary_xml_is_parsed_with_its_predefined_entities_and_utf16():
    assert parse_xml(b"<a>fish &amp; chips</a>").text == "fish & chips"
    assert parse_xml('<?xml version="1.0" encoding="UTF-16"?><a>é</a>'.encode("utf-16")).text == "é"
    events = [(event, elem.tag) for event, elem in iterparse_xml(b"<a><b>x</b></a>")]
    assert events == [("start", "a"), ("start", "b"), ("end", "b"), ("end", "a")]


# --- small parts are walked as a tree, large ones streamed: both give the same text ----------


def _cases():
    from tests.documents import test_extraction as files

    nested = files.docx_bytes(
        f"<w:document {files.W}><w:body><w:p><w:r><w:t>Before</w:t><w:tab/><w:t>tab</w:t><w:br/><w:t>break</w:t>"
        "</w:r></w:p><w:tbl><w:tr><w:tc><w:p><w:r><w:t>one</w:t></w:r></w:p><w:p><w:r><w:t>cell</w:t><w:tab/>"
        "<w:t>two lines</w:t></w:r></w:p></w:tc><w:tc><w:p/></w:tc></w:tr></w:tbl><w:p><w:r><w:t>After</w:t></w:r>"
        "</w:p></w:body></w:document>"
    )
    ods = files.ODS_BODY.replace(
        "</table:table>", "<table:table-row><table:table-cell/></table:table-row></table:table>"
    )
    return [
        ("docx", files.docx_bytes(), files.DOCX),
        ("docx-tabs-breaks-cells", nested, files.DOCX),
        ("pptx", files.pptx_bytes(), files.PPTX),
        ("odt", files.odf_bytes("text", files.ODT_BODY), "application/vnd.oasis.opendocument.text"),
        ("ods", files.odf_bytes("spreadsheet", ods), "application/vnd.oasis.opendocument.spreadsheet"),
        ("odp", files.odf_bytes("presentation", files.ODP_BODY), "application/vnd.oasis.opendocument.presentation"),
    ]


@pytest.mark.parametrize("case", range(6), ids=["docx", "docx-tabs-breaks-cells", "pptx", "odt", "ods", "odp"])
def test_the_tree_walk_and_the_stream_give_the_same_text(tmp_path, monkeypatch, case):
    from documents.extraction import Limits, odf, ooxml
    from documents.extraction.registry import extract

    _, data, mime_type = _cases()[case]
    path = tmp_path / "input"
    path.write_bytes(data)
    tree = extract(str(path), mime_type, Limits()).text
    monkeypatch.setattr(ooxml, "TREE_MAX_BYTES", 0)
    monkeypatch.setattr(odf, "TREE_MAX_BYTES", 0)
    streamed = extract(str(path), mime_type, Limits()).text
    assert tree == streamed and tree


def test_the_tree_walk_stops_at_the_character_budget(tmp_path):
    from documents.extraction import Limits
    from documents.extraction.registry import extract
    from tests.documents import test_extraction as files

    body = "".join(f"<w:p><w:r><w:t>paragraph {n}</w:t></w:r></w:p>" for n in range(20000))
    path = tmp_path / "input"
    path.write_bytes(files.docx_bytes(f"<w:document {files.W}><w:body>{body}</w:body></w:document>"))
    text = extract(str(path), files.DOCX, Limits(max_chars=1000)).text
    assert len(text) <= 1000 and text.startswith("paragraph 0\nparagraph 1\n")


# --- xlsx: openpyxl reads the parts itself, so every part is checked for a DOCTYPE first ----


def _xlsx_with(part: str, prolog: str) -> bytes:
    import zipfile as zf
    from io import BytesIO

    from tests.documents import test_extraction as files

    source = zf.ZipFile(BytesIO(files.xlsx_bytes()))
    parts = {}
    for name in source.namelist():
        data = source.read(name)
        if name == part:
            data = (prolog + data.decode().split("?>", 1)[-1]).encode()
        parts[name] = data
    return files.zip_bytes(parts)


@pytest.mark.parametrize(
    ("part", "prolog"),
    [
        ("xl/styles.xml", BILLION_LAUGHS),
        ("xl/workbook.xml", '<?xml version="1.0"?><!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]>'),
        ("xl/worksheets/sheet1.xml", '<?xml version="1.0"?><!DOCTYPE worksheet>'),
        ("[Content_Types].xml", "<!-- padding -->" * 5000 + "<!DOCTYPE Types>"),  # past the first slice read
    ],
    ids=["billion-laughs-in-styles", "external-entity-in-workbook", "bare-doctype-in-sheet", "late-doctype"],
)
def test_an_xlsx_with_a_doctype_in_any_part_is_refused_in_the_sandbox(tmp_path, part, prolog):
    from documents.extraction import Limits, sandbox
    from tests.documents.test_extraction import XLSX

    path = tmp_path / "input"
    path.write_bytes(_xlsx_with(part, prolog))
    outcome = sandbox.run(str(path), XLSX, Limits(), cpu_seconds=30, memory_mb=1024, timeout_seconds=30)
    assert (outcome.status, outcome.reason) == ("failed", "unsafe")


def test_an_xlsx_with_images_and_other_binary_parts_is_read(tmp_path):
    import io

    import openpyxl
    from openpyxl.drawing.image import Image as SheetImage
    from PIL import Image

    from documents.extraction import Limits, sandbox
    from tests.documents.test_extraction import XLSX

    workbook = openpyxl.Workbook()
    workbook.active.append(["Pelican", 7])
    picture = io.BytesIO()
    Image.new("RGB", (20, 20), "red").save(picture, "PNG")
    workbook.active.add_image(SheetImage(picture), "C3")
    path = tmp_path / "input"
    workbook.save(path)
    outcome = sandbox.run(str(path), XLSX, Limits(), cpu_seconds=30, memory_mb=1024, timeout_seconds=30)
    assert outcome.status == "done" and "Pelican\t7" in outcome.text
