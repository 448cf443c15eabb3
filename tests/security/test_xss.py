"""Stored XSS: names, titles, descriptions, tags and file names people type come back escaped everywhere."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from documents import services
from documents.models import Permission
from operations.services.incidents import incident_open, incident_post_update
from tests.documents.test_admin import verified_client
from tests.factories import StaffFactory, UserFactory, make_document
from tests.security.conftest import login

pytestmark = pytest.mark.django_db

PAYLOAD = '<script>alert("xss")</script><img src=x onerror=alert(1)>'


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def assert_escaped(response) -> None:
    content = body(response)
    assert response.status_code == 200
    assert b"<script>alert" not in content and b"<img src=x" not in content
    assert b"&lt;script&gt;alert" in content


@pytest.fixture
def hostile():
    """A person and a document whose every free-text field is a script."""
    person = UserFactory(name=PAYLOAD, email="hostile@example.com")
    document = make_document(
        person,
        name=f"{PAYLOAD}.txt",
        data=b"plain words\n",
        title=PAYLOAD,
        description=PAYLOAD,
        category=PAYLOAD[:100],
        tags=[PAYLOAD[:50]],
    )
    # Uploads refuse text with markup a browser would run (documents.filetypes, issue #12 F14), so
    # the hostile text preview is a file stored before they did: its bytes are replaced in storage.
    version = document.current_version
    with version.file.storage.open(version.file.name, "wb") as stored:
        stored.write(b"<img src=x onerror=alert(1)>\n")
    return person, document


@pytest.mark.parametrize("page", ["documents:list", "documents:detail", "documents:open", "documents:shares"])
def test_the_owners_pages_escape_every_field_they_show(client, hostile, page):
    person, document = hostile
    services.share_create(acting_user=person, document=document)
    login(client, person)
    url = reverse(page, args=[document.pk]) if page in {"documents:detail", "documents:open"} else reverse(page)
    assert_escaped(client.get(url))


def test_a_search_for_a_script_is_echoed_escaped(client, owner):
    login(client, owner)
    response = client.get(reverse("documents:list"), {"q": PAYLOAD[:200]})
    assert_escaped(response)


def test_a_grantee_sees_the_owners_hostile_name_escaped(client, hostile):
    person, document = hostile
    reader = UserFactory()
    services.grant_add(acting_user=person, document=document, user=reader, permission=Permission.VIEW, notify=False)
    login(client, reader)
    assert_escaped(client.get(reverse("documents:detail", args=[document.pk])))


def test_the_owner_sees_a_grantees_hostile_name_escaped_in_the_access_list(client, owner, document):
    reader = UserFactory(name=PAYLOAD, email="reader@example.com")
    services.grant_add(acting_user=owner, document=document, user=reader, permission=Permission.VIEW, notify=False)
    login(client, owner)
    assert_escaped(client.get(reverse("documents:detail", args=[document.pk])))


@pytest.mark.parametrize("page", ["share:link", "share:open"])
def test_a_share_link_escapes_the_title_and_the_text_preview(client, hostile, page):
    person, document = hostile
    _, token = services.share_create(acting_user=person, document=document)
    assert_escaped(client.get(reverse(page, args=[token])))


def test_the_profile_escapes_the_persons_name(client, hostile):
    person, _ = hostile
    login(client, person)
    assert_escaped(client.get(reverse("accounts:profile")))


def test_the_status_page_escapes_public_incident_updates(client):
    cache.clear()
    incident = incident_open(title="Login trouble", severity="critical", component="login", public=True)
    incident_post_update(incident=incident, message=PAYLOAD, public=True)
    assert_escaped(client.get(reverse("operations:status")))


@pytest.mark.parametrize("page", ["changelist", "change"])
def test_the_document_admin_escapes_hostile_titles_and_names(client, hostile, page):
    _, document = hostile
    verified_client(client, StaffFactory(is_superuser=True))
    args = [document.pk] if page == "change" else []
    assert_escaped(client.get(reverse(f"admin:documents_document_{page}", args=args)))


def test_the_audit_admin_escapes_hostile_data(client, hostile):
    verified_client(client, StaffFactory(is_superuser=True))
    from audit.models import AuditEvent

    event = AuditEvent.objects.filter(action="document.upload").get()
    assert_escaped(client.get(reverse("admin:audit_auditevent_change", args=[event.pk])))
