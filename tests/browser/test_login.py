"""The biometric login in a real browser: a desktop context asks, a phone context (with a
virtual platform authenticator) enrolls, picks the match code and approves with UV."""

import contextlib
import json
import re
from datetime import timedelta
from importlib import import_module

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from playwright.sync_api import Error as PlaywrightError

from accounts import services
from accounts.models import LoginRequest
from accounts.views.login import CLAIMS_KEY
from audit.models import AuditEvent
from tests.browser.conftest import add_virtual_authenticator
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def webauthn_site(settings, site):
    settings.DOCUID_BIOMETRIC_PROVIDER = "webauthn"
    settings.DOCUID_SITE_URL = site
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [site]
    settings.DOCUID_NOTIFIERS = []
    # Rate-limit counters must not leak between tests (CI's Redis is shared by the suite).
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "browser-login"}
    }
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def person():
    return UserFactory(name="Ada Lovelace")


@pytest.fixture
def phone(site, new_context, person):
    """The person's phone, enrolled from a staff-issued link through the real enrollment page."""
    page = new_context().new_page()
    authenticator = add_virtual_authenticator(page, user_verified=True)
    url = services.enrollment_link_create(user=person, acting_user=UserFactory(is_staff=True), send=False)
    page.goto(url)
    page.fill("#device-name", "Test phone")
    page.click("#enroll-button")
    page.wait_for_url(f"{site}/enroll/done/")
    page.authenticator = authenticator
    return page


def desktop_asks(site, new_context, phone_number):
    page = new_context().new_page()
    page.goto(site + "/login/")
    page.fill("input[name=phone_number]", phone_number)
    page.click("#send-request")
    page.wait_for_url("**/login/wait/**")
    return page


def approval_url_of(desktop) -> str:
    """The link in the desktop's QR code (enough to approve), read from its server-side session."""
    cookie = next(c for c in desktop.context.cookies() if c["name"] == django_settings.SESSION_COOKIE_NAME)
    store = import_module(django_settings.SESSION_ENGINE).SessionStore(session_key=cookie["value"])
    return next(iter(store[CLAIMS_KEY].values()))["qr_url"]


def auth_attempts(page, site, outcome: str) -> float:
    """docuid_auth_attempts_total{outcome=...} as /metrics shows it now."""
    text = page.request.get(site + "/metrics").text()
    match = re.search(rf'^docuid_auth_attempts_total\{{outcome="{outcome}"\}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def open_and_pick(phone, desktop, *, code=None):
    phone.goto(approval_url_of(desktop))
    phone.click(f"button.match-choice[value='{code or desktop.inner_text('#match-code')}']")
    # The pick submits a form; the approve page's script (which handles its buttons) has run by "load".
    phone.wait_for_load_state("load")


def test_enrollment_from_a_staff_issued_link_registers_a_passkey_with_user_verification(phone, person):
    assert len(phone.authenticator.credentials()) == 1
    assert "This phone is ready" in phone.inner_text("h1")
    assert person.webauthncredential_set.get().name == "Test phone"


def test_desktop_asks_phone_picks_the_code_and_approves_and_the_desktop_lands_signed_in(
    site, new_context, phone, person
):
    successes = auth_attempts(phone, site, "success")
    desktop = desktop_asks(site, new_context, person.phone_number)
    open_and_pick(phone, desktop)
    phone.click("#approve-button")
    phone.wait_for_selector("#approved-message")
    desktop.wait_for_selector("#logout-button", timeout=15_000)
    assert LoginRequest.objects.get().status == LoginRequest.Status.CONSUMED
    assert auth_attempts(phone, site, "success") == successes + 1


def test_without_user_verification_the_approval_fails_and_the_request_stays_pending(site, new_context, phone, person):
    desktop = desktop_asks(site, new_context, person.phone_number)
    open_and_pick(phone, desktop)
    phone.authenticator.set_user_verified(False)
    phone.click("#approve-button")
    phone.wait_for_selector("#approve-error:not([hidden])")
    assert LoginRequest.objects.get().status == LoginRequest.Status.PENDING


def test_a_client_that_rewrites_the_options_to_discourage_user_verification_is_rejected_by_the_server(
    site, new_context, phone, person
):
    desktop = desktop_asks(site, new_context, person.phone_number)
    open_and_pick(phone, desktop)

    def tamper(route):
        response = route.fetch()
        options = response.json()
        options["userVerification"] = "discouraged"
        route.fulfill(response=response, body=json.dumps(options))

    phone.route("**/options", tamper)
    phone.authenticator.set_user_verified(False)
    with phone.expect_response("**/verify") as verify:
        phone.click("#approve-button")
    assert verify.value.status == 400
    phone.wait_for_selector("#approve-error:not([hidden])")
    assert "could not confirm it was you" in phone.inner_text("#approve-error")
    assert LoginRequest.objects.get().status == LoginRequest.Status.PENDING


def test_deny_on_the_phone_is_shown_on_the_desktop(site, new_context, phone, person, phone_links):
    denials = auth_attempts(phone, site, "denied")
    desktop = desktop_asks(site, new_context, person.phone_number)
    phone.goto(phone_links()[-1])
    phone.click("#deny-button")
    assert auth_attempts(phone, site, "denied") == denials + 1
    assert "Denied" in phone.inner_text("#ended-message")
    desktop.wait_for_selector("#ended-message", timeout=15_000)
    assert "denied on the phone" in desktop.inner_text("#ended-message")


def test_this_wasnt_me_ends_the_request_and_blocks_the_number_for_twenty_minutes(
    site, new_context, phone, person, phone_links
):
    desktop = desktop_asks(site, new_context, person.phone_number)
    phone.goto(phone_links()[-1])
    phone.click("#fraud-button")
    assert "support team has been told" in phone.inner_text("#ended-message")
    desktop.wait_for_selector("#ended-message", timeout=15_000)
    assert "reported as not genuine" in desktop.inner_text("#ended-message")
    desktop.goto(site + "/login/")
    desktop.fill("input[name=phone_number]", person.phone_number)
    with desktop.expect_response("**/login/") as response:
        desktop.click("#send-request")
    assert response.value.status == 429 and int(response.value.headers["retry-after"]) > 19 * 60
    assert "paused" in desktop.inner_text("#ended-message")


def test_an_expired_request_says_so_on_the_desktop(site, new_context, phone, person):
    desktop = desktop_asks(site, new_context, person.phone_number)
    LoginRequest.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    desktop.wait_for_selector("#ended-message", timeout=15_000)
    assert "expired" in desktop.inner_text("#ended-message")
    assert desktop.locator("a", has_text="Try again").is_visible()


def test_a_wrong_match_code_cancels_the_request_on_both_sides(site, new_context, phone, person):
    desktop = desktop_asks(site, new_context, person.phone_number)
    right = desktop.inner_text("#match-code")
    phone.goto(approval_url_of(desktop))
    wrong = next(v for v in phone.locator("button.match-choice").all_inner_texts() if v != right)
    phone.click(f"button.match-choice[value='{wrong}']")
    assert "did not match" in phone.inner_text("#ended-message")
    desktop.wait_for_selector("#ended-message", timeout=15_000)
    assert "did not match" in desktop.inner_text("#ended-message")


def test_a_consumed_request_cannot_be_replayed_and_another_browser_cannot_claim_it(site, new_context, phone, person):
    desktop = desktop_asks(site, new_context, person.phone_number)
    wait_url = desktop.url
    intruder = new_context().new_page()
    open_and_pick(phone, desktop)
    phone.click("#approve-button")
    phone.wait_for_selector("#approved-message")
    # Another browser that learned the waiting page's address gets nothing.
    response = intruder.goto(wait_url)
    assert response.status == 403 and "belongs to another browser" in intruder.inner_text("#ended-message")
    desktop.wait_for_selector("#logout-button", timeout=15_000)
    desktop.goto(wait_url)
    assert "already been used" in desktop.inner_text("#ended-message")


def test_direct_passkey_sign_in_on_the_phone(site, phone, person):
    phone.goto(site + "/login/")
    # The virtual authenticator answers the page's autofill (conditional UI) request at
    # once, so the autofill may finish the sign-in and leave the page before the click:
    # both are the direct passkey path, and either must end signed in.
    with contextlib.suppress(PlaywrightError):
        phone.click("#passkey-button", timeout=3_000)
    phone.wait_for_selector("#logout-button", timeout=15_000)
    assert AuditEvent.objects.filter(action="auth.login", actor=person).exists()


def _hold_first(page, url_end: str):
    """Hold the page's first request to `url_end` (returned in the list) and let later ones through."""
    held, sent, failed = [], [], []
    page.on("request", lambda r: sent.append(r.url) if r.url.endswith(url_end) else None)
    page.on("requestfailed", lambda r: failed.append(r.url) if r.url.endswith(url_end) else None)
    page.route(f"**{url_end}", lambda route: held.append(route) if not held else route.continue_())
    return held, sent, failed


def _wait_for(page, condition, what: str):
    for _ in range(100):
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"timed out waiting for {what}")


# Each ceremony writes its challenge into the session. A second one overlapping the autofill's
# sign-in could answer last and put back the session cookie that the sign-in had just retired:
# the person would land signed out (seen in CI). The button must never run beside the autofill.


def test_the_passkey_button_cancels_the_autofill_ceremony_before_starting_its_own(site, phone, person):
    held, sent, failed = _hold_first(phone, "/login/passkey/options")
    phone.goto(site + "/login/")
    _wait_for(phone, lambda: held, "the autofill ceremony to ask for options")
    phone.click("#passkey-button")
    _wait_for(phone, lambda: len(sent) == 2, "the button's own ceremony")
    held[0].continue_()  # too late: the page has given up on it
    _wait_for(phone, lambda: failed, "the autofill's cancelled request to be reported as failed")
    phone.wait_for_selector("#logout-button", timeout=15_000)
    assert AuditEvent.objects.filter(action="auth.login", actor=person).count() == 1


def test_the_passkey_button_does_nothing_while_the_autofill_is_signing_in(site, phone, person):
    held, sent, _ = _hold_first(phone, "/login/passkey/complete")
    options = []
    phone.on("request", lambda r: options.append(r.url) if r.url.endswith("/login/passkey/options") else None)
    phone.goto(site + "/login/")
    _wait_for(phone, lambda: held, "the autofill to send its credential")
    phone.click("#passkey-button")
    phone.wait_for_timeout(500)
    assert (len(options), len(sent)) == (1, 1), "the button started a ceremony beside the autofill's sign-in"
    held[0].continue_()
    phone.wait_for_selector("#logout-button", timeout=15_000)
    assert AuditEvent.objects.filter(action="auth.login", actor=person).count() == 1


def test_the_phone_form_waits_for_the_passkey_autofills_options_so_its_request_stays_this_browsers(
    site, new_context, person
):
    """Both requests write the session. Sent while the autofill's request for options was on its way,
    the form's sign-in request could be lost when the options' response (and its copy of the session)
    came back last: the waiting page then said it "belongs to another browser". The form now waits."""
    page = new_context().new_page()
    held = []
    page.route("**/login/passkey/options", lambda route: held.append(route))
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and r.url.endswith("/login/") else None)
    page.goto(site + "/login/")
    deadline = timezone.now() + timedelta(seconds=10)
    while not held and timezone.now() < deadline:
        page.wait_for_timeout(50)
    assert held, "the login page asked for no passkey options (autofill): the race cannot be checked"
    page.fill("input[name=phone_number]", person.phone_number)
    page.click("#send-request")
    page.wait_for_timeout(500)
    assert posts == [], "the phone number went out while the options were still on their way"
    held[0].continue_()
    page.wait_for_url("**/login/wait/**")
    assert len(posts) == 1
    status = page.evaluate(
        "async (url) => (await fetch(url)).status", page.url.replace("/wait/", "/status/").rstrip("/")
    )
    assert status == 200
    assert "another browser" not in page.inner_text("main")
