"""The open page (documents:view) and its rendition status (documents:view_status).

The page chooses a viewer per type (documents.viewing); the PDF or image it shows is fetched
from documents:open, which stays the one audited, access-checked source of the bytes.
"""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from documents import samples, services, viewing
from documents.models import Permission
from tests.factories import UserFactory, make_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return UserFactory(name="Olga Owner")


@pytest.fixture
def other():
    return UserFactory(name="Mallory Other")


def login(client, user):
    client.force_login(user)


def opens():
    return list(AuditEvent.objects.filter(action="document.open").values_list("outcome", flat=True))


@pytest.fixture
def rendition(monkeypatch):
    """Sets what the renditions backend answers for Office versions: (state, url)."""
    answer = {"value": ("none", "")}
    monkeypatch.setattr(viewing, "_rendition", lambda version: answer["value"])

    def set_state(state: str, url: str = "") -> None:
        answer["value"] = (state, url)

    return set_state


def test_a_pdf_opens_in_the_viewer_with_its_file_name_and_the_pdf_it_loads(client, owner):
    document = make_document(owner, name="Board minutes.pdf")
    login(client, owner)
    response = client.get(reverse("documents:view", args=[document.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    pdf_url = reverse("documents:open", args=[document.pk])
    assert f'data-src="{pdf_url}"' in content
    assert "Board minutes.pdf" in content
    assert "vendor/pdfjs/pdf.min" in content and "js/viewer" in content
    assert f'<a href="{pdf_url}">Open the PDF in the browser</a>' in content  # the <noscript> way


def test_the_viewer_page_is_not_an_open_the_pdf_it_loads_is(client, owner):
    """One open, one audit event: the page shows no content; the request for the bytes is the open."""
    document = make_document(owner, name="Audit.pdf")
    login(client, owner)
    client.get(reverse("documents:view", args=[document.pk]))
    assert opens() == []
    client.get(reverse("documents:open", args=[document.pk]))
    assert opens() == ["success"]


def test_an_image_is_shown_as_an_img_of_the_open_url(client, owner):
    image = make_document(owner, name="Plan.png", data=samples.png_bytes(20, 10))
    login(client, owner)
    content = client.get(reverse("documents:view", args=[image.pk])).content.decode()
    assert f'<img src="{reverse("documents:open", args=[image.pk])}" alt="Plan.png">' in content
    assert "js/viewer" not in content


def test_a_converted_office_file_opens_its_rendition_in_the_viewer(client, owner, rendition):
    word = make_document(owner, name="Contract.docx", data=samples.docx_bytes("Clause one"))
    rendition("ready", f"/documents/{word.pk}/rendition/")
    login(client, owner)
    response = client.get(reverse("documents:view", args=[word.pk]))
    content = response.content.decode()
    assert f'data-src="/documents/{word.pk}/rendition/"' in content
    assert "Contract.docx" in content
    assert "Clause one" not in content  # the text preview is not read when the PDF is ready
    assert opens() == []  # the rendition's own request is the audited view


def test_while_the_rendition_is_made_the_page_says_so_shows_the_text_and_polls(client, owner, rendition):
    word = make_document(owner, name="Draft.docx", data=samples.docx_bytes("Clause pending"))
    rendition("pending")
    login(client, owner)
    content = client.get(reverse("documents:view", args=[word.pk])).content.decode()
    assert "The preview is being prepared." in content
    assert "Clause pending" in content
    assert f'data-status-url="{reverse("documents:view_status", args=[word.pk])}"' in content
    assert "js/preview-status" in content
    assert opens() == ["success"]  # the text went out in the page


@pytest.mark.parametrize("can_download", [True, False])
def test_a_failed_rendition_says_so_and_offers_the_download_only_if_allowed(
    client, owner, other, rendition, can_download
):
    sheet = make_document(owner, name="Budget.xlsx", data=samples.xlsx_bytes())
    permission = Permission.DOWNLOAD if can_download else Permission.VIEW
    services.grant_add(acting_user=owner, document=sheet, user=other, permission=permission, notify=False)
    rendition("failed")
    login(client, other)
    content = client.get(reverse("documents:view", args=[sheet.pk])).content.decode()
    assert "could not be converted for viewing" in content
    assert ("Download Budget.xlsx" in content) is can_download
    assert ("Download it to open it" in content) is can_download
    assert "preview-sheet" in content  # the table preview is the fallback
    assert "js/preview-status" not in content


def test_the_status_endpoint_answers_the_rendition_state(client, owner, rendition):
    word = make_document(owner, name="Poll.docx", data=samples.docx_bytes("x"))
    login(client, owner)
    url = reverse("documents:view_status", args=[word.pk])
    for state in ("pending", "ready", "failed"):
        rendition(state, "/x/" if state == "ready" else "")
        response = client.get(url)
        assert response.json() == {"state": state}
        assert "no-store" in response["Cache-Control"]
    assert opens() == []


def test_a_pdf_and_a_text_file_have_no_rendition_to_wait_for(client, owner):
    pdf = make_document(owner, name="A.pdf")
    text = make_document(owner, name="B.txt", data=b"hello\n")
    login(client, owner)
    assert client.get(reverse("documents:view_status", args=[pdf.pk])).json() == {"state": "ready"}
    assert client.get(reverse("documents:view_status", args=[text.pk])).json() == {"state": "none"}


@pytest.mark.parametrize("name", ["documents:view", "documents:view_status"])
def test_another_persons_document_is_a_404_like_a_missing_one(client, owner, other, name):
    document = make_document(owner, name="Secret plan.pdf")
    login(client, other)
    hidden = client.get(reverse(name, args=[document.pk]))
    missing = client.get(reverse(name, args=[document.pk + 1000]))
    assert hidden.status_code == missing.status_code == 404
    assert b"Secret plan" not in hidden.content


def test_a_denied_view_is_audited_as_a_failed_open(client, owner, other):
    document = make_document(owner, name="Denied.pdf")
    login(client, other)
    client.get(reverse("documents:view", args=[document.pk]))
    event = AuditEvent.objects.get(action="document.open")
    assert (event.outcome, event.data.get("reason")) == ("failure", "denied")


@pytest.mark.parametrize("name", ["documents:view", "documents:view_status"])
def test_signed_out_is_sent_to_sign_in(client, owner, name):
    document = make_document(owner, name="Out.pdf")
    response = client.get(reverse(name, args=[document.pk]))
    assert response.status_code == 302 and "/login" in response["Location"]


def test_a_hostile_title_is_escaped(client, owner):
    document = make_document(owner, name="x.pdf", title='"><img src=x onerror=alert(1)>')
    login(client, owner)
    content = client.get(reverse("documents:view", args=[document.pk])).content.decode()
    assert "<img src=x" not in content and "&lt;img src=x" in content


def test_the_detail_page_open_button_leads_to_the_open_page(client, owner):
    document = make_document(owner, name="Detail.pdf")
    login(client, owner)
    content = client.get(reverse("documents:detail", args=[document.pk])).content.decode()
    assert f'href="{reverse("documents:view", args=[document.pk])}" id="open-link"' in content


def test_a_view_only_person_gets_no_download_nor_open_in_the_browser_button(client, owner, other):
    document = make_document(owner, name="View only.pdf")
    services.grant_add(acting_user=owner, document=document, user=other, permission=Permission.VIEW, notify=False)
    login(client, other)
    content = client.get(reverse("documents:view", args=[document.pk])).content.decode()
    assert "Download View only.pdf" not in content and 'id="open-pdf-link"' not in content
    assert 'data-pdf-viewer data-src="' in content  # they see it drawn
