"""Share-link pages: the link shown once with a Copy button, all form errors at once, states, plurals, revokes."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from documents import services
from documents.models import Share
from tests.documents.conftest import login

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
