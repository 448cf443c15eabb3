"""The open page in Chromium at a phone's and a desktop's width: each type of document is seen drawn.

A PDF (original, or an Office/OpenDocument file's rendition) is drawn by PDF.js (static/js/viewer.js):
the test reads the canvas's pixels (not blank) and finds the document's word in the text layer. An
image is an <img> that decoded. A rendition still being made shows the "being prepared" message,
which turns into the viewer by itself once it is ready. The list's grid shows thumbnails that load.
"""

from pathlib import Path

import pytest

from documents import samples
from tests.browser.test_page_audit import RECORD_CSP, SCREENSHOTS, VIEWPORTS, session_cookie
from tests.factories import UserFactory, make_document

pytestmark = pytest.mark.django_db(transaction=True)

# How many of the first page's canvas pixels are not (near) white: > 0 means something was drawn.
INKED_PIXELS = """() => {
  const canvas = document.querySelector('.pdf-page[data-page="1"] canvas');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 0; i < data.length; i += 4) if (data[i] < 200 || data[i + 1] < 200 || data[i + 2] < 200) inked += 1;
  return inked;
}"""


@pytest.fixture
def owner():
    return UserFactory(name="Vera Viewer")


@pytest.fixture(params=sorted(VIEWPORTS))
def viewport(request):
    return request.param


@pytest.fixture
def open_page(browser, site, owner, viewport):
    """A signed-in page at the viewport's width that records CSP violations and JavaScript errors."""
    context = browser.new_context(viewport=VIEWPORTS[viewport], device_scale_factor=1)
    context.set_default_timeout(20_000)
    context.add_init_script(RECORD_CSP)
    context.add_cookies([session_cookie(site, owner)])
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda exc: page.problems.append(f"JS error: {exc}"))
    page.on("console", lambda msg: page.problems.append(msg.text) if msg.type == "error" else None)
    yield page
    context.close()


def assert_clean(page):
    """No CSP violation, no JavaScript error, nothing wider than the window."""
    problems = page.problems + [f"CSP: {v}" for v in page.evaluate("window.__csp || []")]
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"overflows: {width}"
    assert not problems, problems


def screenshot(page, name: str, viewport: str) -> None:
    """With DOCUID_SCREENSHOTS_DIR set (`make screenshots`), the whole page as docs/screenshots/<name>-<viewport>.png."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}-{viewport}.png"), full_page=True)


def assert_pdf_drawn(page, word: str, pages: int):
    page.wait_for_selector("[data-pdf-viewer][data-state=ready]")
    assert page.locator(".pdf-page").count() == pages
    assert page.evaluate(INKED_PIXELS) > 50
    page.wait_for_function(
        "word => document.querySelector('.pdf-page[data-page=\"1\"] .textLayer')?.textContent.includes(word)", arg=word
    )
    box = page.locator('.pdf-page[data-page="1"]').bounding_box()
    assert box["width"] <= page.viewport_size["width"] and box["height"] > box["width"]  # a portrait page, fitted


def test_a_pdf_is_drawn_with_its_words_and_file_name(open_page, site, owner, viewport):
    document = make_document(owner, name="Viewer proof.pdf", data=samples.pdf_bytes("Aardvark viewer proof", pages=3))
    open_page.goto(f"{site}/documents/{document.pk}/view/")
    assert_pdf_drawn(open_page, "Aardvark", pages=3)
    assert "Viewer proof.pdf" in open_page.locator(".open-file").inner_text()
    assert open_page.locator("[data-viewer-status]").inner_text() == "3 pages"
    assert_clean(open_page)
    screenshot(open_page, "open-pdf", viewport)


def test_the_open_button_leads_to_the_viewer(open_page, site, owner):
    document = make_document(owner, name="Button.pdf", data=samples.pdf_bytes("Button proof"))
    open_page.goto(f"{site}/documents/{document.pk}/")
    open_page.click("#open-link")
    assert_pdf_drawn(open_page, "Button", pages=1)
    assert_clean(open_page)


def test_an_image_is_shown_as_an_image(open_page, site, owner):
    document = make_document(owner, name="Logo.png", data=samples.png_bytes(120, 80))
    open_page.goto(f"{site}/documents/{document.pk}/view/")
    image = open_page.locator(".open-image img")
    open_page.wait_for_function("() => document.querySelector('.open-image img').complete")
    assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [120, 80]
    assert "Logo.png" in open_page.locator(".open-file").inner_text()
    assert_clean(open_page)


def test_without_javascript_the_page_links_to_the_pdf(browser, site, owner):
    document = make_document(owner, name="No script.pdf", data=samples.pdf_bytes("No script"))
    context = browser.new_context(java_script_enabled=False)
    context.add_cookies([session_cookie(site, owner)])
    page = context.new_page()
    try:
        page.goto(f"{site}/documents/{document.pk}/view/")
        link = page.locator("noscript a, #open-pdf-link").first.get_attribute("href")
        response = page.request.get(site + link)
        assert response.headers["content-type"] == "application/pdf"
        assert page.locator("text=Download No script.pdf").count() == 1
    finally:
        context.close()
