import pytest
from django.contrib.auth.models import Permission as AuthPermission
from django.core.files.uploadedfile import SimpleUploadedFile
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice

from audit.models import AuditEvent
from documents import samples, services
from documents.models import Document, Grant, Share
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def verified_client(client, user):
    """Signed in and OTP-verified, as after a real admin login."""
    user.save()  # the factory's unusable password is not saved otherwise (session hash mismatch)
    device = StaticDevice.objects.create(user=user, name="backup codes", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def staff_with(*codenames):
    user = StaffFactory()
    for codename in codenames:
        user.user_permissions.add(AuthPermission.objects.get(codename=codename, content_type__app_label="documents"))
    return user


@pytest.fixture
def support(client):
    return verified_client(
        client,
        staff_with(
            "view_document",
            "change_document",
            "add_document",
            "view_grant",
            "add_grant",
            "change_grant",
            "delete_grant",
            "view_share",
            "view_documentversion",
        ),
    )


def test_support_staff_list_and_open_documents_in_the_admin(support, document):
    assert document.title.encode() in support.get("/admin/documents/document/").content
    assert support.get(f"/admin/documents/document/{document.pk}/change/").status_code == 200


def test_staff_without_the_content_permission_cannot_download_and_the_attempt_is_audited(support, document):
    response = support.get(f"/admin/documents/document/{document.pk}/content/")
    assert response.status_code == 403
    event = AuditEvent.objects.get(action="admin.content_access")
    assert (event.outcome, event.data["reason"]) == ("failure", "denied")


def test_staff_with_the_content_permission_download_and_it_is_audited(client, document):
    staff = staff_with("view_document", "download_document_content")
    verified_client(client, staff)
    response = client.get(f"/admin/documents/document/{document.pk}/content/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert AuditEvent.objects.get(action="admin.content_access").outcome == "success"


def test_staff_upload_on_behalf_of_a_person_goes_through_the_checks(support, owner):
    response = support.post(
        "/admin/documents/document/add/",
        {
            "owner": owner.pk,
            "file": SimpleUploadedFile("c.docx", samples.docx_bytes("hi")),
            "security_level": "internal",
        },
    )
    assert response.status_code == 302
    document = Document.objects.get()
    assert (document.owner, document.family) == (owner, "word")
    assert AuditEvent.objects.get(action="document.upload").data["on_behalf"] is True


def test_a_disguised_file_uploaded_in_the_admin_is_a_form_error(support, owner):
    response = support.post(
        "/admin/documents/document/add/",
        {"owner": owner.pk, "file": SimpleUploadedFile("x.pdf", b"<html>hi</html>"), "security_level": "internal"},
    )
    assert response.status_code == 200
    assert b"not accepted" in response.content
    assert not Document.objects.exists()


def test_changing_metadata_in_the_admin_is_audited(support, document):
    data = {
        "owner": document.owner_id,
        "title": "Renamed",
        "description": "",
        "category": "Reports",
        "security_level": "confidential",
        "documentversion_set-TOTAL_FORMS": "0",
        "documentversion_set-INITIAL_FORMS": "0",
        "versions-TOTAL_FORMS": "1",
        "versions-INITIAL_FORMS": "1",
        "versions-0-id": document.current_version_id,
        "versions-0-document": document.pk,
        "grants-TOTAL_FORMS": "0",
        "grants-INITIAL_FORMS": "0",
        "shares-TOTAL_FORMS": "0",
        "shares-INITIAL_FORMS": "0",
    }
    response = support.post(f"/admin/documents/document/{document.pk}/change/", data)
    assert response.status_code == 302, response.content[:3000]
    event = AuditEvent.objects.get(action="admin.change")
    assert set(event.data["fields"]) >= {"title", "security_level"}


def test_bulk_grant_gives_a_group_access_to_every_selected_document(support, owner, group):
    from tests.factories import make_document

    documents = [make_document(owner), make_document(owner)]
    response = support.post(
        "/admin/documents/document/",
        {
            "action": "grant_to_group",
            "_selected_action": [d.pk for d in documents],
            "apply": "1",
            "group": group.pk,
            "permission": "download",
        },
    )
    assert response.status_code == 302
    assert Grant.objects.filter(group=group, permission="download").count() == 2
    assert AuditEvent.objects.filter(action="grant.add").count() == 2


def test_the_share_admin_never_shows_token_or_password_hashes(client, owner, document):
    share, _ = services.share_create(acting_user=owner, document=document, password="correct horse")
    verified_client(client, StaffFactory(is_superuser=True))
    content = client.get(f"/admin/documents/share/{share.pk}/change/").content.decode()
    assert share.token_hash not in content and share.password_hash not in content
    assert Share.objects.count() == 1


@pytest.mark.parametrize("model_name", ["Rendition", "VersionText"])
def test_worker_written_rows_cannot_be_added_changed_or_deleted_even_by_a_superuser(rf, model_name):
    """documents.admin.ReadOnlyAdmin: the workers own these rows; the admin only shows and re-queues them."""
    from django.contrib import admin as django_admin

    from documents import models

    model_admin = django_admin.site._registry[getattr(models, model_name)]
    request = rf.get("/")
    request.user = StaffFactory(is_superuser=True)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)
