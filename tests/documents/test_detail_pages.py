"""The document detail page and what it leads to: confirmed deletes and removals, the danger zone, uploads."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEvent
from documents import services
from documents.models import Document
from tests.documents.conftest import login
from tests.factories import make_document

pytestmark = pytest.mark.django_db


def test_a_delete_post_without_confirming_shows_the_confirmation_and_deletes_nothing(client, owner, document):
    login(client, owner)
    response = client.post(reverse("documents:delete", args=[document.pk]))
    assert response.status_code == 200
    assert "Delete “Quarterly report.pdf”?".encode() in response.content
    assert b'name="confirm" value="yes"' in response.content
    assert Document.objects.filter(pk=document.pk).exists()
    assert not AuditEvent.objects.filter(action="document.delete").exists()


def test_the_delete_confirmation_page_says_what_goes_and_offers_a_way_back(client, owner, other, document):
    services.grant_add(acting_user=owner, document=document, user=other, notify=False)
    services.share_create(acting_user=owner, document=document)
    login(client, owner)
    response = client.get(reverse("documents:delete", args=[document.pk]))
    assert response.status_code == 200
    text = response.content.decode()
    assert "1 version, access for 1 person or group and 1 share link" in text
    assert "cannot be undone" in text
    assert f'href="{reverse("documents:detail", args=[document.pk])}"' in text
    assert Document.objects.filter(pk=document.pk).exists()


def test_a_confirmed_delete_removes_the_document_and_says_what_was_deleted(client, owner, document):
    login(client, owner)
    response = client.post(reverse("documents:delete", args=[document.pk]), {"confirm": "yes"}, follow=True)
    assert not Document.objects.exists()
    assert "Deleted “Quarterly report.pdf” with its 1 version.".encode() in response.content


def test_a_grantee_cannot_reach_the_delete_confirmation(client, owner, other, document):
    services.grant_add(acting_user=owner, document=document, user=other, permission="share", notify=False)
    login(client, other)
    assert client.get(reverse("documents:delete", args=[document.pk])).status_code == 403
    assert client.post(reverse("documents:delete", args=[document.pk]), {"confirm": "yes"}).status_code == 403
    assert Document.objects.filter(pk=document.pk).exists()


def test_removing_access_without_confirming_shows_the_confirmation_and_keeps_the_grant(client, owner, other, document):
    grant = services.grant_add(acting_user=owner, document=document, user=other, notify=False)
    login(client, owner)
    response = client.post(reverse("documents:grant_delete", args=[document.pk, grant.pk]))
    assert response.status_code == 200
    assert b"Remove access for Oscar Other?" in response.content
    assert document.grants.filter(pk=grant.pk).exists()


def test_the_delete_button_sits_in_a_danger_zone_after_the_access_history(client, owner, document):
    login(client, owner)
    text = client.get(reverse("documents:detail", args=[document.pk])).content.decode()
    assert text.index("Access history") < text.index('class="card stack danger-zone"')
    form = re.search(r'<form method="post" action="[^"]+/delete/"[^>]*>', text).group(0)
    assert "data-confirm=" in form
    assert "js/confirm.js" in text


def test_share_rows_on_the_detail_page_show_the_link_id_a_state_badge_and_plural_views(client, owner, document):
    active, _ = services.share_create(acting_user=owner, document=document, max_views=5)
    revoked, _ = services.share_create(acting_user=owner, document=document)
    services.share_revoke(acting_user=owner, share=revoked)
    type(active).objects.filter(pk=active.pk).update(view_count=1)
    login(client, owner)
    text = client.get(reverse("documents:detail", args=[document.pk])).content.decode()
    assert f"Link #{active.pk}" in text and "shown only once" in text
    assert '<span class="badge badge-ok">Active</span>' in text
    assert '<span class="badge badge-bad">Revoked</span>' in text
    assert "1 of 5 views used" in text and "0 views" in text
    assert "view(s)" not in text and "—</td>" not in text.split("Share links", 1)[1].split("Versions", 1)[0]


def test_every_table_cell_on_the_detail_page_carries_its_column_label(client, owner, other, document):
    services.grant_add(acting_user=owner, document=document, user=other, notify=False)
    services.share_create(acting_user=owner, document=document)
    login(client, owner)
    text = client.get(reverse("documents:detail", args=[document.pk])).content.decode()
    for table in re.findall(r'<table class="stack-table">.*?</table>', text, re.S):
        assert re.findall(r"<td(?![^>]*data-label)[^>]*>", table) == []


def test_a_refused_upload_names_the_file_once(client, owner):
    login(client, owner)
    response = client.post(
        reverse("documents:upload"),
        {"files": [SimpleUploadedFile("evil.exe", b"MZ\x90\x00 not a document")], "security_level": "internal"},
    )
    assert response.status_code == 400
    assert response.content.decode().count("evil.exe") == 1
    assert b"This kind of file is not accepted" in response.content


def test_a_refused_upload_answers_json_with_the_reason_without_the_name(client, owner):
    login(client, owner)
    response = client.post(
        reverse("documents:upload"),
        {"files": [SimpleUploadedFile("evil.exe", b"MZ\x90\x00 not a document")], "security_level": "internal"},
        headers={"Accept": "application/json"},
    )
    result = response.json()["results"][0]
    assert result["name"] == "evil.exe" and not result["ok"]
    assert result["message"].startswith("This kind of file is not accepted")


def test_a_duplicate_upload_says_this_file_and_links_the_existing_document(client, owner):
    from documents import samples

    data = samples.pdf_bytes("dup")
    make_document(owner, name="first.pdf", data=data)
    login(client, owner)
    response = client.post(
        reverse("documents:upload"),
        {"files": [SimpleUploadedFile("again.pdf", data)], "security_level": "internal"},
    )
    text = response.content.decode()
    assert text.count("again.pdf") == 1
    assert "This file is already in your documents" in text
