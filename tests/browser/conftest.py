"""Browser tests: Playwright's Python package driving Debian's chromium, headless.

The site is opened as http://localhost:PORT (WebAuthn refuses 127.0.0.1 with RP
ID `localhost`). Biometrics come from a CDP virtual authenticator.
"""

import os
import shutil
from dataclasses import dataclass

import pytest

from tests.accounts.conftest import phone_links  # noqa: F401 — fixture: links sent to the phone
from tests.conftest import require

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Playwright's sync API runs an event loop in this thread; the test's own ORM
# calls are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    require("chromium", shutil.which(CHROMIUM) is not None, "apt-get install chromium (deploy/install-ci-tools.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def site(live_server) -> str:
    """The live server's base URL on `localhost`."""
    return live_server.url.replace("127.0.0.1", "localhost")


@pytest.fixture
def new_context(browser):
    """Make isolated browser contexts (one per device: desktop, phone); closed after the test."""
    contexts = []

    def make(**kwargs):
        context = browser.new_context(**kwargs)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@dataclass
class VirtualAuthenticator:
    cdp: object
    authenticator_id: str

    def set_user_verified(self, verified: bool) -> None:
        self.cdp.send(
            "WebAuthn.setUserVerified", {"authenticatorId": self.authenticator_id, "isUserVerified": verified}
        )

    def credentials(self) -> list[dict]:
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.authenticator_id})["credentials"]


def add_virtual_authenticator(page, *, user_verified: bool = True) -> VirtualAuthenticator:
    """A platform authenticator with a biometric (user verification) on this page's target."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    result = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": user_verified,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return VirtualAuthenticator(cdp=cdp, authenticator_id=result["authenticatorId"])


@pytest.fixture
def open_page(browser, site, owner, viewport):
    """A page signed in as the module's `owner` at its `viewport`'s width, recording CSP violations and JS errors.

    The module defines `owner` and `viewport` (a test_page_audit.VIEWPORTS key); assert_clean in
    test_viewer reads what was recorded.
    """
    from tests.browser.test_page_audit import RECORD_CSP, VIEWPORTS, session_cookie  # it imports this conftest

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
