"""A person's whole document journey in a real browser: upload, find, open, share by link, revoke."""

import re

import pytest
from django.test import Client

from documents import samples
from tests.factories import UserFactory

TITLE = "Browser journey contract"


def signed_in_context(new_context, site, user):
    """A browser context carrying a Django session for `user`.

    Until the biometric login flow's browser test drives the real sign-in, the
    session is made with force_login and its cookie handed to the browser; the
    views only need a standard Django session either way.
    """
    client = Client()
    client.force_login(type(user).objects.get(pk=user.pk))
    context = new_context()
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": site, "httpOnly": True}]
    )
    return context


@pytest.mark.django_db(transaction=True)
def test_upload_find_open_share_by_link_and_revoke(site, new_context):
    user = UserFactory(name="Bria Browser")
    page = signed_in_context(new_context, site, user).new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    # Upload through the JavaScript uploader (XHR with progress).
    page.goto(site + "/documents/upload/")
    page.set_input_files(
        "#id_files",
        files=[{"name": f"{TITLE}.pdf", "mimeType": "application/pdf", "buffer": samples.pdf_bytes(TITLE, pages=2)}],
    )
    page.fill("#id_category", "Contracts")
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#upload-status li.ok")
    assert page.locator("#upload-status li.ok progress").evaluate("bar => bar.value") == 100

    # Find it by search from the home page (the document list for signed-in people).
    page.goto(site + "/")
    page.fill("#id_q", "journey")
    page.press("#id_q", "Enter")
    page.click(f"text={TITLE}.pdf")
    page.wait_for_selector("h1")
    assert page.locator("h1").inner_text() == f"{TITLE}.pdf"

    # Open it: the open page draws it (tests/browser/test_viewer.py); the PDF itself is served
    # inline, with the locked-down policy.
    page.click("#open-link")
    page.wait_for_selector("[data-pdf-viewer][data-state=ready]")
    opened = page.request.get(site + page.locator("#open-pdf-link").get_attribute("href"))
    assert opened.status == 200
    assert opened.headers["content-type"] == "application/pdf"
    assert opened.headers["content-disposition"].startswith("inline")
    assert "default-src 'none'" in opened.headers["content-security-policy"]
    assert opened.body().startswith(b"%PDF")

    # Share it by link, with a QR code.
    page.go_back()
    page.click("text=Share by link")
    page.select_option("#id_access", "download")
    page.click("text=Create link")
    link = page.locator("#share-link").input_value()
    assert re.match(rf"^{re.escape(site)}/s/[A-Za-z0-9_-]{{40,}}$", link)
    assert page.locator("#share-qr").evaluate("img => img.complete && img.naturalWidth > 0")

    # Someone else, not signed in, opens the link.
    stranger = new_context().new_page()
    response = stranger.goto(link)
    assert response.status == 200
    assert TITLE in stranger.locator("h1").inner_text()
    assert stranger.request.get(link + "/download").status == 200

    # The owner revokes it; the stranger now sees the 410 page.
    page.goto(site + "/documents/shares/")
    page.click("form[data-confirm] button:has-text('Revoke')")
    page.click("dialog.confirm-dialog button:has-text('Revoke')")
    page.wait_for_selector("text=is revoked")
    response = stranger.goto(link)
    assert response.status == 410
    assert "revoked" in stranger.locator("main").inner_text()
    assert errors == []
