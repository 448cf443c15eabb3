"""Attacks on a share link's viewer (/s/<token>/view, /pdf, /view/status): the token alone decides, as for /open.

A dead link (expired, revoked, used up, restricted) gets no PDF and no page; a view-only link gets no
download button and its PDF only inline; the token gives no way to another document's PDF nor to the
signed-in URLs; a stamped copy ignores Range and every copy is a view; a locked link shows nothing.
"""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.actions import Action
from audit.models import AuditEvent
from documents import samples, services
from documents.models import Share
from tests.documents.test_watermark import PAGES, body, confidential_pdf, stamp_on_every_page, the_event
from tests.documents.test_watermark_originals import RENDITION, rendition
from tests.factories import make_document
from tests.security.conftest import login

pytestmark = pytest.mark.django_db

VIEWER_PATHS = ("share:view", "share:pdf", "share:view_status")


@pytest.fixture
def memo(owner):
    """A Word file whose PDF rendition is made."""
    document = make_document(owner, name="Memo.docx", data=samples.docx_bytes("Merger terms"))
    rendition(document.current_version)
    return document


def link(document, **options) -> tuple[Share, str]:
    return services.share_create(acting_user=document.owner, document=document, **options)


def assert_nothing_of_the_document(response) -> None:
    data = body(response)
    assert b"%PDF" not in data and b"data-pdf-viewer" not in data and b"Merger terms" not in data


@pytest.mark.parametrize("death", ["expired", "revoked", "used_up", "restricted"])
def test_a_dead_link_gets_no_pdf_no_viewer_and_no_state(client, memo, death):
    share, token = link(memo, max_views=1 if death == "used_up" else 5)
    client.get(reverse("share:pdf", args=[token]))  # this browser's view, before the link dies
    # A used-up link still lets the counted browser fetch the rest of its copy by ranges (F8): try another.
    browser = Client() if death == "used_up" else client
    if death == "expired":
        Share.objects.filter(pk=share.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    elif death == "revoked":
        services.share_revoke(acting_user=memo.owner, share=share)
    elif death == "restricted":
        memo.security_level = "restricted"
        memo.save(update_fields=["security_level"])
    for name in VIEWER_PATHS:
        for headers in ({}, {"Range": "bytes=0-99"}):  # not even the rest of the counted browser's file
            response = browser.get(reverse(name, args=[token]), headers=headers)
            assert response.status_code == 410, (name, headers, response.status_code)
            assert_nothing_of_the_document(response)
    failures = AuditEvent.objects.filter(action=Action.SHARE_ACCESS, outcome="failure")
    assert {event.data["reason"] for event in failures} == {death}


def test_a_view_only_link_has_no_download_button_and_its_pdf_is_inline_only(client, memo):
    _, token = link(memo, access="view")
    content = client.get(reverse("share:view", args=[token])).content.decode()
    assert reverse("share:download", args=[token]) not in content
    assert "Download" not in content and 'id="open-pdf-link"' not in content
    for headers in ({}, {"Accept": "application/octet-stream"}):
        pdf = client.get(reverse("share:pdf", args=[token]), {"download": "1", "as_attachment": "1"}, headers=headers)
        assert pdf.status_code == 200 and pdf["Content-Disposition"].startswith("inline;")
        assert body(pdf) == RENDITION
    assert client.get(reverse("share:download", args=[token])).status_code == 403


def test_the_token_opens_no_other_documents_pdf(client, owner, memo):
    other = make_document(owner, name="Other.pdf", data=samples.pdf_bytes("Other secret"))
    _, token = link(memo)
    assert client.get(reverse("share:view", args=[token])).status_code == 200
    # Whatever names the other document, the link's PDF is its own document's.
    for params in ({"id": other.pk}, {"document": other.pk}, {"pk": other.pk, "version": 1}):
        assert body(client.get(reverse("share:pdf", args=[token]), params)) == RENDITION
    for path in (f"/s/{token}/pdf/{other.pk}", f"/s/{token}/{other.pk}/pdf", f"/s/{token}/../{other.pk}/pdf"):
        assert client.get(path).status_code == 404, path
    # The session the link made opens none of the signed-in URLs, of either document.
    for name in ("documents:rendition", "documents:open", "documents:view", "documents:view_status"):
        for document in (memo, other):
            response = client.get(reverse(name, args=[document.pk]))
            assert response.status_code == 302 and "login" in response["Location"], name
    # Nor does another link's token open this one's PDF in a browser that unlocked it.
    _, locked = link(other, password="other password")
    client.post(reverse("share:link", args=[token]), {"password": "other password"})
    assert client.get(reverse("share:pdf", args=[locked])).status_code == 302


def test_a_password_link_shows_nothing_until_unlocked(client, memo):
    _, token = link(memo, password="correct horse")
    for name in VIEWER_PATHS:
        response = client.get(reverse(name, args=[token]))
        assert response.status_code == 302 and response["Location"] == reverse("share:link", args=[token]), name
    assert Share.objects.get().view_count == 0


def test_a_stamped_copy_ignores_range_and_every_copy_is_a_view(owner):
    secret = make_document(owner, name="Plan.pdf", data=confidential_pdf("A"), security_level="confidential")
    share, token = link(secret, recipient_email="jane.doe@example.org", max_views=2)
    browser = Client()
    response = browser.get(reverse("share:pdf", args=[token]), headers={"Range": "bytes=0-99"})
    assert response.status_code == 200 and response["Accept-Ranges"] == "none" and "Content-Range" not in response
    assert response["Content-Disposition"].startswith("inline;")
    request_id, ref = stamp_on_every_page(body(response), f"Share link #{share.pk} for j***@example.org", PAGES)
    assert the_event(request_id, ref, Action.SHARE_ACCESS).data["kind"] == "open"
    # The rest of that copy by ranges is another whole copy, another view — then none.
    again = browser.get(reverse("share:pdf", args=[token]), headers={"Range": "bytes=100-"})
    assert again.status_code == 200 and "Content-Range" not in again
    body(again)
    assert browser.get(reverse("share:pdf", args=[token]), headers={"Range": "bytes=200-"}).status_code == 410
    assert Share.objects.get().view_count == 2


def test_a_confidential_office_files_rendition_goes_out_stamped_for_the_links_recipient(owner):
    memo = make_document(owner, name="Merger.docx", data=samples.docx_bytes("Merger"), security_level="confidential")
    rendition(memo.current_version)
    share, token = link(memo, recipient_phone="+13125550777", access="view")
    response = Client().get(reverse("share:pdf", args=[token]), headers={"Range": "bytes=0-10"})
    assert response.status_code == 200 and response["Accept-Ranges"] == "none"
    request_id, ref = stamp_on_every_page(body(response), f"Share link #{share.pk} for +1******0777", 3)
    event = the_event(request_id, ref, Action.SHARE_ACCESS)
    assert event.data["watermark"]["rendition"] is True and "0777" not in str(event.data)


def test_head_of_the_pdf_is_neither_a_view_nor_a_copy(client, memo):
    _, token = link(memo, max_views=1)
    response = client.head(reverse("share:pdf", args=[token]))
    assert response.status_code == 200 and response.content == b""
    assert Share.objects.get().view_count == 0
    assert client.get(reverse("share:pdf", args=[token])).status_code == 200


def test_a_link_for_a_signed_in_recipient_shows_nothing_to_anyone_else(client, memo, other):
    _, token = link(memo, recipient_phone="+13125550777", require_login=True)
    for name in VIEWER_PATHS:
        response = client.get(reverse(name, args=[token]))
        assert response.status_code == 302 and "login" in response["Location"], name
    login(client, other)  # signed in, but not the recipient
    for name in VIEWER_PATHS:
        response = client.get(reverse(name, args=[token]))
        assert response.status_code == 403, name
        assert_nothing_of_the_document(response)
