"""Issue #15: a confidential Office original leaves only as its stamped PDF, unless its owner allows originals.

Every path that sends a download is tried (page, earlier version, share link, v1 and
compatibility API, format=office content); none gives the unstamped original, and a
rendition that is not made yet is a 409 that says so, never the original.
"""

import base64
import uuid

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from accounts.context import ClientContext
from accounts.services.api_tokens import api_client_create, api_token_issue
from audit.actions import Action
from audit.models import AuditEvent
from documents import samples, services
from documents.models import Document, Permission, Rendition, RenditionStatus
from tests.documents.conftest import login
from tests.documents.pdf_builder import pdf_with_text
from tests.documents.test_watermark import body, stamp_on_every_page, the_event
from tests.factories import UserFactory, make_document

pytestmark = pytest.mark.django_db

DOCX = samples.docx_bytes("Merger terms")
RENDITION = pdf_with_text(lambda p: [f"Merger terms page {p + 1}"], pages=3)


@pytest.fixture
def memo(owner):
    return make_document(owner, name="Merger.docx", data=DOCX, security_level="confidential")


@pytest.fixture
def reader(memo, owner):
    person = UserFactory(name="Rita Reader", phone_number="+13125559876")
    services.grant_add(acting_user=owner, document=memo, user=person, permission=Permission.DOWNLOAD)
    return person


def rendition(version, status=RenditionStatus.DONE) -> Rendition:
    made, _ = Rendition.objects.get_or_create(version=version)
    made.status = status
    if status == RenditionStatus.DONE:
        made.pdf.save(f"rendition-{version.pk}.pdf", ContentFile(RENDITION), save=False)
        made.pdf_size, made.page_count = len(RENDITION), 3
    else:
        made.error = "LibreOffice could not read it."
    made.save()
    return made


def api_get(user, path, params=None, headers=None):
    _, key = api_client_create(name=f"Add-in {uuid.uuid4().hex}")
    token = api_token_issue(user=user, client=None, client_context=ClientContext(), method="test").access_token
    return Client().get(path, params, headers={"x-api-key": key, "Authorization": f"Bearer {token}", **(headers or {})})


def test_a_download_gets_the_stamped_pdf_and_its_event_says_so(memo, reader, client):
    rendition(memo.current_version)
    login(client, reader)
    response = client.get(reverse("documents:download", args=[memo.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="Merger.pdf"' in response["Content-Disposition"]
    data = body(response)
    assert not data.startswith(b"PK")
    request_id, ref = stamp_on_every_page(data, "Rita Reader (+1******9876)")
    event = the_event(request_id, ref, Action.DOCUMENT_DOWNLOAD)
    assert event.data["watermark"]["rendition"] is True


def test_while_the_pdf_is_being_made_a_download_is_a_409_never_the_original(memo, reader, client):
    login(client, reader)  # the upload left the rendition pending
    response = client.get(reverse("documents:download", args=[memo.pk]))
    assert response.status_code == 409 and response["Retry-After"]
    assert b"still being made" in response.content and DOCX not in response.content
    event = AuditEvent.objects.get(action=Action.DOCUMENT_DOWNLOAD)
    assert event.outcome == "failure" and event.data["reason"] == "rendition_not_ready"


def test_when_no_pdf_could_be_made_the_download_says_to_ask_the_owner(memo, reader, client):
    rendition(memo.current_version, RenditionStatus.FAILED)
    login(client, reader)
    response = client.get(reverse("documents:download", args=[memo.pk]))
    assert response.status_code == 409 and "Retry-After" not in response
    assert b"owner can allow" in response.content


def test_the_owner_can_allow_the_original_and_the_change_is_audited(memo, owner, reader, client):
    rendition(memo.current_version)
    login(client, owner)
    page = client.get(reverse("documents:detail", args=[memo.pk])).content.decode()
    assert "Allow the original file" in page and "Download as PDF" in page
    response = client.post(reverse("documents:original_download", args=[memo.pk]), {"allow": "yes"})
    assert response.status_code == 302
    assert Document.objects.get(pk=memo.pk).allow_original_download is True
    assert AuditEvent.objects.get(action=Action.DOCUMENT_UPDATE).data == {"allow_original_download": True}
    login(client, reader)
    assert body(client.get(reverse("documents:download", args=[memo.pk]))) == DOCX


def test_only_the_owner_can_allow_the_original(memo, reader, client):
    login(client, reader)
    response = client.post(reverse("documents:original_download", args=[memo.pk]), {"allow": "yes"})
    assert response.status_code == 403
    assert Document.objects.get(pk=memo.pk).allow_original_download is False
    stranger = UserFactory()
    login(client, stranger)
    assert client.post(reverse("documents:original_download", args=[memo.pk]), {"allow": "yes"}).status_code == 404


def test_the_choice_needs_a_post(memo, owner, client):
    login(client, owner)
    assert client.get(reverse("documents:original_download", args=[memo.pk]), {"allow": "yes"}).status_code == 405


@pytest.mark.parametrize("level", ["public", "internal"])
def test_other_levels_download_the_original(owner, client, level):
    data = samples.docx_bytes(f"Open {level}")
    document = make_document(owner, name="Open.docx", data=data, security_level=level)
    login(client, owner)
    assert body(client.get(reverse("documents:download", args=[document.pk]))) == data


def test_an_earlier_version_is_withheld_too(memo, owner, client):
    services.document_version_add(
        acting_user=owner,
        document=memo,
        file=ContentFile(samples.docx_bytes("Merger terms v2"), name="Merger.docx"),
        name="Merger.docx",
    )
    login(client, owner)
    first = memo.versions.get(number=1)
    assert client.get(reverse("documents:version_download", args=[memo.pk, 1])).status_code == 409
    rendition(first)
    stamp_on_every_page(body(client.get(reverse("documents:version_download", args=[memo.pk, 1]))), "Olive Owner")


def test_a_share_link_download_gets_the_pdf_stamped_for_its_recipient(memo, owner):
    rendition(memo.current_version)
    share, token = services.share_create(
        acting_user=owner, document=memo, access="download", recipient_email="jane.doe@example.org"
    )
    response = Client().get(reverse("share:download", args=[token]), headers={"Range": "bytes=0-3"})
    assert response.status_code == 200
    request_id, ref = stamp_on_every_page(body(response), f"Share link #{share.pk} for j***@example.org")
    assert the_event(request_id, ref, Action.SHARE_ACCESS).data["watermark"]["rendition"] is True


@pytest.mark.parametrize("path", ["/api/v1/documents/{pk}/download", "/api/documents/{pk}/download"])
def test_api_downloads_get_the_stamped_pdf_or_a_409(memo, reader, path):
    url = path.format(pk=memo.pk)
    response = api_get(reader, url)
    assert response.status_code == 409 and response["Retry-After"]
    assert DOCX not in response.content
    rendition(memo.current_version)
    response = api_get(reader, url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    stamp_on_every_page(body(response), "Rita Reader")


@pytest.mark.parametrize("path", ["/api/v1/documents/{pk}/content", "/api/documents/{pk}/content"])
def test_api_office_content_is_the_stamped_pdf(memo, reader, path):
    url = path.format(pk=memo.pk)
    refused = api_get(reader, url, {"format": "office"})
    assert refused.status_code == 409
    rendition(memo.current_version)
    data = api_get(reader, url, {"format": "office"}).json()["data"]
    assert data["fileName"] == "Merger.pdf" and data["fileType"] == "application/pdf"
    content = base64.b64decode(data["content"])
    assert data["fileSize"] == len(content)  # the PDF's size, not the Word original's
    stamp_on_every_page(content, "Rita Reader")


def test_the_renditions_template_goes_with_the_rendition(
    memo, reader, client, media, django_capture_on_commit_callbacks
):
    made = rendition(memo.current_version)
    login(client, reader)
    body(client.get(reverse("documents:download", args=[memo.pk])))
    assert len(list((media / "stamp-templates").iterdir())) == 2
    with django_capture_on_commit_callbacks(execute=True):
        made.delete()
    assert list((media / "stamp-templates").iterdir()) == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/documents/{pk}/content?format=pdf",
        "/api/documents/{pk}/content?format=pdf",
        "/api/documents/{pk}/preview",
    ],
)
def test_the_apis_pdf_of_a_confidential_office_file_is_stamped(memo, reader, path):
    rendition(memo.current_version)
    url, _, query = path.format(pk=memo.pk).partition("?")
    response = api_get(reader, url, dict([query.split("=")]) if query else None, headers={"Range": "bytes=0-9"})
    assert response.status_code == 200 and response["Accept-Ranges"] == "none"
    request_id, ref = stamp_on_every_page(body(response), "Rita Reader (+1******9876)")
    assert the_event(request_id, ref, Action.DOCUMENT_OPEN).data["format"] == "pdf"


def test_a_signed_preview_link_stamps_the_person_it_was_made_for(memo, reader):
    rendition(memo.current_version)
    browser = Client()
    login(browser, reader)
    access = browser.get(f"/api/dashboard/documents/{memo.pk}/access").json()["data"]["document"]["access"]
    response = Client().get(access["previewUrl"])
    assert response.status_code == 200
    stamp_on_every_page(body(response), "Rita Reader (+1******9876)")


def test_the_open_page_says_what_a_download_gives(memo, reader, client):
    rendition(memo.current_version)
    login(client, reader)
    page = client.get(reverse("documents:view", args=[memo.pk])).content.decode()
    assert "Download as PDF" in page and "Download Merger.docx" not in page


def test_when_no_pdf_could_be_made_the_open_page_does_not_promise_a_download(memo, reader, client):
    rendition(memo.current_version, RenditionStatus.FAILED)
    login(client, reader)
    page = client.get(reverse("documents:view", args=[memo.pk])).content.decode()
    assert "until its owner allows the original" in page and "open it in its application" not in page
