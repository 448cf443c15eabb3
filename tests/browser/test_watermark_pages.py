"""Confidential documents in Chromium at a phone's and a desktop's width (issue #15).

The viewer draws a confidential PDF with its stamp (read from PDF.js's text layer), and
the detail page says that copies are stamped and gives the owner the Downloads choice
for an Office document, without overflowing either width.
"""

import re
from pathlib import Path

import pytest

from documents import samples
from tests.browser.test_page_audit import SCREENSHOTS, VIEWPORTS
from tests.browser.test_viewer import assert_clean
from tests.documents.pdf_builder import pdf_with_text
from tests.factories import UserFactory, make_document

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def owner():
    return UserFactory(name="Vera Viewer", phone_number="+13125554321")


@pytest.fixture(params=sorted(VIEWPORTS))
def viewport(request):
    return request.param


@pytest.fixture
def page(open_page):
    """tests/browser/conftest.py's signed-in, recording page, for this module's owner and viewport."""
    return open_page


def shot(page, name: str, viewport: str, directory: str | None = None) -> None:
    target = directory or SCREENSHOTS
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / f"{name}-{viewport}.png"), full_page=True)


def test_the_viewer_draws_a_confidential_pdf_with_its_stamp(page, site, owner, viewport):
    data = pdf_with_text(lambda p: [f"Board minutes page {p + 1}"], pages=2)
    document = make_document(owner, name="Minutes.pdf", data=data, security_level="confidential")
    page.goto(f"{site}/documents/{document.pk}/view/")
    page.wait_for_selector("[data-pdf-viewer][data-state=ready]")
    page.wait_for_function(
        "() => document.querySelector('.pdf-page[data-page=\"1\"] .textLayer')?.textContent.includes('Vera Viewer')"
    )
    text = page.locator('.pdf-page[data-page="1"] .textLayer').text_content()
    assert "Board minutes page 1" in text
    assert re.search(r"Vera Viewer \(\+1\*+4321\).*ref [0-9a-f]{12}", text)
    shot(page, "open-confidential", viewport)
    assert_clean(page)


def test_the_detail_page_says_copies_are_stamped_and_offers_the_owner_the_choice(page, site, owner, viewport):
    document = make_document(
        owner, name="Merger.docx", data=samples.docx_bytes("Merger terms"), security_level="confidential"
    )
    page.goto(f"{site}/documents/{document.pk}/")
    assert "carries your name" in page.locator("#stamp-note").text_content()
    card = page.locator("#original-download")
    assert "PDF stamped" in card.text_content()
    assert page.get_by_role("link", name="Download as PDF").is_visible()
    card.scroll_into_view_if_needed()
    shot(page, "document-confidential", viewport)
    assert_clean(page)
    card.get_by_role("button", name="Allow the original file").click()
    page.wait_for_selector("#original-download")
    assert "original file" in page.locator("#original-download").text_content()
    assert page.get_by_role("link", name="Download", exact=True).is_visible()
    assert_clean(page)


def test_a_confidential_office_file_is_shown_from_its_stamped_pdf(page, site, owner, viewport):
    from tests.documents.test_watermark_originals import rendition

    document = make_document(
        owner, name="Merger.docx", data=samples.docx_bytes("Merger terms"), security_level="confidential"
    )
    rendition(document.current_version)
    page.goto(f"{site}/documents/{document.pk}/view/")
    page.wait_for_selector("[data-pdf-viewer][data-state=ready]")
    page.wait_for_function(
        "() => document.querySelector('.pdf-page[data-page=\"1\"] .textLayer')?.textContent.includes('Vera Viewer')"
    )
    assert "Merger terms page 1" in page.locator('.pdf-page[data-page="1"] .textLayer').text_content()
    assert page.get_by_role("link", name="Download as PDF").is_visible()
    shot(page, "open-confidential-office", viewport)
    assert_clean(page)
