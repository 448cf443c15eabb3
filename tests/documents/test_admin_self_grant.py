"""Support staff cannot route around the audited content permission by granting themselves access."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from documents.models import Grant
from tests.documents.test_admin import staff_with, verified_client

pytestmark = pytest.mark.django_db


def change_form_data(document, owner, **grant):
    data = {
        "owner": owner.pk,
        "title": document.title,
        "description": "",
        "category": document.category,
        "security_level": document.security_level,
        "tags": [t.pk for t in document.tags.all()],
        "grants-TOTAL_FORMS": "1",
        "grants-INITIAL_FORMS": "0",
        "grants-MIN_NUM_FORMS": "0",
        "grants-MAX_NUM_FORMS": "1000",
        "grants-0-permission": "download",
        "grants-0-document": document.pk,
        "shares-TOTAL_FORMS": "0",
        "shares-INITIAL_FORMS": "0",
        "shares-MIN_NUM_FORMS": "0",
        "shares-MAX_NUM_FORMS": "1000",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }
    data.update({f"grants-0-{k}": v for k, v in grant.items()})
    return data


def test_staff_without_the_content_permission_cannot_grant_themselves_a_document(client, owner, document):
    staff = staff_with("view_document", "change_document", "view_grant", "add_grant", "change_grant")
    verified_client(client, staff)
    client.post(
        reverse("admin:documents_document_change", args=[document.pk]), change_form_data(document, owner, user=staff.pk)
    )
    assert not Grant.objects.filter(document=document, user=staff).exists()
    assert client.get(reverse("documents:download", args=[document.pk]), secure=True).status_code == 404


def test_staff_without_the_content_permission_cannot_grant_a_group_they_belong_to(client, owner, document):
    staff = staff_with("view_document", "change_document", "view_grant", "add_grant", "change_grant")
    team = Group.objects.create(name="Support team")
    staff.groups.add(team)
    verified_client(client, staff)
    client.post(
        reverse("admin:documents_document_change", args=[document.pk]), change_form_data(document, owner, group=team.pk)
    )
    assert not Grant.objects.filter(document=document, group=team).exists()


def test_staff_can_still_grant_access_to_someone_else(client, owner, document):
    from tests.factories import UserFactory

    colleague = UserFactory()
    staff = staff_with("view_document", "change_document", "view_grant", "add_grant", "change_grant")
    verified_client(client, staff)
    client.post(
        reverse("admin:documents_document_change", args=[document.pk]),
        change_form_data(document, owner, user=colleague.pk),
    )
    assert Grant.objects.filter(document=document, user=colleague).exists()


def test_ownership_cannot_be_taken_without_the_content_permission(client, owner, document):
    staff = staff_with("view_document", "change_document", "view_grant")
    verified_client(client, staff)
    data = change_form_data(document, owner)
    data["owner"] = staff.pk
    data["grants-TOTAL_FORMS"] = "0"
    client.post(reverse("admin:documents_document_change", args=[document.pk]), data)
    document.refresh_from_db()
    assert document.owner_id == owner.pk


def test_the_bulk_action_refuses_a_group_the_staff_member_belongs_to(client, owner, document):
    staff = staff_with("view_document", "change_document", "view_grant", "add_grant")
    team = Group.objects.create(name="Support team")
    staff.groups.add(team)
    verified_client(client, staff)
    client.post(
        reverse("admin:documents_document_changelist"),
        {
            "action": "grant_to_group",
            "_selected_action": [document.pk],
            "apply": "1",
            "group": team.pk,
            "permission": "download",
        },
    )
    assert not Grant.objects.filter(document=document, group=team).exists()
