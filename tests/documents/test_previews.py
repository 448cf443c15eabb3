"""Open-page previews: spreadsheets as tables (bounded), slides in the deck's order, all escaped."""

import io
import zipfile

import pytest
from django.urls import reverse

from documents import previews, samples
from tests.documents.conftest import login
from tests.documents.office_files import xlsx_bytes as xlsx
from tests.factories import make_document

pytestmark = pytest.mark.django_db

P = "http://schemas.openxmlformats.org/presentationml/2006/main"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
REL = "http://schemas.openxmlformats.org/package/2006/relationships"
HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def pptx(slides: list[list[str]], order: list[int]) -> bytes:
    """A deck whose slide files are numbered 1..n but shown in `order` (presentation.xml's list)."""
    parts = {}
    for number, paragraphs in enumerate(slides, start=1):
        body = "".join(f"<a:p><a:r><a:t>{text}</a:t></a:r></a:p>" for text in paragraphs)
        parts[f"ppt/slides/slide{number}.xml"] = (
            HEAD + f'<p:sld xmlns:p="{P}" xmlns:a="{A}"><p:cSld><p:spTree><p:sp><p:txBody>{body}'
            "</p:txBody></p:sp></p:spTree></p:cSld></p:sld>"
        )
    ids = "".join(f'<p:sldId id="{256 + i}" r:id="rId{n}"/>' for i, n in enumerate(order))
    parts["ppt/presentation.xml"] = (
        HEAD + f'<p:presentation xmlns:p="{P}" xmlns:r="{R}"><p:sldIdLst>{ids}</p:sldIdLst></p:presentation>'
    )
    rels = "".join(
        f'<Relationship Id="rId{n}" Type="{R}/slide" Target="slides/slide{n}.xml"/>' for n in range(1, len(slides) + 1)
    )
    parts["ppt/_rels/presentation.xml.rels"] = HEAD + f'<Relationships xmlns="{REL}">{rels}</Relationships>'
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(samples.pptx_bytes("cover"))) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename not in parts:
                target.writestr(info, source.read(info.filename))
        for name, content in parts.items():
            target.writestr(name, content)
    return out.getvalue()


def open_page(client, owner, name, data) -> str:
    document = make_document(owner, name=name, data=data)
    login(client, owner)
    response = client.get(reverse("documents:open", args=[document.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_a_spreadsheet_opens_as_a_table_per_sheet_with_its_name(client, owner):
    data = xlsx(
        {
            "Budget": [["Month", "Budget"], ["January", 1200], ["February", 1350.5]],
            "Notes": [["Approved by", "Finance"]],
        }
    )
    html = open_page(client, owner, "Budget.xlsx", data)
    assert '<h2 id="sheet-1">Budget</h2>' in html and '<h2 id="sheet-2">Notes</h2>' in html
    assert '<tr><th scope="row">2</th><td>January</td><td>1200</td></tr>' in html
    assert "<td>February</td><td>1350.5</td>" in html
    assert '<th scope="col">A</th><th scope="col">B</th>' in html
    assert "Month Budget January" not in html  # no longer flattened to one line


def test_a_spreadsheet_preview_is_bounded_to_the_first_rows_and_columns(client, owner):
    rows = [[f"r{r}c{c}" for c in range(1, 31)] for r in range(1, 201)]
    html = open_page(client, owner, "Big.xlsx", xlsx({"Data": rows}))
    assert "<td>r50c20</td>" in html
    assert "r51c1" not in html and "r1c21" not in html
    assert "Showing the first 50 rows and 20 columns" in html


def test_spreadsheet_cells_are_escaped(client, owner):
    html = open_page(client, owner, "x.xlsx", xlsx({"<b>Sheet": [["<img src=x onerror=alert(1)>", "a & b"]]}))
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;b&gt;Sheet" in html and "a &amp; b" in html


def test_a_workbook_with_an_oversized_part_gets_no_preview_not_a_500(client, owner):
    data = xlsx({"S": [["x"]]})
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "xl/styles.xml":  # a part openpyxl reads whole
                content = content.replace(b"</styleSheet>", b" " * (previews.XML_PART_MAX + 1) + b"</styleSheet>")
            target.writestr(info.filename, content)
    assert len(out.getvalue()) < 256 * 1024  # a small upload that would inflate past the bound
    html = open_page(client, owner, "bomb.xlsx", out.getvalue())
    assert "There is no preview for this kind of file" in html


def test_an_entity_expansion_in_a_workbook_is_refused(owner):
    data = samples.xlsx_bytes([["x"]])  # its one cell is shared string 0
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&b;</t></si></sst>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, laughs if info.filename == "xl/sharedStrings.xml" else source.read(info))
    document = make_document(owner, name="laughs.xlsx", data=out.getvalue())
    assert previews.text_preview(document.current_version) is None


def test_slides_open_one_section_each_in_the_decks_order(client, owner):
    deck = pptx([["Intro", "Welcome"], ["Results"], ["Next steps", "Questions?"]], order=[3, 1, 2])
    html = open_page(client, owner, "Deck.pptx", deck)
    first, second, third = (html.index(text) for text in ("Next steps", "Intro", "Results"))
    assert first < second < third
    assert (
        '<li class="preview-slide" id="slide-1">\n        <h2>Slide 1</h2>\n        <p>Next steps</p><p>Questions?</p>'
        in html
    )
    assert "<h2>Slide 3</h2>" in html and "<h2>Slide 4</h2>" not in html


def test_slide_text_is_escaped(client, owner):
    html = open_page(client, owner, "x.pptx", pptx([["&lt;script&gt;alert(1)&lt;/script&gt;"]], order=[1]))
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_api_and_share_page_still_get_plain_text_with_the_rows_and_slides(owner):
    sheet = make_document(owner, name="b.xlsx", data=xlsx({"Budget": [["Month", "Budget"], ["January", 1200]]}))
    text = previews.text_preview(sheet.current_version)
    assert isinstance(text, str) and "Month\tBudget\nJanuary\t1200" in text
    deck = make_document(owner, name="d.pptx", data=pptx([["One"], ["Two"]], order=[2, 1]))
    assert str(previews.text_preview(deck.current_version)) == "Slide 1\nTwo\n\nSlide 2\nOne"
