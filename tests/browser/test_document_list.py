"""The document list in Chromium: a table on a desktop, stacked cards on a phone, no word split across lines."""

import pytest

from documents import samples
from tests.browser.test_documents import signed_in_context
from tests.factories import UserFactory, make_document

pytestmark = pytest.mark.django_db(transaction=True)

# Every word of a link, button or table cell that the browser laid out on more than one line.
BROKEN_WORDS = """() => {
  const broken = [];
  for (const el of document.querySelectorAll('a, button, .button, td, th, summary, .badge')) {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
        if (lines.size > 1) broken.push(match[0]);
      }
    }
  }
  return broken;
}"""


@pytest.fixture
def library():
    user = UserFactory(name="Lena List")
    make_document(user, name="Logo.png", data=samples.png_bytes(), category="Brand", tags=["image"])
    make_document(user, name="Tiny note.txt", data=b"x" * 99)
    make_document(user, name="Quarterly budget review.xlsx", data=samples.xlsx_bytes(), security_level="confidential")
    make_document(user, name="Contract.docx", data=samples.docx_bytes(), category="Contracts", tags=["legal"])
    return user


def test_on_a_phone_the_list_is_stacked_cards_with_labels_and_nothing_overflows(site, new_context, library):
    page = signed_in_context(new_context, site, library).new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(site + "/documents/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.evaluate(BROKEN_WORDS) == []
    row = page.locator("table.stack-table tbody tr").first
    assert row.evaluate("tr => getComputedStyle(tr).display") == "block"
    size = page.locator('td[data-label="Size"]').first
    assert size.evaluate("td => getComputedStyle(td, '::before').content") == '"Size"'
    assert page.locator("table.stack-table thead").evaluate("h => h.getBoundingClientRect().height") <= 1
    # every card stays inside its list: no cell sticks out of its row
    assert page.evaluate(
        """() => [...document.querySelectorAll('.stack-table td')].every((td) =>
             td.getBoundingClientRect().right <= td.closest('tr').getBoundingClientRect().right + 0.5)"""
    )


def test_on_a_desktop_the_list_is_a_table_and_no_word_is_split(site, new_context, library):
    page = signed_in_context(new_context, site, library).new_page()
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(site + "/documents/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert (
        page.locator("table.stack-table tbody tr").first.evaluate("tr => getComputedStyle(tr).display") == "table-row"
    )
    assert page.locator("table.stack-table thead").is_visible()
    assert page.evaluate(BROKEN_WORDS) == []


def apply_filters(page) -> None:
    with page.expect_navigation():
        page.click("text=Apply filters")


def test_the_filter_panel_applies_without_javascript_and_a_reversed_range_is_explained(site, browser, library):
    def no_js_context(**kwargs):
        return browser.new_context(java_script_enabled=False, **kwargs)

    context = signed_in_context(no_js_context, site, library)
    try:
        page = context.new_page()
        page.goto(site + "/documents/")
        page.click("summary")
        page.fill("#id_modified_from", "2026-12-31")
        page.fill("#id_modified_to", "2026-01-01")
        apply_filters(page)
        assert "must be on or after" in page.locator(".form-errors[role=alert]").inner_text()
        assert page.locator("table.stack-table tbody tr").count() == 4
        page.select_option("#id_family", "image")
        page.fill("#id_modified_from", "")
        page.fill("#id_modified_to", "")
        apply_filters(page)
        assert page.locator("table.stack-table tbody tr").count() == 1
        page.fill("#id_q", "zebra")
        apply_filters(page)
        assert page.locator(".empty-state h3").inner_text() == "No documents match these filters"
        with page.expect_navigation():
            page.click(".empty-state >> text=Clear filters")
        assert page.locator("table.stack-table tbody tr").count() == 4
    finally:
        context.close()
