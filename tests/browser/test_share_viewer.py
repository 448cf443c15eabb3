"""A share link's recipient, signed out, in Chromium at 390 and 1280 px: the document is drawn by the viewer.

The signed-in open page's viewer (static/js/viewer.js) on the link's own URLs: a shared PDF, and a
confidential Word file drawn from its stamped rendition (a prepared PDF stands in for LibreOffice's,
which tests/browser/test_viewer.py draws). The canvas has ink, the text layer has the words, and the
page passes the page audit (axe-core, layout, CSP, JavaScript errors). A file whose PDF is still being
made says so, polls the link's /view/status and is drawn by itself, for the link's one view.
"""

from pathlib import Path

import pytest

from documents import samples, services
from documents.models import Share
from tests.browser.test_page_audit import AXE, SCREENSHOTS, audit_page
from tests.browser.test_viewer import assert_clean, assert_pdf_drawn, no_worker  # noqa: F401 — fixture
from tests.conftest import require
from tests.documents.test_watermark_originals import rendition
from tests.factories import UserFactory, make_document

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def owner():
    return UserFactory(name="Sharon Sharer")


@pytest.fixture(params=["phone", "desktop"])
def viewport(request):
    return request.param


def open_as_recipient(page, site, token: str) -> None:
    """From the link's page, signed out (open_page signs in the owner: its cookie goes), to the open page."""
    page.context.clear_cookies()
    page.goto(f"{site}/s/{token}")
    with page.expect_navigation():
        page.click("#share-open")
    assert page.url == f"{site}/s/{token}/view"


def screenshot(page, name: str, viewport: str) -> None:
    """With DOCUID_SCREENSHOTS_DIR set, the window (a full-page capture resizes it, and the viewer redraws blank)."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}-{viewport}.png"))


def assert_audited(page) -> None:
    require("axe-core", AXE.exists(), "npm ci --prefix tests/browser (deploy/install-ci-tools.sh)")
    assert audit_page(page, AXE.read_text()) == []


def test_a_shared_pdf_is_drawn_for_the_recipient(open_page, site, owner, viewport):
    document = make_document(owner, name="Shared plan.pdf", data=samples.pdf_bytes("Aardvark shared plan", pages=2))
    _, token = services.share_create(acting_user=owner, document=document, access="view")
    open_as_recipient(open_page, site, token)
    assert_pdf_drawn(open_page, "Aardvark", pages=2)
    assert open_page.locator("text=Download").count() == 0  # a view-only link
    assert_clean(open_page)
    assert_audited(open_page)


@pytest.mark.usefixtures("no_worker")
def test_a_shared_confidential_word_file_is_drawn_stamped_from_its_rendition(open_page, site, owner, viewport):
    memo = make_document(
        owner, name="Merger memo.docx", data=samples.docx_bytes("Merger"), security_level="confidential"
    )
    rendition(memo.current_version)
    share, token = services.share_create(
        acting_user=owner, document=memo, access="download", recipient_email="jane.doe@example.org"
    )
    open_as_recipient(open_page, site, token)
    assert_pdf_drawn(open_page, "Merger terms", pages=3)
    # The page drawn is the copy stamped for the link's masked recipient.
    open_page.wait_for_function(
        "who => document.querySelector('.pdf-page[data-page=\"1\"] .textLayer').textContent.includes(who)",
        arg=f"Share link #{share.pk}",
    )
    assert open_page.locator(".open-actions .button").first.inner_text() == "Download as PDF"
    assert_clean(open_page)
    assert_audited(open_page)
    screenshot(open_page, "share-open", viewport)  # docs/screenshots, in the README


@pytest.mark.usefixtures("no_worker")
@pytest.mark.parametrize("viewport", ["phone"])
def test_the_recipient_waits_for_the_pdf_and_sees_it_drawn_for_one_view(open_page, site, owner, viewport):
    memo = make_document(owner, name="Slow memo.docx", data=samples.docx_bytes("Slow"))  # its PDF is not made yet
    _, token = services.share_create(acting_user=owner, document=memo, max_views=1)
    open_as_recipient(open_page, site, token)
    assert "The preview is being prepared." in open_page.locator("[data-preview-pending]").inner_text()
    rendition(memo.current_version)
    # preview-status.js polls the link's /view/status and reloads once the PDF is ready.
    assert_pdf_drawn(open_page, "Merger terms", pages=3)
    assert Share.objects.get().view_count == 1  # waiting spent nothing; the drawn PDF is the one view
    assert_clean(open_page)
