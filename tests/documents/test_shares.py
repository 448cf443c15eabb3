import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from documents import services
from documents.models import Share
from tests.documents.conftest import login
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    from django.core.cache import cache

    cache.clear()


def create_via_page(client, document, **fields):
    data = {"access": "download", "expires_on": (timezone.now() + timedelta(days=3)).date().isoformat(), **fields}
    return client.post(reverse("documents:share_create", args=[document.pk]), data)


def link_from(response) -> str:
    return re.search(r'value="([^"]+)" id="share-link"', response.content.decode()).group(1)


def test_creating_a_link_shows_it_once_with_its_qr_code(client, owner, document):
    login(client, owner)
    response = create_via_page(client, document)
    assert response.status_code == 200
    link = link_from(response)
    assert "/s/" in link
    assert b'src="data:image/svg+xml' in response.content
    assert response["Cache-Control"].startswith("max-age=0")
    share = Share.objects.get()
    assert link.rsplit("/", 1)[1] not in share.token_hash


def test_a_link_longer_than_ninety_days_is_refused_with_a_message(client, owner, document):
    login(client, owner)
    response = create_via_page(client, document, expires_on=(timezone.now() + timedelta(days=120)).date().isoformat())
    assert response.status_code == 400
    assert b"at most 90 days" in response.content
    assert not Share.objects.exists()


def test_a_link_that_requires_sign_in_needs_the_recipient_phone(client, owner, document):
    login(client, owner)
    response = create_via_page(client, document, require_login="on")
    assert response.status_code == 400
    assert not Share.objects.exists()


def test_anyone_with_the_link_opens_the_document_and_it_is_audited(client, owner, document):
    share, token = services.share_create(acting_user=owner, document=document, access="view")
    page = client.get(reverse("share:link", args=[token]))
    opened = client.get(reverse("share:open", args=[token]))
    assert page.status_code == 200 and document.title.encode() in page.content
    assert opened.status_code == 200 and opened["Content-Type"] == "application/pdf"
    kinds = list(AuditEvent.objects.filter(action="share.access").order_by("id").values_list("data__kind", "outcome"))
    assert kinds == [("page", "success"), ("open", "success")]
    share.refresh_from_db()
    assert share.view_count == 1 and share.last_accessed_at is not None


def test_a_password_protected_link_opens_after_the_right_password(client, owner, document):
    _, token = services.share_create(acting_user=owner, document=document, password="correct horse")
    url = reverse("share:link", args=[token])
    assert b"password" in client.get(url).content
    assert client.get(reverse("share:open", args=[token])).status_code == 302
    response = client.post(url, {"password": "correct horse"})
    assert response.status_code == 302
    assert client.get(reverse("share:open", args=[token])).status_code == 200


def test_share_passwords_are_rate_limited_even_when_the_right_one_comes_later(client, owner, document, settings):
    settings.DOCUID_SHARE_PASSWORD_ATTEMPTS = 3
    _, token = services.share_create(acting_user=owner, document=document, password="correct horse")
    url = reverse("share:link", args=[token])
    statuses = [client.post(url, {"password": f"guess {i}"}).status_code for i in range(3)]
    assert statuses == [403, 403, 403]
    assert client.post(url, {"password": "correct horse"}).status_code == 429
    reasons = list(
        AuditEvent.objects.filter(action="share.access").order_by("id").values_list("data__reason", flat=True)
    )
    assert reasons == ["wrong_password"] * 3 + ["rate_limited"]


def test_unlocking_one_link_does_not_unlock_another(client, owner, document):
    from tests.factories import make_document

    _, token_a = services.share_create(acting_user=owner, document=document, password="password a")
    _, token_b = services.share_create(acting_user=owner, document=make_document(owner), password="password b")
    client.post(reverse("share:link", args=[token_a]), {"password": "password a"})
    assert client.get(reverse("share:open", args=[token_b])).status_code == 302


def test_a_revoked_link_shows_a_clear_410_page(client, owner, document):
    share, token = services.share_create(acting_user=owner, document=document)
    login(client, owner)
    client.post(reverse("documents:share_revoke", args=[share.pk]), {"confirm": "yes"})
    client.logout()
    response = client.get(reverse("share:link", args=[token]))
    assert response.status_code == 410
    assert b"revoked" in response.content


def test_an_expired_link_says_it_expired(client, owner, document):
    share, token = services.share_create(acting_user=owner, document=document)
    Share.objects.filter(pk=share.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client.get(reverse("share:open", args=[token]))
    assert response.status_code == 410 and b"expired" in response.content
    assert AuditEvent.objects.get(action="share.access").data == {
        "share_id": share.pk,
        "kind": "open",
        "reason": "expired",
    }


def test_the_owner_extends_and_shortens_a_link_from_the_list(client, owner, document):
    share, _ = services.share_create(acting_user=owner, document=document)
    login(client, owner)
    assert document.title.encode() in client.get(reverse("documents:shares")).content
    later = (timezone.now() + timedelta(days=60)).date()
    client.post(reverse("documents:share_update", args=[share.pk]), {"expires_on": later.isoformat()})
    share.refresh_from_db()
    assert share.expires_at.date() == later
    sooner = (timezone.now() + timedelta(days=1)).date()
    client.post(reverse("documents:share_update", args=[share.pk]), {"expires_on": sooner.isoformat()})
    share.refresh_from_db()
    assert share.expires_at.date() == sooner


def test_someone_else_cannot_change_or_revoke_my_link(client, owner, other, document):
    share, _ = services.share_create(acting_user=owner, document=document)
    login(client, other)
    assert client.post(reverse("documents:share_revoke", args=[share.pk]), {"confirm": "yes"}).status_code == 404
    later = (timezone.now() + timedelta(days=60)).date().isoformat()
    assert client.post(reverse("documents:share_update", args=[share.pk]), {"expires_on": later}).status_code == 404
    share.refresh_from_db()
    assert share.revoked_at is None
    assert document.title.encode() not in client.get(reverse("documents:shares")).content


def test_the_owner_can_revoke_a_link_a_grantee_made(client, owner, other, document):
    services.grant_add(acting_user=owner, document=document, user=other, permission="share", notify=False)
    share, _ = services.share_create(acting_user=other, document=document)
    login(client, owner)
    client.post(reverse("documents:share_revoke", args=[share.pk]), {"confirm": "yes"})
    share.refresh_from_db()
    assert share.revoked_at is not None


def test_a_sign_in_link_sends_strangers_to_sign_in_and_refuses_someone_else(client, owner, other, document):
    recipient = UserFactory()
    _, token = services.share_create(
        acting_user=owner, document=document, recipient_phone=recipient.phone_number, require_login=True
    )
    url = reverse("share:open", args=[token])
    assert "/login" in client.get(url)["Location"]
    login(client, other)
    assert client.get(url).status_code == 403
    login(client, recipient)
    assert client.get(url).status_code == 200


def test_a_view_limited_link_stops_after_its_views(client, owner, document):
    _, token = services.share_create(acting_user=owner, document=document, max_views=1)
    assert client.get(reverse("share:open", args=[token])).status_code == 200
    assert client.get(reverse("share:open", args=[token])).status_code == 410


def test_range_requests_after_the_first_do_not_use_up_views(client, owner, document):
    _, token = services.share_create(acting_user=owner, document=document, access="download", max_views=1)
    url = reverse("share:download", args=[token])
    assert client.get(url, headers={"Range": "bytes=0-99"}).status_code == 206
    assert client.get(url, headers={"Range": "bytes=100-199"}).status_code == 206
    # ...but only for the browser that used the view: another gets nothing.
    from django.test import Client

    assert Client().get(url, headers={"Range": "bytes=100-199"}).status_code == 410


def test_the_link_token_never_reaches_the_logs(client, owner, document, no_pii_in_logs):
    _, token = services.share_create(acting_user=owner, document=document)
    client.get(reverse("share:link", args=[token]))
    assert token not in no_pii_in_logs.stream.getvalue()


def test_skipping_the_first_byte_does_not_dodge_the_view_limit(client, owner, document):
    _, token = services.share_create(acting_user=owner, document=document, access="download", max_views=1)
    url = reverse("share:download", args=[token])
    assert client.get(url, headers={"Range": "bytes=1-"}).status_code == 206
    from django.test import Client

    assert Client().get(url, headers={"Range": "bytes=1-"}).status_code == 410


def test_a_link_made_by_a_grantee_stops_working_when_their_access_ends(client, owner, other, document):
    grant = services.grant_add(acting_user=owner, document=document, user=other, permission="share", notify=False)
    _, token = services.share_create(acting_user=other, document=document)
    assert client.get(reverse("share:open", args=[token])).status_code == 200
    services.grant_remove(acting_user=owner, grant=grant)
    assert client.get(reverse("share:open", args=[token])).status_code == 410


def test_a_link_of_a_deleted_document_is_gone(client, owner, document):
    _, token = services.share_create(acting_user=owner, document=document)
    services.document_delete(acting_user=owner, document=document)
    assert client.get(reverse("share:link", args=[token])).status_code == 404
