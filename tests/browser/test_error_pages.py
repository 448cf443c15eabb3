"""Error pages (404/403/500 share templates/error.html) and the maintenance page offer a way on and fit a
phone's and a desktop's width, under the CSP."""

import pytest
from django.core.cache import cache
from django.test import Client

from operations.maintenance import maintenance_off, maintenance_on
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = [390, 1280]
RECORD_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective));
"""
# Overflow, and any button whose one-word label the browser laid out on two lines.
LAYOUT = """() => ({
  overflow: document.documentElement.scrollWidth - window.innerWidth,
  wrapped: [...document.querySelectorAll('main .button')]
    .filter((b) => b.getClientRects().length > 1 || b.getBoundingClientRect().height > 60)
    .map((b) => b.textContent.trim()),
  csp: window.__csp,
})"""


def open_page(new_context, width: int, url: str, cookies=()):
    context = new_context(viewport={"width": width, "height": 844})
    context.add_init_script(RECORD_CSP)
    if cookies:
        context.add_cookies(list(cookies))
    page = context.new_page()
    return page, page.goto(url)


def assert_fits(page, tmp_path, name: str, width: int) -> None:
    page.screenshot(path=str(tmp_path / f"{name}-{width}.png"), full_page=True)
    layout = page.evaluate(LAYOUT)
    assert layout == {"overflow": 0, "wrapped": [], "csp": []}, layout


@pytest.mark.parametrize("width", WIDTHS)
def test_a_missing_page_offers_sign_in_and_the_start_page_to_a_visitor(site, new_context, tmp_path, width):
    page, response = open_page(new_context, width, site + "/no/such/page")
    assert response.status == 404
    actions = page.locator("main .actions a")
    assert actions.all_inner_texts() == ["Sign in", "Start page"]
    assert_fits(page, tmp_path, "404-visitor", width)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_missing_page_offers_a_signed_in_person_their_documents(site, new_context, tmp_path, width):
    person = UserFactory()
    person.save()
    client = Client()
    client.force_login(person)
    cookie = {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": site}
    page, response = open_page(new_context, width, site + "/documents/999999/", cookies=[cookie])
    assert response.status == 404
    assert page.locator("main .actions a").all_inner_texts() == ["Your documents", "Start page"]
    assert_fits(page, tmp_path, "404-signed-in", width)
    page.locator("main .actions a", has_text="Your documents").click()
    assert page.url.endswith("/documents/")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_maintenance_page_offers_a_retry_and_fits(site, new_context, tmp_path, settings, width):
    settings.DOCUID_MAINTENANCE_FILE = str(tmp_path / "maintenance.json")
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "u4"}}
    cache.clear()
    maintenance_on(reason="restore drill")
    try:
        page, response = open_page(new_context, width, site + "/documents/")
        assert response.status == 503
        assert page.locator("main .actions a").all_inner_texts() == ["Try this page again", "Start page"]
        assert page.evaluate("getComputedStyle(document.body).margin") == "0px"  # its stylesheet loaded
        assert_fits(page, tmp_path, "maintenance", width)
    finally:
        maintenance_off()
