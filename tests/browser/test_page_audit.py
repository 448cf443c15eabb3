"""Every page a person and a support agent can reach, audited in Chromium at a phone's and a desktop's width.

Each page must have: no horizontal overflow, no word broken across lines inside a button, link or
table cell, no serious or critical axe-core violation (axe-core pinned in tests/browser/package.json,
installed by deploy/install-ci-tools.sh), no CSP violation and no JavaScript error. Every failure of
every page is collected and reported at once.

With DOCUID_SCREENSHOTS_DIR set (`make screenshots`), the main pages are also saved there as PNGs.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice

from accounts import services as account_services
from documents import renditions, samples
from documents import services as document_services
from documents.models import Permission, ShareAccess
from operations import maintenance
from operations.services.incidents import incident_open
from tests.browser.conftest import add_virtual_authenticator
from tests.browser.test_login import approval_url_of
from tests.conftest import require
from tests.factories import StaffFactory, UserFactory, make_document

pytestmark = pytest.mark.django_db(transaction=True)

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
SCREENSHOTS = os.environ.get("DOCUID_SCREENSHOTS_DIR", "")

# Collects the page's CSP violations (the browser's own event; init scripts are not subject to the CSP).
RECORD_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`);
});
"""

# Layout checks: overflow, and every word (2+ characters) of a button, link or table cell that the
# browser laid out on more than one line (a Range over the word has rects on different lines).
LAYOUT = """() => {
  const found = {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, broken: []};
  const selector = 'a, button, .button, td, th, summary, label.button';
  for (const el of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.data.matchAll(/\\S+/g)) {
        if (match[0].length < 2) continue;
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set();
        for (const rect of range.getClientRects()) {
          if (rect.width > 0 && rect.height > 0) lines.add(Math.round(rect.top + rect.height / 2));
        }
        if (lines.size > 1) {
          const where = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
            (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
          found.broken.push(`${where}: "${match[0]}" on ${lines.size} lines`);
        }
      }
    }
  }
  return found;
}"""

AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ` + v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | '));
}"""


@dataclass
class Visit:
    name: str
    who: str  # which browser: anonymous, desktop (signing in), rate_limited, phone, owner, grantee, newcomer, staff
    go: object  # a path, or a function(page) that gets the page there and returns the response
    status: int = 200
    shot: str = ""  # file name stem in docs/screenshots/ (main pages only)
    ready: str = ""  # a selector that appears once a page drawn by JavaScript is complete


@pytest.fixture
def audit_settings(settings, site, tmp_path):
    settings.DOCUID_BIOMETRIC_PROVIDER = "webauthn"
    settings.DOCUID_SITE_URL = site
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [site]
    settings.DOCUID_NOTIFIERS = []
    settings.DOCUID_MAINTENANCE_FILE = str(tmp_path / "maintenance")
    # Rate-limit counters and the maintenance flag stay in this process, not in the suite's shared Redis.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "audit"}}
    cache.clear()
    return settings


def session_cookie(site: str, user, *, verified_staff: bool = False) -> dict:
    user.save()  # a factory's unusable password is only saved here (the session hash depends on it)
    client = Client()
    client.force_login(user)
    if verified_staff:
        device = StaticDevice.objects.create(user=user, name="backup codes", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": site, "httpOnly": True}


def world(site: str) -> dict:
    """The people and things the pages show: documents of every kind, a grant, share links, an incident."""
    owner = UserFactory(name="Olivia Owner")
    grantee = UserFactory(name="Gabriel Grantee")
    newcomer = UserFactory(name="Nina Newcomer")
    staff = StaffFactory(name="Sam Support", is_superuser=True)
    pdf = make_document(
        owner, name="Quarterly financial report 2026.pdf", category="Reports", tags=["finance", "quarterly"]
    )
    text = make_document(owner, name="Meeting notes.txt", data=samples.text_bytes("Agenda\nBudget\nHiring\n"))
    image = make_document(owner, name="Logo.png", data=samples.png_bytes(64, 64))
    sheet = make_document(owner, name="Budget.xlsx", data=samples.xlsx_bytes(), category="Finance")
    for drawn in (pdf, image):  # thumbnails for the grid and the detail page (no worker runs in tests)
        renditions.build(version=drawn.current_version)
    document_services.grant_add(
        acting_user=owner, document=pdf, user=grantee, permission=Permission.DOWNLOAD, notify=False
    )
    _, locked = document_services.share_create(
        acting_user=owner, document=pdf, access=ShareAccess.DOWNLOAD, password="correct horse battery"
    )
    view_only_share, view_only = document_services.share_create(
        acting_user=owner, document=text, access=ShareAccess.VIEW
    )
    revoked_share, revoked = document_services.share_create(acting_user=owner, document=pdf)
    document_services.share_revoke(acting_user=owner, share=revoked_share)
    incident = incident_open(
        title="Sign-in requests are slow", severity="warning", component="login", public=True, acting_user=staff
    )
    return {
        "owner": owner,
        "grantee": grantee,
        "newcomer": newcomer,
        "staff": staff,
        "pdf": pdf,
        "text": text,
        "image": image,
        "sheet": sheet,
        "locked": locked,
        "view_only": view_only,
        "view_only_share": view_only_share,
        "revoked": revoked,
        "incident": incident,
    }


def visits(site: str, w: dict, settings) -> list[Visit]:
    pdf, text, sheet = w["pdf"].pk, w["text"].pk, w["sheet"].pk

    def login_wait(page):
        page.goto(site + "/login/")
        page.fill("input[name=phone_number]", w["owner"].phone_number)
        with page.expect_navigation() as navigation:
            page.click("#send-request")
        return navigation.value

    def rate_limited(page):
        settings.DOCUID_RATE_LIMIT_IP = 0
        settings.DOCUID_RATE_LIMIT_PHONE = 0
        page.goto(site + "/login/")
        page.fill("input[name=phone_number]", w["newcomer"].phone_number)
        with page.expect_navigation() as navigation:
            page.click("#send-request")
        return navigation.value

    def enroll(page):
        page.authenticator = add_virtual_authenticator(page, user_verified=True)
        url = account_services.enrollment_link_create(user=w["owner"], acting_user=w["staff"], send=False)
        return page.goto(url)

    def enrolled(page):
        page.fill("#device-name", "Olivia's phone")
        page.click("#enroll-button")
        page.wait_for_url(f"{site}/enroll/done/")
        return page.request.get(page.url)

    def approve(page):
        return page.goto(approval_url_of(w["waiting_page"]))

    def approve_code(page):
        code = w["waiting_page"].inner_text("#match-code").strip()
        with page.expect_navigation() as navigation:
            page.click(f"button.match-choice[value='{code}']")
        return navigation.value

    def share_created(page):
        page.goto(f"{site}/documents/{pdf}/share/")
        with page.expect_navigation() as navigation:
            page.click("main form[method=post] button[type=submit]")
        return navigation.value

    def share_password(page):
        return page.goto(f"{site}/s/{w['locked']}")

    def maintenance_page(page):
        maintenance.maintenance_on(reason="audit")
        try:
            return page.goto(site + "/")
        finally:
            maintenance.maintenance_off()

    staff_pk = w["staff"].pk
    return [
        Visit("home", "anonymous", "/"),
        Visit("sign in", "anonymous", "/login/", shot="sign-in"),
        Visit("enrollment", "phone", enroll),
        Visit("enrollment done", "phone", enrolled),
        Visit("waiting page", "desktop", login_wait, shot="waiting"),
        Visit("approval page (match code)", "phone", approve, shot="approve"),
        Visit("approval page (approve)", "phone", approve_code),
        Visit("rate-limited page", "rate_limited", rate_limited, status=429),
        Visit("document list", "owner", "/documents/", shot="documents"),
        Visit("document list, empty library", "newcomer", "/documents/"),
        Visit("document list, filter matching nothing", "owner", "/documents/?q=zzzz-nothing-matches"),
        Visit("document detail (owner)", "owner", f"/documents/{pdf}/", shot="document"),
        Visit("document detail (grantee)", "grantee", f"/documents/{pdf}/"),
        Visit("open (text)", "owner", f"/documents/{text}/open/"),
        Visit("open (spreadsheet)", "owner", f"/documents/{sheet}/open/"),
        Visit("open page (PDF viewer)", "owner", f"/documents/{pdf}/view/", shot="open", ready="[data-state=ready]"),
        Visit("open page (PDF viewer, grantee)", "grantee", f"/documents/{pdf}/view/", ready="[data-state=ready]"),
        Visit("open page (image)", "owner", f"/documents/{w['image'].pk}/view/"),
        Visit("open page (spreadsheet)", "owner", f"/documents/{sheet}/view/"),
        Visit("document list (grid)", "owner", "/documents/?view=grid", shot="documents-grid"),
        Visit("upload", "owner", "/documents/upload/"),
        Visit("share form", "owner", f"/documents/{pdf}/share/"),
        Visit("share created", "owner", share_created, shot="share-created"),
        Visit("share list", "owner", "/documents/shares/"),
        Visit("revoke confirmation", "owner", f"/documents/shares/{w['view_only_share'].pk}/revoke/"),
        Visit("delete confirmation", "owner", f"/documents/{text}/delete/"),
        Visit("public share: password form", "anonymous", share_password),
        Visit("public share: view only", "anonymous", f"/s/{w['view_only']}"),
        Visit("public share: opened (text)", "anonymous", f"/s/{w['view_only']}/open"),
        Visit("public share: download refused (403)", "anonymous", f"/s/{w['view_only']}/download", status=403),
        Visit("public share: gone (410)", "anonymous", f"/s/{w['revoked']}", status=410),
        Visit("profile", "owner", "/profile/"),
        Visit("status", "anonymous", "/status"),
        Visit("status (signed in)", "owner", "/status"),
        Visit("not found (404)", "owner", "/documents/999999/", status=404),
        Visit("not found (404, signed out)", "anonymous", "/no/such/page", status=404),
        Visit("maintenance page", "anonymous", maintenance_page, status=503),
        Visit("admin login", "anonymous", "/admin/login/"),
        Visit("admin index", "staff", "/admin/"),
        Visit("admin documents", "staff", "/admin/documents/document/"),
        Visit("admin document", "staff", f"/admin/documents/document/{pdf}/change/"),
        Visit("admin users", "staff", "/admin/accounts/user/"),
        Visit("admin user", "staff", f"/admin/accounts/user/{staff_pk}/change/"),
        Visit("admin incidents", "staff", "/admin/operations/incident/"),
        Visit("admin incident", "staff", f"/admin/operations/incident/{w['incident'].pk}/change/"),
        Visit("API docs", "anonymous", "/api/docs/", ready=".opblock"),
    ]


def audit_page(page, axe_source: str) -> list[str]:
    problems = []
    layout = page.evaluate(LAYOUT)
    if layout["scrollWidth"] > layout["innerWidth"]:
        problems.append(f"overflows: {layout['scrollWidth']} px wide in a {layout['innerWidth']} px window")
    problems += [f"word broken in {where}" for where in layout["broken"]]
    problems += [f"CSP violation: {v}" for v in page.evaluate("window.__csp || []")]
    # Evaluated, not added as a <script> tag: the pages' CSP (script-src 'self') would block an inline tag.
    page.evaluate(axe_source)
    problems += [f"axe {v}" for v in page.evaluate(AXE_RUN)]
    return problems


def console_error(msg, page, errors: list[str]) -> None:
    # The page's own status (a 404 page, the 410 of a revoked link) is expected; a missing asset is not.
    expected = msg.text.startswith("Failed to load resource") and msg.location.get("url") == page.url
    if msg.type == "error" and not expected:
        errors.append(f"console: {msg.text} ({msg.location.get('url')})")


def run_audit(viewport_name: str, site, browser, settings):
    require("axe-core", AXE.exists(), "npm ci --prefix tests/browser (deploy/install-ci-tools.sh)")
    axe_source = AXE.read_text()
    viewport = VIEWPORTS[viewport_name]
    w = world(site)
    contexts = {}
    errors: dict[str, list[str]] = {}

    def context(who):
        if who not in contexts:
            ctx = browser.new_context(viewport=viewport, device_scale_factor=1)
            ctx.set_default_timeout(15_000)
            ctx.add_init_script(RECORD_CSP)
            if who in ("owner", "grantee", "newcomer", "staff"):
                ctx.add_cookies([session_cookie(site, w[who], verified_staff=who == "staff")])
            contexts[who] = ctx
        return contexts[who]

    pages = {}

    def page_of(who):
        if who not in pages:
            page = context(who).new_page()
            page.on("pageerror", lambda exc, who=who: errors.setdefault(who, []).append(f"JS error: {exc}"))
            page.on("console", lambda msg, page=page, who=who: console_error(msg, page, errors.setdefault(who, [])))
            pages[who] = page
        return pages[who]

    failures = []
    try:
        # The waiting page's browser is the one the phone approves (approval_url_of reads its session).
        w["waiting_page"] = page_of("desktop")
        for visit in visits(site, w, settings):
            page = page_of(visit.who)
            errors.pop(visit.who, None)
            response = visit.go(page) if callable(visit.go) else page.goto(site + visit.go)
            status = response.status if response is not None else None
            problems = [] if status == visit.status else [f"answered {status}, expected {visit.status}"]
            page.wait_for_load_state("load")
            if visit.ready:
                page.wait_for_selector(visit.ready)
            # The page's own errors, before axe runs (axe's probes may trip the CSP themselves).
            problems += errors.pop(visit.who, [])
            problems += audit_page(page, axe_source)
            if SCREENSHOTS and visit.shot:
                Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(Path(SCREENSHOTS) / f"{visit.shot}-{viewport_name}.png"))
            failures += [f"{visit.name} ({visit.go if isinstance(visit.go, str) else 'flow'}): {p}" for p in problems]

        # Files served as they are (PDF, image) are not pages: they come with their own locked-down policy.
        owner_page = page_of("owner")
        for document in (w["pdf"], w["image"]):
            response = owner_page.request.get(f"{site}/documents/{document.pk}/open/")
            if response.status != 200 or "default-src 'none'" not in response.headers["content-security-policy"]:
                failures.append(f"open ({document.title}): {response.status} {response.headers}")
    finally:
        for ctx in contexts.values():
            ctx.close()
    assert not failures, f"{len(failures)} problems at {viewport_name} width:\n" + "\n".join(failures)


BROKEN_PAGE = """<!doctype html><html lang="en"><head><title>Broken</title></head><body><main>
<h1>Broken on purpose</h1>
<div style="width: 900px">Wider than a phone</div>
<table><tr><td style="width: 3em; word-break: break-all">Extraordinarily</td></tr></table>
<input type="text" name="unlabelled">
<script>throw new Error("boom")</script>
</main></body></html>"""


def audit_of(browser, url: str, body: str, headers: dict) -> tuple[str, list[str]]:
    """The audit's problems and the JS errors of `body` served at `url` with `headers`."""
    require("axe-core", AXE.exists(), "npm ci --prefix tests/browser (deploy/install-ci-tools.sh)")
    context = browser.new_context(viewport=VIEWPORTS["phone"])
    try:
        context.add_init_script(RECORD_CSP)
        context.route(url, lambda route: route.fulfill(body=body, content_type="text/html", headers=headers))
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        return "\n".join(audit_page(page, AXE.read_text())), errors
    finally:
        context.close()


def test_the_audit_catches_overflow_broken_words_missing_labels_and_js_errors(browser):
    problems, errors = audit_of(browser, "http://audit.test/", BROKEN_PAGE, {})
    assert "overflows: 9" in problems
    assert 'word broken in td: "Extraordinarily"' in problems
    assert "axe critical label" in problems
    assert "boom" in errors[0]


def test_the_audit_catches_csp_violations(browser):
    csp = {"Content-Security-Policy": "style-src 'self'; script-src 'self'"}
    problems, _ = audit_of(browser, "http://audit.test/", BROKEN_PAGE, csp)
    assert "CSP violation: style-src-attr blocked inline" in problems
    assert "CSP violation: script-src-elem blocked inline" in problems


def test_every_page_reads_well_on_a_phone(site, browser, audit_settings):
    run_audit("phone", site, browser, audit_settings)


def test_every_page_reads_well_on_a_desktop(site, browser, audit_settings):
    run_audit("desktop", site, browser, audit_settings)
