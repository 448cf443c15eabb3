import tracemalloc

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEvent
from documents import samples, services
from documents.models import Document, Permission
from tests.documents.conftest import login, stored_files
from tests.factories import make_document

pytestmark = pytest.mark.django_db


def post_upload(client, *files, **fields):
    return client.post(reverse("documents:upload"), {"files": list(files), "security_level": "internal", **fields})


def test_the_home_page_sends_a_signed_in_person_to_their_documents(client, owner):
    login(client, owner)
    response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, reverse("documents:list"))


def test_the_list_shows_my_documents_and_finds_one_by_search(client, owner, document):
    make_document(owner, title="Holiday photos")
    login(client, owner)
    response = client.get(reverse("documents:list"), {"q": "quarterly"})
    assert b"Quarterly report.pdf" in response.content
    assert b"Holiday photos" not in response.content


def test_the_list_page_costs_a_bounded_number_of_queries(client, owner, django_assert_max_num_queries):
    for i in range(25):
        make_document(owner, name=f"{i}.txt", data=f"{i}\n".encode(), tags=["x"])
    login(client, owner)
    # session, user, the page of documents, their tags (+ session activity bookkeeping)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("documents:list"), {"per_page": 100})
    assert response.content.count(b"<tr>") == 26


def test_list_and_history_rows_escape_every_value(client, owner, other):
    """The list rows and the history rows (Jinja2 templates, documents.rendering) escape every value they print."""
    evil = '<script>alert("x")</script>'
    document = make_document(owner, title=evil, category=evil, tags=["<b>t</b>"])
    services.grant_add(acting_user=owner, document=document, user=other, notify=False)
    other.name = evil
    other.save(update_fields=["name"])
    login(client, other)
    listing = client.get(reverse("documents:list")).content.decode()
    assert "<script>" not in listing and "<b>t</b>" not in listing
    # Jinja2 (MarkupSafe) writes a quote as &#34;, Django as &quot;: both are inert.
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in listing and "&lt;b&gt;t&lt;/b&gt;" in listing
    client.get(reverse("documents:detail", args=[document.pk]))  # an event whose actor is named `evil`
    login(client, owner)
    detail = client.get(reverse("documents:detail", args=[document.pk])).content.decode()
    assert "<script>" not in detail and "&lt;script&gt;" in detail


def test_nonsense_filters_are_ignored_not_a_500(client, owner, document):
    login(client, owner)
    response = client.get(reverse("documents:list"), {"page": "x", "per_page": "1000", "modified_from": "yesterday"})
    assert response.status_code == 200
    assert b"Quarterly report.pdf" in response.content


def test_uploading_several_files_creates_one_document_each(client, owner):
    login(client, owner)
    response = post_upload(
        client,
        SimpleUploadedFile("a.pdf", samples.pdf_bytes("a")),
        SimpleUploadedFile("b.docx", samples.docx_bytes("b")),
        SimpleUploadedFile("c.png", samples.png_bytes()),
    )
    assert response.status_code == 200
    assert sorted(Document.objects.values_list("family", flat=True)) == ["image", "pdf", "word"]


def test_the_javascript_upload_gets_json_results(client, owner):
    login(client, owner)
    response = client.post(
        reverse("documents:upload"),
        {"files": [SimpleUploadedFile("n.csv", samples.csv_bytes())], "security_level": "internal"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 201
    result = response.json()["results"][0]
    assert result["ok"] and result["url"] == reverse("documents:detail", args=[result["id"]])


def test_the_client_content_type_is_ignored_in_favour_of_the_bytes(client, owner):
    login(client, owner)
    post_upload(client, SimpleUploadedFile("n.txt", b"plain words\n", content_type="application/pdf"))
    assert Document.objects.get().mime_type == "text/plain"


def test_an_html_file_named_pdf_is_refused_with_a_clear_message(client, owner, media):
    login(client, owner)
    response = post_upload(client, SimpleUploadedFile("invoice.pdf", b"<!doctype html><script>x()</script>"))
    assert response.status_code == 400
    assert b"not accepted" in response.content
    assert not Document.objects.exists() and stored_files(media) == []


def test_a_file_over_the_limit_gets_a_413_with_the_limit(client, owner, settings, media):
    settings.DOCUID_MAX_UPLOAD_MB = 1
    login(client, owner)
    response = post_upload(client, SimpleUploadedFile("big.txt", b"a" * (2 * 1024 * 1024)))
    assert response.status_code == 413
    assert b"1 MB" in response.content
    assert not Document.objects.exists() and stored_files(media) == []


def test_a_body_larger_than_any_allowed_upload_is_refused_before_it_is_read(client, owner, settings):
    settings.DOCUID_MAX_UPLOAD_MB = 1
    settings.DOCUID_MAX_FILES_PER_UPLOAD = 1
    login(client, owner)
    response = client.post(
        reverse("documents:upload"),
        data=b"x" * 10,
        content_type="multipart/form-data; boundary=zz",
        CONTENT_LENGTH=str(50 * 1024 * 1024),
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"] == "DOCUMENT_TOO_LARGE"


def test_uploading_the_same_file_twice_reports_the_duplicate(client, owner):
    login(client, owner)
    data = samples.pdf_bytes("dup")
    post_upload(client, SimpleUploadedFile("a.pdf", data))
    response = post_upload(client, SimpleUploadedFile("again.pdf", data))
    assert b"already in your documents" in response.content
    assert Document.objects.count() == 1


def test_an_upload_without_files_says_so(client, owner):
    login(client, owner)
    response = client.post(reverse("documents:upload"), {"security_level": "internal"})
    assert response.status_code == 400
    assert b"Choose at least one file" in response.content


def test_an_upload_without_the_csrf_token_is_refused(owner):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    login(csrf_client, owner)
    response = post_upload(csrf_client, SimpleUploadedFile("a.txt", b"x\n"))
    assert response.status_code == 403
    assert not Document.objects.exists()


def test_the_detail_page_shows_the_owner_versions_access_and_history(client, owner, other, document):
    services.grant_add(acting_user=owner, document=document, user=other, notify=False)
    login(client, owner)
    response = client.get(reverse("documents:detail", args=[document.pk]))
    content = response.content.decode()
    assert other.name in content and "v1" in content and "Access granted" in content
    assert AuditEvent.objects.filter(action="document.view", target_id=str(document.pk)).exists()


def test_a_grantee_does_not_see_who_else_has_access_or_the_history(client, owner, other, document):
    services.grant_add(acting_user=owner, document=document, user=other, notify=False)
    login(client, other)
    content = client.get(reverse("documents:detail", args=[document.pk])).content.decode()
    assert "Who has access" not in content and "Access history" not in content


@pytest.mark.parametrize(
    ("who", "grant_form", "version_form"),
    [("owner", True, True), (Permission.SHARE, True, False), (Permission.VIEW, False, False)],
)
def test_the_detail_page_offers_the_grant_and_version_forms_only_to_those_who_may_use_them(
    client, owner, other, document, who, grant_form, version_form
):
    from documents.forms import GranteeGrantForm, GrantForm, VersionForm

    if who != "owner":
        services.grant_add(acting_user=owner, document=document, user=other, permission=who, notify=False)
    login(client, owner if who == "owner" else other)
    content = client.get(reverse("documents:detail", args=[document.pk])).content.decode()
    # A grantee's form offers view and download only: only the owner lets others share.
    form = GrantForm if who == "owner" else GranteeGrantForm
    assert (form().as_div() in content) is grant_form
    assert 'value="share"' not in content or who == "owner"
    assert (VersionForm().as_div() in content) is version_form


def test_opening_a_pdf_shows_it_inline_with_a_locked_down_policy(client, owner, document):
    login(client, owner)
    response = client.get(reverse("documents:open", args=[document.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_opening_an_image_sandboxes_it(client, owner):
    image = make_document(owner, name="p.png", data=samples.png_bytes())
    login(client, owner)
    response = client.get(reverse("documents:open", args=[image.pk]))
    assert response["Content-Security-Policy"].startswith("sandbox")


def test_opening_a_text_file_shows_it_escaped(client, owner):
    text = make_document(owner, name="x.txt", data=b"Hello <b>world</b> & friends\n")
    login(client, owner)
    response = client.get(reverse("documents:open", args=[text.pk]))
    assert b"Hello &lt;b&gt;world&lt;/b&gt; &amp; friends" in response.content


def test_opening_a_word_file_shows_a_text_preview(client, owner):
    word = make_document(owner, name="c.docx", data=samples.docx_bytes("Clause one\nClause two"))
    login(client, owner)
    response = client.get(reverse("documents:open", args=[word.pk]))
    assert b"Clause one" in response.content and b"Clause two" in response.content


def test_opens_are_audited_with_their_outcome(client, owner, other, document):
    login(client, other)
    client.get(reverse("documents:open", args=[document.pk]))
    client.get(reverse("documents:open", args=[999999]))
    login(client, owner)
    client.get(reverse("documents:open", args=[document.pk]))
    events = AuditEvent.objects.filter(action="document.open").order_by("id")
    assert [(e.outcome, e.data.get("reason")) for e in events] == [
        ("failure", "denied"),
        ("failure", "not_found"),
        ("success", None),
    ]


def test_opens_feed_the_document_open_counter(client, owner, document, django_capture_on_commit_callbacks):
    from audit.metrics import document_opens

    before = document_opens.labels("success")._value.get()
    login(client, owner)
    with django_capture_on_commit_callbacks(execute=True):
        client.get(reverse("documents:open", args=[document.pk]))
    assert document_opens.labels("success")._value.get() == before + 1


def test_a_download_streams_the_file_with_its_name_and_type(client, owner, document):
    login(client, owner)
    response = client.get(reverse("documents:download", args=[document.pk]))
    assert response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="Quarterly report.pdf"'
    assert response["Content-Type"] == "application/pdf"
    assert int(response["Content-Length"]) == document.size
    assert AuditEvent.objects.filter(action="document.download", outcome="success").count() == 1


def test_a_non_ascii_file_name_is_sent_as_rfc_6266_filename_star(client, owner):
    doc = make_document(owner, name="Rapport année 2026 ✓.pdf")
    login(client, owner)
    response = client.get(reverse("documents:download", args=[doc.pk]))
    assert "filename*=utf-8''Rapport%20ann%C3%A9e%202026%20%E2%9C%93.pdf" in response["Content-Disposition"]


def test_a_view_only_grantee_cannot_download_and_the_refusal_is_audited(client, owner, other, document):
    services.grant_add(acting_user=owner, document=document, user=other, permission=Permission.VIEW, notify=False)
    login(client, other)
    response = client.get(reverse("documents:download", args=[document.pk]))
    assert response.status_code == 403
    assert AuditEvent.objects.get(action="document.download").data["reason"] == "denied"


def big_document(owner, size):
    # A text file of `size` bytes: cheap to make, and every byte position is predictable.
    data = (b"0123456789abcdef" * (size // 16 + 1))[:size]
    return make_document(owner, name="big.txt", data=data), data


def test_a_range_request_gets_206_with_exactly_those_bytes(client, owner):
    doc, data = big_document(owner, 100_000)
    login(client, owner)
    response = client.get(reverse("documents:download", args=[doc.pk]), headers={"Range": "bytes=1000-1999"})
    assert response.status_code == 206
    assert response["Content-Range"] == "bytes 1000-1999/100000"
    assert response["Content-Length"] == "1000"
    assert b"".join(response.streaming_content) == data[1000:2000]


def test_an_open_ended_and_a_suffix_range_are_answered(client, owner):
    doc, data = big_document(owner, 5000)
    login(client, owner)
    url = reverse("documents:download", args=[doc.pk])
    tail = client.get(url, headers={"Range": "bytes=4990-"})
    suffix = client.get(url, headers={"Range": "bytes=-10"})
    assert b"".join(tail.streaming_content) == b"".join(suffix.streaming_content) == data[-10:]


def test_a_range_past_the_end_gets_416(client, owner):
    doc, _ = big_document(owner, 5000)
    login(client, owner)
    response = client.get(reverse("documents:download", args=[doc.pk]), headers={"Range": "bytes=9000-"})
    assert (response.status_code, response["Content-Range"]) == (416, "bytes */5000")


def test_a_malformed_or_multi_range_gets_the_whole_file(client, owner):
    doc, data = big_document(owner, 5000)
    login(client, owner)
    url = reverse("documents:download", args=[doc.pk])
    for header in ("bytes=0-1,5-6", "pages=1-2", "bytes=abc"):
        response = client.get(url, headers={"Range": header})
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == data


def test_a_range_for_another_version_gets_the_whole_file(client, owner):
    doc, _data = big_document(owner, 5000)
    login(client, owner)
    response = client.get(
        reverse("documents:download", args=[doc.pk]), headers={"Range": "bytes=0-9", "If-Range": '"stale"'}
    )
    assert response.status_code == 200


def test_a_download_streams_without_loading_the_file_into_memory(client, owner):
    doc, _ = big_document(owner, 20 * 1024 * 1024)
    login(client, owner)
    tracemalloc.start()
    try:
        response = client.get(reverse("documents:download", args=[doc.pk]))
        assert response.streaming
        total = 0
        for chunk in response.streaming_content:
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 20 * 1024 * 1024
    assert peak < 4 * 1024 * 1024  # a few chunks, never the 20 MB file


def test_x_accel_redirect_mode_hands_the_file_to_nginx(client, owner, document, settings):
    settings.DOCUID_X_ACCEL_REDIRECT_PREFIX = "/protected-media/"
    login(client, owner)
    response = client.get(reverse("documents:download", args=[document.pk]))
    assert response["X-Accel-Redirect"] == "/protected-media/" + document.current_version.file.name
    assert response.content == b""
    assert response["Content-Disposition"].startswith("attachment")


def test_the_owner_can_upload_a_new_version(client, owner, document):
    login(client, owner)
    response = client.post(
        reverse("documents:version_add", args=[document.pk]),
        {"file": SimpleUploadedFile("v2.pdf", samples.pdf_bytes("v2", pages=4)), "note": "signed"},
    )
    assert response.status_code == 302
    document.refresh_from_db()
    assert (document.current_version.number, document.page_count) == (2, 4)


def test_the_owner_can_delete_a_document(client, owner, document, media):
    login(client, owner)
    response = client.post(reverse("documents:delete", args=[document.pk]), {"confirm": "yes"})
    assert response.status_code == 302
    assert not Document.objects.exists()


def test_the_owner_gives_a_registered_person_access_by_phone(client, owner, other, document, mailoutbox):
    login(client, owner)
    client.post(
        reverse("documents:grant_create", args=[document.pk]),
        {"recipient": other.phone_number, "permission": "download"},
    )
    assert document.grants.get().user == other


def test_giving_access_to_an_unknown_person_does_not_reveal_who_has_an_account(client, owner, other, document):
    login(client, owner)
    response = client.post(
        reverse("documents:grant_create", args=[document.pk]),
        {"recipient": "+12025550177", "permission": "view"},
        follow=True,
    )
    assert b"If +12025550177 belongs to a DocuID user, they now have access." in response.content
    assert not document.grants.exists()


def test_a_sharer_grantee_cannot_hand_out_the_share_permission(client, owner, other, document):
    from tests.factories import UserFactory

    third = UserFactory()
    services.grant_add(acting_user=owner, document=document, user=other, permission=Permission.SHARE, notify=False)
    login(client, other)
    client.post(
        reverse("documents:grant_create", args=[document.pk]), {"recipient": third.phone_number, "permission": "share"}
    )
    assert not document.grants.filter(user=third).exists()


def test_a_search_with_a_nul_byte_or_operators_is_not_a_500(client, owner, document):
    login(client, owner)
    for query in ("a\x00b", "!!! & | (", "the", "-", "'\"<script>"):
        assert client.get(reverse("documents:list"), {"q": query}).status_code == 200


def test_the_owner_removes_access_and_it_is_audited(client, owner, other, document):
    grant = services.grant_add(acting_user=owner, document=document, user=other, notify=False)
    login(client, owner)
    client.post(reverse("documents:grant_delete", args=[document.pk, grant.pk]), {"confirm": "yes"})
    assert not document.grants.exists()
    assert AuditEvent.objects.filter(action="grant.remove").count() == 1


def test_a_grant_of_another_document_cannot_be_removed_through_mine(client, owner, other, document):
    theirs = make_document(other)
    grant = services.grant_add(acting_user=other, document=theirs, user=owner, notify=False)
    login(client, owner)
    url = reverse("documents:grant_delete", args=[document.pk, grant.pk])
    assert client.post(url, {"confirm": "yes"}).status_code == 404
    assert theirs.grants.exists()
