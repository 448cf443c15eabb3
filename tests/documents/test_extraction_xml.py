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
