"""Share-link pages: the link shown once with a Copy button, all form errors at once, states, plurals, revokes;
and the recipient's open page, which draws a PDF or an Office file's rendition in the signed-in viewer through
the link's own URLs (attacks on it: tests/security/test_share_viewer.py).
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from documents import samples, services
from documents.models import RenditionStatus, Share
from tests.documents.conftest import login
from tests.documents.test_watermark_originals import RENDITION, rendition
from tests.factories import make_document

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    from django.core.cache import cache

    cache.clear()


def test_a_new_link_is_shown_in_a_copy_field_with_a_copy_button(client, owner, document):
    login(client, owner)
    day = (timezone.now() + timedelta(days=3)).date().isoformat()
    response = client.post(
        reverse("documents:share_create", args=[document.pk]), {"access": "view", "expires_on": day, "max_views": 1}
    )
    text = response.content.decode()
    assert 'class="copy-field"' in text
    assert 'data-copy-target="#share-link"' in text and ">Copy link</button>" in text
    assert 'class="copy-status" role="status" aria-live="polite"' in text
    assert "js/copy.js" in text
    assert "at most 1 view" in text and "at most 1 views" not in text
    assert "view(s)" not in text


def test_the_share_form_lists_every_error_at_once(client, owner, document):
    login(client, owner)
    response = client.post(
        reverse("documents:share_create", args=[document.pk]),
        {
            "access": "view",
            "expires_on": (timezone.now() + timedelta(days=200)).date().isoformat(),
            "password": "short",
            "recipient_email": "not-an-email",
            "recipient_phone": "12",
        },
    )
    assert response.status_code == 400
    text = response.content.decode()
    summary = text.split('class="form-errors" role="alert"', 1)[1].split("</div>", 1)[0]
    for field in ("Expires on", "Password", "Recipient email (optional)", "Recipient phone"):
        assert f">{field}</a>:" in summary
    assert "at most 90 days" in summary and "at least 8 characters" in summary
    assert "novalidate" in text
    assert not Share.objects.exists()


def test_a_past_expiry_is_refused_by_the_form(client, owner, document):
    login(client, owner)
    yesterday = (timezone.now() - timedelta(days=1)).date().isoformat()
    response = client.post(
        reverse("documents:share_create", args=[document.pk]), {"access": "view", "expires_on": yesterday}
    )
    assert response.status_code == 400 and b"today or a later day" in response.content
    assert not Share.objects.exists()


def test_my_share_links_shows_state_badges_and_proper_plurals(client, owner, document):
    active, _ = services.share_create(acting_user=owner, document=document)
    used, _ = services.share_create(acting_user=owner, document=document, max_views=1)
    expired, _ = services.share_create(acting_user=owner, document=document, max_views=5)
    Share.objects.filter(pk=active.pk).update(view_count=1)
    Share.objects.filter(pk=used.pk).update(view_count=1)
    Share.objects.filter(pk=expired.pk).update(view_count=3, expires_at=timezone.now() - timedelta(minutes=1))
    login(client, owner)
    text = client.get(reverse("documents:shares")).content.decode()
    assert '<span class="badge badge-ok">Active</span>' in text
    assert '<span class="badge badge-warn">Used up</span>' in text
    assert '<span class="badge badge-neutral">Expired</span>' in text
    assert "1 view<" in text and "1 of 1 view used" in text and "3 of 5 views used" in text
    assert "view(s)" not in text and "3/5" not in text  # not "3/5": URLs hold ids like /documents/584/
    assert '<table class="stack-table' in text and "data-confirm=" in text


def test_my_share_links_without_links_offers_the_way_to_make_one(client, owner):
    login(client, owner)
    text = client.get(reverse("documents:shares")).content.decode()
    assert 'class="empty-state"' in text and reverse("documents:list") in text


def test_revoking_without_confirming_shows_the_confirmation_and_the_link_still_works(client, owner, document):
    share, token = services.share_create(acting_user=owner, document=document)
    login(client, owner)
    response = client.post(reverse("documents:share_revoke", args=[share.pk]), {"next": "detail"})
    assert response.status_code == 200
    assert f"Revoke link #{share.pk}?".encode() in response.content
    assert b'name="next" value="detail"' in response.content
    share.refresh_from_db()
    assert share.revoked_at is None
    assert client.get(reverse("documents:share_revoke", args=[share.pk])).status_code == 200
    share.refresh_from_db()
    assert share.revoked_at is None
    client.logout()
    assert client.get(reverse("share:link", args=[token])).status_code == 200


def test_a_confirmed_revoke_from_the_detail_page_returns_there(client, owner, document):
    share, _ = services.share_create(acting_user=owner, document=document)
    login(client, owner)
    response = client.post(reverse("documents:share_revoke", args=[share.pk]), {"next": "detail", "confirm": "yes"})
    assert response.status_code == 302 and response["Location"] == reverse("documents:detail", args=[document.pk])
    share.refresh_from_db()
    assert share.revoked_at is not None


def test_a_view_only_link_refusing_a_download_links_back_to_the_shared_document(client, owner, document):
    _, token = services.share_create(acting_user=owner, document=document, access="view")
    response = client.get(reverse("share:download", args=[token]))
    assert response.status_code == 403
    assert f'href="{reverse("share:link", args=[token])}"'.encode() in response.content
    assert b"Back to the shared document" in response.content


# --- The recipient's open page ----------------------------------------------------------------


def shared(document, **options) -> str:
    return services.share_create(acting_user=document.owner, document=document, **options)[1]


def share_kinds(document) -> list[tuple[str, str]]:
    events = AuditEvent.objects.filter(action="share.access", target_id=str(document.pk)).order_by("id")
    return list(events.values_list("data__kind", "outcome"))


def test_the_links_page_opens_the_open_page(client, document):
    token = shared(document)
    content = client.get(reverse("share:link", args=[token])).content.decode()
    assert f'href="{reverse("share:view", args=[token])}" id="share-open">Open</a>' in content


def test_a_shared_pdf_is_drawn_by_the_viewer_from_the_links_own_pdf_url(client, document):
    token = shared(document, access="download")
    response = client.get(reverse("share:view", args=[token]))
    content = response.content.decode()
    assert response.status_code == 200
    assert f'data-pdf-viewer data-src="{reverse("share:pdf", args=[token])}"' in content
    assert "js/viewer.js" in content and "vendor/pdfjs/standard_fonts/" in content
    assert f'href="{reverse("share:download", args=[token])}">Download Quarterly report.pdf</a>' in content
    assert "/documents/" not in content.split("<main", 1)[1]  # no signed-in URL: they would not open for a recipient
    assert "Shared by Olive Owner" in content
    # The page is not the view: the PDF the viewer fetches is (inline, the inline-PDF policy).
    assert Share.objects.get().view_count == 0
    pdf = client.get(reverse("share:pdf", args=[token]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"].startswith("inline") and "default-src 'none'" in pdf["Content-Security-Policy"]
    assert Share.objects.get().view_count == 1
    assert share_kinds(document) == [("page", "success"), ("open", "success")]


def test_a_shared_office_file_is_drawn_from_its_rendition(client, owner):
    memo = make_document(owner, name="Memo.docx", data=samples.docx_bytes("Merger terms"))
    rendition(memo.current_version)
    token = shared(memo)
    for name in ("share:view", "share:open"):  # /open of an Office file is its open page too
        content = client.get(reverse(name, args=[token])).content.decode()
        assert f'data-src="{reverse("share:pdf", args=[token])}"' in content, name
    pdf = client.get(reverse("share:pdf", args=[token]))
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content) == RENDITION
    assert pdf["Content-Disposition"] == 'inline; filename="Memo.pdf"'
    assert Share.objects.get().view_count == 1


def test_while_the_pdf_is_being_made_the_page_says_so_polls_and_spends_no_view(client, owner):
    memo = make_document(owner, name="Memo.docx", data=samples.docx_bytes("Merger terms"))  # rendition pending
    token = shared(memo, max_views=1)
    content = client.get(reverse("share:view", args=[token])).content.decode()
    assert "The preview is being prepared." in content and "Merger terms" not in content
    assert f'data-status-url="{reverse("share:view_status", args=[token])}"' in content
    assert "js/preview-status.js" in content and "js/viewer.js" not in content
    assert client.get(reverse("share:view_status", args=[token])).json() == {"state": "pending"}
    early = client.get(reverse("share:pdf", args=[token]))
    assert early.status_code == 409 and early["Retry-After"] == "10"
    assert Share.objects.get().view_count == 0
    rendition(memo.current_version)
    assert client.get(reverse("share:view_status", args=[token])).json() == {"state": "ready"}
    assert client.get(reverse("share:pdf", args=[token])).status_code == 200
    assert Share.objects.get().view_count == 1


def test_when_no_pdf_could_be_made_the_page_says_so_and_shows_the_text(client, owner):
    memo = make_document(owner, name="Memo.docx", data=samples.docx_bytes("Merger terms"))
    rendition(memo.current_version, status=RenditionStatus.FAILED)
    token = shared(memo, access="view")
    content = client.get(reverse("share:view", args=[token])).content.decode()
    assert "could not be converted for viewing" in content and "Merger terms" in content
    assert "Download it" not in content and "data-pdf-viewer" not in content
    assert client.get(reverse("share:pdf", args=[token])).status_code == 404
    assert Share.objects.get().view_count == 1  # the text went out in the page
