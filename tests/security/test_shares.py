"""Share links after revoke, expiry, lost access and deactivation; open redirects on the share pages."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from documents import services
from documents.models import Permission, Share
from tests.factories import UserFactory
from tests.security.conftest import login

pytestmark = pytest.mark.django_db


def _viewed(client, token: str) -> None:
    response = client.get(reverse("share:open", args=[token]))
    assert response.status_code == 200
    if response.streaming:
        b"".join(response.streaming_content)  # read to the end, as a browser would


def test_a_revoked_link_refuses_even_a_range_continuation_from_the_browser_that_viewed_it(client, owner, document):
    share, token = services.share_create(acting_user=owner, document=document, access="download")
    _viewed(client, token)
    services.share_revoke(acting_user=owner, share=share)
    response = client.get(reverse("share:open", args=[token]), HTTP_RANGE="bytes=100-")
    assert response.status_code == 410 and "Content-Range" not in response.headers


def test_an_expired_link_refuses_even_a_range_continuation_from_the_browser_that_viewed_it(client, owner, document):
    share, token = services.share_create(acting_user=owner, document=document, access="download")
    _viewed(client, token)
    Share.objects.filter(pk=share.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(reverse("share:download", args=[token]), HTTP_RANGE="bytes=100-").status_code == 410


def test_a_browser_that_unlocked_a_password_link_is_refused_once_it_is_revoked(client, owner, document):
    share, token = services.share_create(acting_user=owner, document=document, password="correct horse battery")
    client.post(reverse("share:link", args=[token]), {"password": "correct horse battery"})
    assert client.get(reverse("share:open", args=[token])).status_code == 200
    services.share_revoke(acting_user=owner, share=share)
    assert client.get(reverse("share:open", args=[token])).status_code == 410


def test_a_password_link_cannot_be_opened_or_downloaded_without_the_password(client, owner, document):
    _, token = services.share_create(
        acting_user=owner, document=document, access="download", password="correct horse battery"
    )
    for name in ("share:open", "share:download"):
        response = client.get(reverse(name, args=[token]))
        assert response.status_code == 302 and "Content-Disposition" not in response.headers


def test_a_link_made_by_a_grantee_dies_when_their_grant_is_lowered_to_view(client, owner, document):
    sharer = UserFactory()
    services.grant_add(acting_user=owner, document=document, user=sharer, permission=Permission.SHARE, notify=False)
    _, token = services.share_create(acting_user=sharer, document=document)
    services.grant_add(acting_user=owner, document=document, user=sharer, permission=Permission.VIEW, notify=False)
    assert client.get(reverse("share:open", args=[token])).status_code == 410


def test_a_link_dies_when_its_makers_account_is_deactivated(client, owner, document):
    _, token = services.share_create(acting_user=owner, document=document)
    User.objects.filter(pk=owner.pk).update(is_active=False)
    assert client.get(reverse("share:open", args=[token])).status_code == 410


def test_a_revoked_link_cannot_be_brought_back_by_extending_it(client, owner, document):
    share, token = services.share_create(acting_user=owner, document=document)
    services.share_revoke(acting_user=owner, share=share)
    login(client, owner)
    new_expiry = (timezone.now() + timedelta(days=10)).date().isoformat()
    client.post(reverse("documents:share_update", args=[share.pk]), {"expires_on": new_expiry})
    client.logout()
    assert client.get(reverse("share:open", args=[token])).status_code == 410


def test_a_sign_in_link_is_refused_to_a_signed_in_stranger_even_after_the_right_password(client, owner, document):
    recipient = UserFactory()
    _, token = services.share_create(
        acting_user=owner,
        document=document,
        require_login=True,
        recipient_phone=recipient.phone_number,
        password="correct horse battery",
    )
    login(client, UserFactory())
    client.post(reverse("share:link", args=[token]), {"password": "correct horse battery"})
    assert client.get(reverse("share:open", args=[token])).status_code == 403


@pytest.mark.parametrize("next_url", ["https://evil.example/phish", "//evil.example", "/\\evil.example"])
def test_managing_a_link_never_redirects_off_site(client, owner, document, next_url):
    share, _ = services.share_create(acting_user=owner, document=document)
    login(client, owner)
    for name in ("documents:share_update", "documents:share_revoke"):
        data = {"expires_on": "2000-01-01", "next": next_url, "confirm": "yes"}
        response = client.post(reverse(name, args=[share.pk]), data)
        assert response.status_code == 302 and response["Location"].startswith("/")
        assert "evil" not in response["Location"] and not response["Location"].startswith("//")


def test_a_share_id_that_is_not_mine_is_a_404_for_update_and_revoke(client, owner, document):
    share, _ = services.share_create(acting_user=owner, document=document)
    login(client, UserFactory())
    for name in ("documents:share_update", "documents:share_revoke"):
        data = {"expires_on": "2099-01-01", "confirm": "yes"}
        assert client.post(reverse(name, args=[share.pk]), data).status_code == 404
    assert Share.objects.get(pk=share.pk).revoked_at is None


def test_a_huge_share_token_is_a_404_not_a_500(client):
    assert client.get("/s/" + "a" * 5000).status_code == 404
    assert client.get("/s/" + "%00" * 50 + "/open").status_code == 404
