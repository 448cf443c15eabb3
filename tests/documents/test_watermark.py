"""Issue #15: leak-tracing stamps on confidential and restricted PDFs.

Every page of every copy that leaves (open, download, earlier version, share link, API,
compatibility API, signed access link, admin) carries who received it, and the stamp's
reference finds exactly one audit event. Every other way to get the stored bytes is tried.
"""

import base64
import io
import re
import uuid

import pikepdf
import pypdfium2
import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from accounts.context import ClientContext
from accounts.services.api_tokens import api_client_create, api_token_issue
from audit.actions import Action
from audit.models import AuditEvent
from documents import services, watermark
from documents.models import Permission
from tests.documents.conftest import login
from tests.documents.pdf_builder import pdf_with_text
from tests.factories import UserFactory, make_document

pytestmark = pytest.mark.django_db

PAGES = 3
STAMP_RE = re.compile(r"request (\S+) · ref ([0-9a-f]{12})")


def confidential_pdf(tag: str = "", pages: int = PAGES) -> bytes:
    return pdf_with_text(lambda p: [f"Secret plan {tag} page {p + 1}"], pages=pages)


@pytest.fixture
def secret(owner):
    return make_document(owner, name="Plan.pdf", data=confidential_pdf("A"), security_level="confidential")


@pytest.fixture
def reader(secret, owner):
    person = UserFactory(name="Rita Reader", phone_number="+13125559876")
    services.grant_add(acting_user=owner, document=secret, user=person, permission=Permission.DOWNLOAD)
    return person


def body(response) -> bytes:
    # Draining streaming_content closes the file (the test client wraps it); response.close()
    # here would also close the test's database connection.
    return b"".join(response.streaming_content) if response.streaming else response.content


def page_texts(data: bytes) -> list[str]:
    pdf = pypdfium2.PdfDocument(data)
    try:
        texts = []
        for page in pdf:
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return texts
    finally:
        pdf.close()


def stamp_on_every_page(data: bytes, expected_recipient: str, pages: int = PAGES) -> tuple[str, str]:
    """The (request id, ref) printed on every page; each page also still has its own text."""
    texts = page_texts(data)
    assert len(texts) == pages
    found = set()
    for number, text in enumerate(texts, start=1):
        assert f"page {number}" in text
        assert expected_recipient in text, text
        match = STAMP_RE.search(text)
        assert match, text
        found.add(match.groups())
    assert len(found) == 1, "one stamp per copy, the same on every page"
    return found.pop()


def the_event(request_id: str, ref: str, action: str) -> AuditEvent:
    """The stamp leads to exactly one event, by its request id and by its reference."""
    by_request = AuditEvent.objects.filter(request_id=request_id, action=action)
    assert by_request.count() == 1
    event = by_request.get()
    assert event.data["watermark"]["ref"] == ref
    assert event.data["watermark"]["stamped"] is True
    matching = [e for e in AuditEvent.objects.all() if (e.data.get("watermark") or {}).get("ref") == ref]
    assert matching == [event]
    return event


# --- Stamping itself --------------------------------------------------------------------


def test_every_page_is_stamped_whatever_its_rotation_and_box(tmp_path):
    source, target = tmp_path / "in.pdf", tmp_path / "out.pdf"
    with pikepdf.open(io.BytesIO(confidential_pdf(pages=5))) as pdf:
        pdf.pages[1].obj.Rotate = 90
        pdf.pages[2].obj.Rotate = 180
        pdf.pages[3].obj.Rotate = -90
        pdf.pages[4].obj.MediaBox = [300, 900, -200, 100]  # inverted, negative origin
        pdf.pages[4].obj.CropBox = [0, 0, 0, 0]  # degenerate: the MediaBox is what shows
        pdf.save(source)
    text = "Zoë Ünïcode 张 (+1******0100) · 2026-12-06 12:00:00 UTC · request abc123def456 · ref 0123456789ab"
    assert watermark.stamp_path(str(source), str(target), text) == 5
    for page_text in page_texts(target.read_bytes()):
        assert "Zoë Ünïcode ? (+1******0100)" in page_text  # what WinAnsi Helvetica cannot show becomes '?'
        assert "request abc123def456 · ref 0123456789ab" in page_text


def test_the_stamp_sits_inside_the_displayed_page_at_its_bottom(tmp_path):
    """The bottom line is drawn where the viewer's bottom edge is, for each rotation."""
    source, target = tmp_path / "in.pdf", tmp_path / "out.pdf"
    with pikepdf.open(io.BytesIO(confidential_pdf(pages=4))) as pdf:
        for index, rotation in enumerate((0, 90, 180, 270)):
            pdf.pages[index].obj.Rotate = rotation
        pdf.save(source)
    watermark.stamp_path(str(source), str(target), "Bottom Line Person")
    pdf = pypdfium2.PdfDocument(target.read_bytes())
    try:
        for page in pdf:
            width, height = page.get_size()  # displayed size (rotation applied)
            bitmap = page.render(scale=1, rotation=0).to_pil().convert("L")
            assert bitmap.size == (round(width), round(height))
            strip = bitmap.crop((0, bitmap.height - 14, bitmap.width, bitmap.height))
            assert strip.getextrema()[0] < 200, "ink in the bottom 14 px of the displayed page"
    finally:
        pdf.close()


def test_a_password_protected_pdf_cannot_be_stamped(tmp_path):
    source = tmp_path / "locked.pdf"
    with pikepdf.open(io.BytesIO(confidential_pdf())) as pdf:
        pdf.save(source, encryption=pikepdf.Encryption(user="pw", owner="pw"))
    with pytest.raises(watermark.WatermarkError):
        watermark.stamp_path(str(source), str(tmp_path / "out.pdf"), "x")


def test_stamped_copies_leave_no_temporary_files(secret, reader, client, tmp_path, settings):
    settings.DOCUID_WATERMARK_TMP_DIR = str(tmp_path / "stamps")
    (tmp_path / "stamps").mkdir()
    login(client, reader)
    response = client.get(reverse("documents:open", args=[secret.pk]))
    assert list((tmp_path / "stamps").iterdir()) == []  # unlinked before the first byte goes out
    assert body(response).startswith(b"%PDF")


def test_a_template_is_built_once_and_each_copy_gets_its_own_stamp(secret, reader, client, media):
    login(client, reader)
    copies = [body(client.get(reverse("documents:open", args=[secret.pk]))) for _ in range(3)]
    refs = {stamp_on_every_page(copy, "Rita Reader")[1] for copy in copies}
    assert len(refs) == 3 and len({len(copy) for copy in copies}) == 1
    templates = sorted(p.suffix for p in (media / "stamp-templates").iterdir())
    assert templates == [".json", ".pdf"]  # one template and its slots, reused


def test_a_template_stamps_rotated_and_odd_pages_like_a_rewrite(owner, tmp_path):
    source = tmp_path / "odd.pdf"
    with pikepdf.open(io.BytesIO(confidential_pdf(pages=4))) as pdf:
        pdf.pages[1].obj.Rotate = 90
        pdf.pages[2].obj.Rotate = 270
        pdf.pages[3].obj.MediaBox = [300, 900, -200, 100]
        pdf.save(source)
    document = make_document(owner, name="Odd.pdf", data=source.read_bytes(), security_level="confidential")
    chunks, size = watermark.stamped_stream(document.current_version.file, "Odd Reader · request r1 · ref 0123456789ab")
    data = b"".join(chunks)
    assert len(data) == size
    for text in page_texts(data):
        assert "Odd Reader · request r1 · ref 0123456789ab" in text


def test_a_template_deleted_behind_the_process_is_built_again(secret, reader, client, media):
    login(client, reader)
    body(client.get(reverse("documents:open", args=[secret.pk])))
    for path in (media / "stamp-templates").iterdir():
        path.unlink()  # e.g. a restore without them; this process still remembers the template
    stamp_on_every_page(body(client.get(reverse("documents:open", args=[secret.pk]))), "Rita Reader")


def test_patches_land_exactly_across_chunk_boundaries(monkeypatch):
    monkeypatch.setattr(watermark, "COPY_CHUNK", 7)
    original = bytes(range(60))
    patches = [(5, b"ABCDEFGHIJ"), (40, b"xyz"), (57, b"END")]
    out = b"".join(watermark._patched(io.BytesIO(original), patches))
    expected = bytearray(original)
    for at, data in patches:
        expected[at : at + len(data)] = data
    assert out == bytes(expected)


def test_a_long_stamp_is_cut_to_its_slot(secret):
    chunks, size = watermark.stamped_stream(secret.current_version.file, "Very long name " * 40)
    data = b"".join(chunks)
    assert len(data) == size and "Very long name" in page_texts(data)[0]


def test_the_template_goes_with_the_document(secret, reader, owner, client, media, django_capture_on_commit_callbacks):
    login(client, reader)
    body(client.get(reverse("documents:open", args=[secret.pk])))
    assert list((media / "stamp-templates").iterdir())
    with django_capture_on_commit_callbacks(execute=True):
        services.document_delete(acting_user=owner, document=secret)
    assert list((media / "stamp-templates").iterdir()) == []


# --- Signed-in pages --------------------------------------------------------------------


def test_a_viewed_confidential_pdf_is_stamped_on_every_page_and_finds_its_open_event(secret, reader, client):
    login(client, reader)
    response = client.get(reverse("documents:open", args=[secret.pk]))
    assert response.status_code == 200
    assert response["Accept-Ranges"] == "none" and "ETag" not in response
    assert response["Content-Disposition"].startswith("inline")
    request_id, ref = stamp_on_every_page(body(response), "Rita Reader (+1******9876)")
    assert request_id == response["X-Request-ID"] and ref == response["X-DocuID-Stamp"]
    event = the_event(request_id, ref, Action.DOCUMENT_OPEN)
    assert event.actor_id == reader.pk
    # The event holds references, not the stamp's personal data (the actor field already names who).
    assert "9876" not in str(event.data) and "Rita" not in str(event.data)


def test_a_downloaded_confidential_pdf_is_stamped_on_every_page_and_finds_its_download_event(secret, owner, client):
    login(client, owner)
    response = client.get(reverse("documents:download", args=[secret.pk]))
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    request_id, ref = stamp_on_every_page(body(response), f"Olive Owner ({owner.masked_phone})")
    assert the_event(request_id, ref, Action.DOCUMENT_DOWNLOAD).actor_id == owner.pk


def test_restricted_pdfs_are_stamped_too(owner, client):
    document = make_document(owner, name="R.pdf", data=confidential_pdf("R"), security_level="restricted")
    login(client, owner)
    stamp_on_every_page(body(client.get(reverse("documents:open", args=[document.pk]))), "Olive Owner")


def test_a_client_chosen_request_id_still_leads_to_one_event(secret, reader, client):
    """Two requests sending the same X-Request-ID get different references; each finds its own event."""
    login(client, reader)
    refs = set()
    for _ in range(2):
        response = client.get(reverse("documents:open", args=[secret.pk]), headers={"X-Request-ID": "same-id-12345"})
        _, ref = stamp_on_every_page(body(response), "Rita Reader")
        refs.add(ref)
    assert len(refs) == 2
    for ref in refs:
        assert len([e for e in AuditEvent.objects.all() if (e.data.get("watermark") or {}).get("ref") == ref]) == 1


@pytest.mark.parametrize("level", ["public", "internal"])
def test_public_and_internal_pdfs_go_out_byte_identical(owner, client, level):
    data = confidential_pdf(level)
    document = make_document(owner, name=f"{level}.pdf", data=data, security_level=level)
    login(client, owner)
    for name in ("documents:open", "documents:download"):
        response = client.get(reverse(name, args=[document.pk]))
        assert body(response) == data
        assert response["Accept-Ranges"] == "bytes" and "X-DocuID-Stamp" not in response
    events = AuditEvent.objects.filter(action__in=[Action.DOCUMENT_OPEN, Action.DOCUMENT_DOWNLOAD])
    assert events.count() == 2 and not any("watermark" in e.data for e in events)


def test_a_confidential_image_is_not_a_pdf_and_is_not_stamped(owner, client):
    from documents import samples

    data = samples.png_bytes()
    document = make_document(owner, name="x.png", data=data, security_level="confidential")
    login(client, owner)
    assert body(client.get(reverse("documents:open", args=[document.pk]))) == data


@pytest.mark.parametrize("header", ["bytes=0-99", "bytes=-500", "bytes=100-", "bytes=0-0"])
def test_a_range_request_gets_the_whole_stamped_file_never_a_stored_piece(secret, reader, client, header):
    stored = secret.current_version.file.open("rb").read()
    login(client, reader)
    response = client.get(reverse("documents:open", args=[secret.pk]), headers={"Range": header})
    assert response.status_code == 200 and "Content-Range" not in response
    data = body(response)
    stamp_on_every_page(data, "Rita Reader")
    assert data != stored


def test_an_if_range_with_the_stored_hash_gets_no_piece_either(secret, reader, client):
    login(client, reader)
    response = client.get(
        reverse("documents:open", args=[secret.pk]),
        headers={"Range": "bytes=0-99", "If-Range": f'"{secret.sha256}"'},
    )
    assert response.status_code == 200
    stamp_on_every_page(body(response), "Rita Reader")


def test_head_sends_no_bytes_and_no_stored_validators(secret, reader, client):
    login(client, reader)
    response = client.head(reverse("documents:open", args=[secret.pk]))
    assert response.status_code == 200 and response.content == b""
    assert "ETag" not in response and response["Accept-Ranges"] == "none"


def test_behind_nginx_a_stamped_pdf_is_never_handed_to_nginx(secret, reader, client, settings):
    settings.DOCUID_X_ACCEL_REDIRECT_PREFIX = "/protected/"
    login(client, reader)
    response = client.get(reverse("documents:download", args=[secret.pk]))
    assert "X-Accel-Redirect" not in response
    stamp_on_every_page(body(response), "Rita Reader")


def test_an_earlier_version_is_stamped_too(secret, owner, client):
    services.document_version_add(
        acting_user=owner, document=secret, file=ContentFile(confidential_pdf("B"), name="Plan.pdf"), name="Plan.pdf"
    )
    login(client, owner)
    response = client.get(reverse("documents:version_download", args=[secret.pk, 1]))
    data = body(response)
    stamp_on_every_page(data, "Olive Owner")
    assert b"Secret plan A" in data or "Secret plan A" in page_texts(data)[0]


def test_an_unstampable_confidential_pdf_is_refused_with_a_page_not_a_500(owner, client, monkeypatch):
    document = make_document(owner, name="Locked.pdf", data=confidential_pdf("L"), security_level="confidential")

    def refuse(*args, **kwargs):
        raise watermark.WatermarkError("The PDF is protected by a password.")

    monkeypatch.setattr(watermark, "stamp_path", refuse)
    monkeypatch.setattr(watermark, "build_template", refuse)
    login(client, owner)
    for name in ("documents:open", "documents:download", "documents:rendition"):
        response = client.get(reverse(name, args=[document.pk]))
        assert response.status_code == 422
        assert b"%PDF" not in response.content and b"cannot be stamped" in response.content
    failures = AuditEvent.objects.filter(target_id=str(document.pk), outcome="failure")
    assert [event.data["reason"] for event in failures] == ["document_not_stampable"] * 3


# --- Share links ----------------------------------------------------------------------------


def test_a_share_link_stamps_its_recipient_on_open_and_download(secret, owner):
    share, token = services.share_create(
        acting_user=owner,
        document=secret,
        access="download",
        recipient_email="jane.doe@example.org",
        recipient_phone="+13125550777",
    )
    anonymous = Client()
    for kind, action in (("open", "share:open"), ("download", "share:download")):
        response = anonymous.get(reverse(action, args=[token]))
        assert response.status_code == 200, kind
        recipient = f"Share link #{share.pk} for j***@example.org / +1******0777"
        request_id, ref = stamp_on_every_page(body(response), recipient)
        event = the_event(request_id, ref, Action.SHARE_ACCESS)
        assert event.data["kind"] == kind and event.data["share_id"] == share.pk
        assert event.data["watermark"]["kind"] == "share"
        assert "jane" not in str(event.data) and "0777" not in str(event.data)


def test_a_used_up_share_link_cannot_finish_a_stamped_file_by_ranges(secret, owner):
    _, token = services.share_create(acting_user=owner, document=secret, access="download", max_views=1)
    browser = Client()
    assert browser.get(reverse("share:download", args=[token])).status_code == 200
    response = browser.get(reverse("share:download", args=[token]), headers={"Range": "bytes=100-"})
    assert response.status_code == 410 and b"%PDF" not in response.content


def test_share_link_head_is_not_a_copy(secret, owner):
    _, token = services.share_create(acting_user=owner, document=secret, access="download")
    response = Client().head(reverse("share:download", args=[token]))
    assert response.content == b"" and "X-DocuID-Stamp" not in response


# --- The API, the compatibility API and signed access links ----------------------------


def api_get(user, path, params=None, headers=None):
    _, key = api_client_create(name=f"Add-in {uuid.uuid4().hex}")
    token = api_token_issue(user=user, client=None, client_context=ClientContext(), method="test").access_token
    return Client().get(path, params, headers={"x-api-key": key, "Authorization": f"Bearer {token}", **(headers or {})})


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/documents/{pk}/download",
        "/api/documents/{pk}/download",
        "/api/docuid/documents/{pk}/download",
        "/api/documents/{pk}/download?inline=1",
    ],
)
def test_api_downloads_are_stamped(secret, reader, path):
    url, _, query = path.format(pk=secret.pk).partition("?")
    params = dict([query.split("=")]) if query else None
    response = api_get(reader, url, params, headers={"Range": "bytes=0-10"})
    assert response.status_code == 200
    request_id, ref = stamp_on_every_page(body(response), "Rita Reader (+1******9876)")
    event = the_event(request_id, ref, Action.DOCUMENT_DOWNLOAD)
    assert event.data["channel"] == "api"


@pytest.mark.parametrize("path", ["/api/v1/documents/{pk}/content", "/api/documents/{pk}/content"])
def test_api_office_content_of_a_confidential_pdf_is_the_stamped_copy(secret, reader, path):
    response = api_get(reader, path.format(pk=secret.pk), {"format": "office"})
    assert response.status_code == 200
    data = base64.b64decode(response.json()["data"]["content"])
    assert response.json()["data"]["fileSize"] == len(data)  # the stamped copy's size
    request_id, ref = stamp_on_every_page(data, "Rita Reader")
    assert the_event(request_id, ref, Action.DOCUMENT_DOWNLOAD).data["format"] == "office"


def test_an_unstampable_pdf_is_an_api_error_not_a_500(secret, reader, monkeypatch):
    def refuse(*args, **kwargs):
        raise watermark.WatermarkError("The PDF could not be read.")

    monkeypatch.setattr(watermark, "stamp_path", refuse)
    monkeypatch.setattr(watermark, "build_template", refuse)
    response = api_get(reader, f"/api/v1/documents/{secret.pk}/download")
    assert response.status_code == 422 and response.json()["error"] == "DOCUMENT_NOT_STAMPABLE"
    response = api_get(reader, f"/api/documents/{secret.pk}/content", {"format": "office"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "DOCUMENT_NOT_STAMPABLE"


def test_a_signed_access_link_stamps_the_person_it_was_made_for(secret, reader):
    browser = Client()
    login(browser, reader)
    access = browser.get(f"/api/dashboard/documents/{secret.pk}/access").json()["data"]["document"]["access"]
    response = Client().get(access["url"])  # no session, no token: the signature names the person
    assert response.status_code == 200
    request_id, ref = stamp_on_every_page(body(response), "Rita Reader (+1******9876)")
    assert the_event(request_id, ref, Action.DOCUMENT_DOWNLOAD).actor_id == reader.pk


# --- The admin ------------------------------------------------------------------------------


def test_support_staff_get_a_copy_stamped_with_their_own_name(secret, client):
    from tests.documents.test_admin import staff_with, verified_client

    staff = staff_with("view_document", "download_document_content")
    staff.name = "Stella Staff"
    verified_client(client, staff)
    response = client.get(f"/admin/documents/document/{secret.pk}/content/")
    assert response.status_code == 200
    request_id, ref = stamp_on_every_page(body(response), "Stella Staff")
    the_event(request_id, ref, Action.ADMIN_CONTENT_ACCESS)


# --- Tracing a leaked page ---------------------------------------------------------------------


def test_watermark_trace_finds_the_one_event_of_a_leaked_page(secret, reader, owner, client):
    from django.core.management import CommandError, call_command

    _, token = services.share_create(acting_user=owner, document=secret, access="view")
    Client().get(reverse("share:open", args=[token]))  # another stamped copy, another event
    login(client, reader)
    request_id, ref = stamp_on_every_page(body(client.get(reverse("documents:download", args=[secret.pk]))), "Rita")
    out = io.StringIO()
    call_command("watermark_trace", ref, stdout=out)
    text = out.getvalue()
    assert text.count("event ") == 1 and "document.download" in text and "Rita Reader (+1******9876)" in text
    assert request_id in text and f"(id {secret.pk})" in text
    out = io.StringIO()
    call_command("watermark_trace", request_id, stdout=out)  # the request id works too
    assert "document.download" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("watermark_trace", "000000000000")


# --- Other ways in ---------------------------------------------------------------------------


def test_the_rendition_endpoint_of_a_confidential_pdf_is_stamped_and_its_thumbnail_hidden(secret, reader, client):
    login(client, reader)
    response = client.get(reverse("documents:rendition", args=[secret.pk]), headers={"Range": "bytes=0-99"})
    assert response.status_code == 200
    request_id, ref = stamp_on_every_page(body(response), "Rita Reader")
    the_event(request_id, ref, Action.DOCUMENT_OPEN)
    assert client.get(reverse("documents:thumbnail", args=[secret.pk])).status_code == 404


def test_a_pdf_that_carries_the_slot_marker_cannot_steer_the_stamp(owner, client, monkeypatch):
    """Were the marker ever known, a second copy of it is refused (422), never patched instead of ours."""
    monkeypatch.setattr(watermark.secrets, "token_hex", lambda n: "f" * (2 * n))
    marker = "\nQ\n%" + "f" * 24 + "000000"
    data = pdf_with_text(lambda p: ["Forged" + marker], pages=1)  # the marker's bytes, raw, in the page's stream
    assert marker.encode("latin-1") in data
    document = make_document(owner, name="Forged.pdf", data=data, security_level="confidential")
    login(client, owner)
    response = client.get(reverse("documents:open", args=[document.pk]))
    assert response.status_code == 422 and b"%PDF" not in response.content
    assert b"could not be prepared for stamping" in response.content


def test_a_long_name_and_request_id_never_push_the_reference_off_the_page(owner, client):
    reader = UserFactory(name="Maximiliana " * 12, phone_number="+13125550999")
    document = make_document(owner, name="Long.pdf", data=confidential_pdf("Long"), security_level="confidential")
    services.grant_add(acting_user=owner, document=document, user=reader, permission=Permission.VIEW)
    login(client, reader)
    long_id = "r" * 128
    response = client.get(reverse("documents:open", args=[document.pk]), headers={"X-Request-ID": long_id})
    _, ref = stamp_on_every_page(body(response), "Maximiliana")
    assert ref == response["X-DocuID-Stamp"]
    assert AuditEvent.objects.get(action=Action.DOCUMENT_OPEN, data__watermark__ref=ref).request_id == long_id
