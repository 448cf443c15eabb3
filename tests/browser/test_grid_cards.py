"""The documents grid in Chromium at 390 and 1280 px: cards of one row are as tall as each other and their titles line up.

Portrait pages, landscape and square images and icon-only documents share one fixed-ratio thumbnail box
(object-fit: contain on a neutral background); a long title is clamped to two lines and stays whole
in the link's text (its accessible name) and its tooltip.
"""

import pytest

from documents import renditions, samples
from tests.browser.test_viewer import assert_clean, screenshot
from tests.factories import UserFactory, make_document

pytestmark = pytest.mark.django_db(transaction=True)

LONG_TITLE = "Minutes of the extraordinary general assembly of the regional cooperative housing association 2026.txt"

# Per card: the box of its thumbnail, its title link and itself, and whether the title is cut short.
CARDS = """() => [...document.querySelectorAll('.doc-card')].map((card) => {
  const box = (el) => { const r = el.getBoundingClientRect(); return {top: Math.round(r.top), height: Math.round(r.height),
                                                                      width: Math.round(r.width)}; };
  const link = card.querySelector('.doc-card-link');
  const img = card.querySelector('.doc-thumb img');
  return {card: box(card), thumb: box(card.querySelector('.doc-thumb')), title: box(link), text: link.textContent,
          tooltip: link.title, line: parseFloat(getComputedStyle(link).lineHeight), clamped: link.scrollHeight > link.clientHeight + 1,
          fit: img ? getComputedStyle(img).objectFit : null,
          background: getComputedStyle(card.querySelector('.doc-thumb')).backgroundColor};
})"""


@pytest.fixture
def owner():
    return UserFactory(name="Greta Grid")


@pytest.fixture(params=["phone", "desktop"])
def viewport(request):
    return request.param


def test_cards_of_a_row_are_equal_and_their_titles_line_up(open_page, site, owner, viewport):
    drawn = [
        make_document(owner, name="Portrait report.pdf", data=samples.pdf_bytes("Portrait report", pages=2)),
        make_document(owner, name="Landscape banner.png", data=samples.png_bytes(320, 120, (200, 60, 40))),
        make_document(owner, name="Square logo.png", data=samples.png_bytes(160, 160, (40, 120, 60))),
    ]
    for document in drawn:  # already drawn when make run renders eagerly; a no-op then
        if renditions.thumbnail_for(document.current_version) is None:
            renditions.build(version=document.current_version)
    make_document(owner, name=LONG_TITLE, data=samples.text_bytes("no thumbnail for text\n"))
    make_document(owner, name="Notes.txt", data=samples.text_bytes("icon only\n"))
    open_page.goto(f"{site}/documents/?view=grid")
    for index in range(open_page.locator(".doc-card img").count()):
        thumb = open_page.locator(".doc-card img").nth(index)
        thumb.scroll_into_view_if_needed()
        open_page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    open_page.evaluate("window.scrollTo(0, 0)")
    cards = open_page.evaluate(CARDS)
    assert len(cards) == 5 and sum(card["fit"] == "contain" for card in cards) == 3
    # One box for every thumbnail and icon: same size, portrait ratio, neutral (not the card's white) background.
    assert {(c["thumb"]["width"], c["thumb"]["height"]) for c in cards} == {
        (cards[0]["thumb"]["width"], cards[0]["thumb"]["height"])
    }
    assert cards[0]["thumb"]["height"] > cards[0]["thumb"]["width"]
    assert {c["background"] for c in cards} == {"rgb(238, 241, 244)"}
    rows = {}
    for card in cards:
        rows.setdefault(card["card"]["top"], []).append(card)
    assert len(rows) >= 2 and max(len(row) for row in rows.values()) >= 2  # several rows of several cards
    for row in rows.values():
        assert len({c["card"]["height"] for c in row}) == 1, row
        assert len({c["title"]["top"] for c in row}) == 1, row
    long = next(c for c in cards if c["tooltip"] == LONG_TITLE)
    assert long["clamped"] and long["text"] == LONG_TITLE
    assert long["title"]["height"] <= 2 * long["line"] + 1  # two lines
    assert open_page.get_by_role("link", name=LONG_TITLE, exact=True).count() == 1
    assert_clean(open_page)
    screenshot(open_page, "documents-grid", viewport)
