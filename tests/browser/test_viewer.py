"""The open page in Chromium at a phone's and a desktop's width: each type of document is seen drawn.

A PDF (original, or an Office/OpenDocument file's rendition) is drawn by PDF.js (static/js/viewer.js):
the test reads the canvas's pixels (not blank) and finds the document's word in the text layer. An
image is an <img> that decoded. A rendition still being made shows the "being prepared" message,
which turns into the viewer by itself once it is ready. The list's grid shows thumbnails that load.
"""

from pathlib import Path

import pytest

from documents import renditions, samples
from documents.models import RenditionStatus
from tests.browser.test_page_audit import SCREENSHOTS, VIEWPORTS, session_cookie
from tests.documents import office_files
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


def assert_pdf_drawn(page, word: str, pages: int, *, portrait: bool = True):
    page.wait_for_selector("[data-pdf-viewer][data-state=ready]")
    assert page.locator(".pdf-page").count() == pages
    assert page.evaluate(INKED_PIXELS) > 50
    page.wait_for_function(
        "word => document.querySelector('.pdf-page[data-page=\"1\"] .textLayer')?.textContent.includes(word)", arg=word
    )
    box = page.locator('.pdf-page[data-page="1"]').bounding_box()
    assert box["width"] <= page.viewport_size["width"]  # fitted to the window
    assert (box["height"] > box["width"]) is portrait


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


# Each Office/OpenDocument type, built by its Python library: (bytes, a word on its first page, portrait?).
OFFICE = {
    "docx": (lambda: office_files.docx_bytes(["Walrus memo first page", "Second page"]), "Walrus", True),
    "xlsx": (lambda: office_files.xlsx_bytes({"Budget": [["Walrus", "12"], ["Otter", "30"]]}), "Walrus", True),
    "pptx": (lambda: office_files.pptx_bytes(["Walrus slide one", "Slide two"]), "Walrus", False),
    "odt": (lambda: office_files.odt_bytes(["Walrus letter"]), "Walrus", True),
}


@pytest.fixture
def no_worker(monkeypatch):
    """Renditions are made by the test (renditions.build), not queued to a broker no worker reads."""
    monkeypatch.setattr(renditions, "_enqueue", lambda version_id: None)


def office_document(owner, kind: str, *, built: bool = True):
    """(document, word, portrait, pages of its rendition or None)."""
    make, word, portrait = OFFICE[kind]
    document = make_document(owner, name=f"Walrus {kind}.{kind}", data=make())
    pages = None
    if built:
        rendition = renditions.build(version=document.current_version)
        assert rendition.status == RenditionStatus.DONE, rendition.error
        pages = rendition.page_count
    return document, word, portrait, pages


@pytest.mark.parametrize("kind", sorted(OFFICE))
def test_an_office_file_is_drawn_from_its_pdf_rendition(open_page, site, owner, viewport, no_worker, kind):
    document, word, portrait, pages = office_document(owner, kind)
    open_page.goto(f"{site}/documents/{document.pk}/view/")
    assert_pdf_drawn(open_page, word, pages=pages, portrait=portrait)
    assert f"Walrus {kind}.{kind}" in open_page.locator(".open-file").inner_text()
    assert_clean(open_page)
    screenshot(open_page, f"open-{kind}", viewport)


def test_a_rendition_being_made_shows_the_text_then_the_viewer_by_itself(open_page, site, owner, viewport, no_worker):
    document, word, _, _ = office_document(owner, "docx", built=False)
    open_page.goto(f"{site}/documents/{document.pk}/view/")
    assert "The preview is being prepared." in open_page.locator("[data-preview-pending]").inner_text()
    assert word in open_page.locator("pre.preview").inner_text()  # the text, meanwhile
    screenshot(open_page, "open-pending", viewport)
    renditions.build(version=document.current_version)
    # The page polls documents:view_status and reloads itself once the PDF is ready.
    assert_pdf_drawn(open_page, word, pages=2)
    assert open_page.locator("[data-preview-pending]").count() == 0
    assert_clean(open_page)


# Layout shifts measured by the browser since the page started (Cumulative Layout Shift).
LAYOUT_SHIFT = """() => new Promise((resolve) => {
  let total = 0;
  new PerformanceObserver((list) => { for (const e of list.getEntries()) if (!e.hadRecentInput) total += e.value; })
    .observe({type: 'layout-shift', buffered: true});
  setTimeout(() => resolve(total), 300);
})"""


def test_the_grid_shows_thumbnails_that_load_without_moving_anything(open_page, site, owner, viewport, no_worker):
    pdf = make_document(owner, name="Grid report.pdf", data=samples.pdf_bytes("Grid report", pages=2))
    image = make_document(owner, name="Grid photo.png", data=samples.png_bytes(300, 200, (200, 40, 40)))
    office_document(owner, "docx")
    make_document(owner, name="Grid notes.txt", data=samples.text_bytes("no thumbnail for text\n"))
    secret = make_document(owner, name="Grid secret.pdf", security_level="confidential")
    for document in (pdf, image, secret):
        renditions.build(version=document.current_version)
    open_page.goto(f"{site}/documents/")
    open_page.click(".doc-layout >> text=Grid")
    open_page.wait_for_url("**/documents/?view=grid")
    assert open_page.locator(".doc-layout a[aria-current=true]").inner_text() == "Grid"
    cards = open_page.locator(".doc-card")
    assert cards.count() == 5
    first_title = open_page.locator(".doc-card-link").first.inner_text()
    thumbs = open_page.locator(".doc-card img")
    assert thumbs.count() == 3  # the PDF, the image, the Word file; not the text nor the confidential PDF
    for index in range(thumbs.count()):
        thumb = thumbs.nth(index)
        assert thumb.get_attribute("loading") == "lazy"
        assert thumb.get_attribute("alt").startswith("First page of ")
        assert int(thumb.get_attribute("width")) > 0 and int(thumb.get_attribute("height")) > 0
        thumb.scroll_into_view_if_needed()
        open_page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    assert open_page.evaluate(LAYOUT_SHIFT) < 0.01
    screenshot(open_page, "documents-grid", viewport)
    # One tab stop per card, its title; the focused card is ringed; Enter opens the document.
    first = open_page.locator(".doc-card-link").first
    first.focus()
    ring = open_page.locator(".doc-card").first.evaluate("card => getComputedStyle(card).outlineStyle")
    assert ring == "solid"
    with open_page.expect_navigation():
        open_page.keyboard.press("Enter")
    assert open_page.locator("h1").inner_text() == first_title
    open_page.go_back()
    # The layout stays through a search, and the table is one click away.
    open_page.fill("#id_q", "Grid")
    open_page.press("#id_q", "Enter")
    open_page.wait_for_url("**view=grid**")
    open_page.click(".doc-layout >> text=Table")
    assert open_page.locator("table.doc-table").count() == 1
    assert_clean(open_page)


def test_a_pdf_that_cannot_be_loaded_says_so_and_offers_the_download(open_page, site, owner):
    document = make_document(owner, name="Broken.pdf", data=samples.pdf_bytes("Broken"))
    # The PDF's request fails (a storage outage, an unstampable confidential PDF's 422).
    open_page.route(f"**/documents/{document.pk}/open/", lambda route: route.fulfill(status=500, body="no"))
    open_page.goto(f"{site}/documents/{document.pk}/view/")
    open_page.wait_for_selector("[data-pdf-viewer][data-state=failed]")
    assert open_page.locator("[data-viewer-status]").inner_text() == "This document could not be shown here."
    assert open_page.locator("[data-viewer-fallback]").is_visible()
    open_page.problems[:] = [p for p in open_page.problems if not p.startswith("Failed to load resource")]
    assert_clean(open_page)


def test_the_pages_are_redrawn_to_a_new_width(open_page, site, owner, viewport):
    document = make_document(owner, name="Rotate.pdf", data=samples.pdf_bytes("Rotate me", pages=2))
    open_page.goto(f"{site}/documents/{document.pk}/view/")
    assert_pdf_drawn(open_page, "Rotate", pages=2)
    canvas = '.pdf-page[data-page="1"] canvas'
    before = open_page.locator(canvas).evaluate("c => c.width")
    size = VIEWPORTS[viewport]
    # A phone turned sideways; a desktop window made narrower than the page's widest (52rem).
    width = size["width"] + 200 if viewport == "phone" else 700
    open_page.set_viewport_size({"width": width, "height": size["height"]})
    open_page.wait_for_function(f"w => (document.querySelector('{canvas}')?.width ?? w) !== w", arg=before)
    assert_pdf_drawn(open_page, "Rotate", pages=2)
    assert_clean(open_page)


def test_a_long_pdf_draws_only_the_pages_near_the_view(open_page, site, owner):
    document = make_document(owner, name="Long.pdf", data=samples.pdf_bytes("Long read", pages=60))
    open_page.goto(f"{site}/documents/{document.pk}/view/")
    assert_pdf_drawn(open_page, "Long", pages=60)
    last = open_page.locator('.pdf-page[data-page="60"]')
    last.scroll_into_view_if_needed()
    open_page.wait_for_function("() => document.querySelector('.pdf-page[data-page=\"60\"] canvas')")
    assert "page 60" in last.locator(".textLayer").inner_text()
    # The first pages gave their canvases back; only those near the view hold one.
    open_page.wait_for_function("() => !document.querySelector('.pdf-page[data-page=\"1\"] canvas')")
    assert open_page.locator(".pdf-page canvas").count() <= 12
    open_page.locator('.pdf-page[data-page="1"]').scroll_into_view_if_needed()
    open_page.wait_for_function("() => document.querySelector('.pdf-page[data-page=\"1\"] canvas')")
    assert_clean(open_page)
