"""On a phone (390 px): Copy link copies and says so; destructive buttons ask in a dialog, or on a page without JS."""

import pytest
from playwright.sync_api import expect

from documents.models import Document
from tests.browser.test_documents import signed_in_context
from tests.factories import UserFactory, make_document

PHONE = {"viewport": {"width": 390, "height": 844}}


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.django_db(transaction=True)
def test_copy_link_copies_the_new_link_and_announces_it(site, new_context):
    user = UserFactory(name="Cora Copy")
    document = make_document(user, name="Copy me.pdf")
    context = signed_in_context(lambda: new_context(**PHONE), site, user)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)
    page = context.new_page()
    page.goto(f"{site}/documents/{document.pk}/share/")
    page.click("text=Create link")
    link = page.locator("#share-link").input_value()
    assert page.locator(".copy-status").inner_text() == ""
    page.click("button:has-text('Copy link')")
    expect(page.locator(".copy-status")).to_have_text("Copied")
    assert page.locator(".copy-status").get_attribute("role") == "status"
    assert page.evaluate("navigator.clipboard.readText()") == link
    assert no_horizontal_overflow(page)


@pytest.mark.django_db(transaction=True)
def test_delete_asks_in_a_dialog_that_escape_cancels_and_deletes_only_when_confirmed(site, new_context):
    user = UserFactory(name="Dina Dialog")
    document = make_document(user, name="Delete me.pdf")
    page = signed_in_context(lambda: new_context(**PHONE), site, user).new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{site}/documents/{document.pk}/")
    assert no_horizontal_overflow(page)

    page.click(".danger-zone button")
    dialog = page.locator("dialog.confirm-dialog")
    assert dialog.evaluate("d => d.open")
    assert "Delete “Delete me.pdf”?" in dialog.inner_text()
    assert page.evaluate("document.activeElement.textContent") == "Cancel"
    page.keyboard.press("Escape")
    assert not dialog.evaluate("d => d.open")
    assert page.evaluate("document.activeElement.textContent") == "Delete this document"
    assert Document.objects.filter(pk=document.pk).exists()

    page.click(".danger-zone button")
    page.click("dialog.confirm-dialog button:has-text('Delete this document')")
    page.wait_for_selector("text=Deleted “Delete me.pdf”")
    assert not Document.objects.filter(pk=document.pk).exists()
    assert errors == []


@pytest.mark.django_db(transaction=True)
def test_without_javascript_delete_leads_to_a_confirmation_page(site, new_context):
    user = UserFactory(name="Nico NoScript")
    document = make_document(user, name="No script.pdf")
    page = signed_in_context(lambda: new_context(java_script_enabled=False, **PHONE), site, user).new_page()
    page.goto(f"{site}/documents/{document.pk}/")
    page.click(".danger-zone button")
    assert page.locator("h1").inner_text() == "Delete “No script.pdf”?"
    assert Document.objects.filter(pk=document.pk).exists()
    assert no_horizontal_overflow(page)
    page.click("main button:has-text('Delete this document')")
    page.wait_for_selector("text=Deleted “No script.pdf”")
    assert not Document.objects.filter(pk=document.pk).exists()
