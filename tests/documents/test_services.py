import pytest
from django.core.files.base import ContentFile
from django.db import IntegrityError

from audit.models import AuditEvent
from documents import samples, services
from documents.errors import DuplicateDocument, UnsupportedFormat, UploadTooLarge
from documents.models import Document, DocumentVersion, Family, Permission, Share
from tests.documents.conftest import stored_files
from tests.factories import make_document

pytestmark = pytest.mark.django_db


def upload(user, name, data, **kwargs):
    return services.document_upload(acting_user=user, file=ContentFile(data, name=name), name=name, **kwargs)


def test_an_upload_records_the_sniffed_type_size_hash_and_page_count(owner):
    data = samples.pdf_bytes("hello", pages=3)
    document = upload(owner, "Hello.pdf", data)
    assert (document.family, document.mime_type, document.size, document.page_count) == (
        Family.PDF,
        "application/pdf",
        len(data),
        3,
    )
    assert document.current_version.number == 1
    assert document.current_version.original_name == "Hello.pdf"


def test_the_stored_file_key_is_random_and_never_the_uploaded_name(owner):
    document = upload(owner, "../../etc/passwd.txt", samples.text_bytes("x\n"))
    key = document.current_version.file.name
    assert "passwd" not in key and ".." not in key
    assert key.startswith("documents/")
    assert document.current_version.original_name == "passwd.txt"


def test_an_upload_is_audited_in_the_trail(owner):
    document = upload(owner, "a.txt", b"audited\n")
    event = AuditEvent.objects.get(action="document.upload")
    assert (event.actor_id, event.target_id, event.data["type"]) == (owner.pk, str(document.pk), "txt")


def test_a_pdf_that_is_really_html_is_refused_and_leaves_nothing_behind(owner, media):
    with pytest.raises(UnsupportedFormat, match="not accepted"):
        upload(owner, "invoice.pdf", b"<html><body><script>alert(1)</script></body></html>")
    assert not Document.objects.exists()
    assert stored_files(media) == []


def test_a_file_with_a_forged_pdf_header_that_pypdf_cannot_read_is_refused(owner, media):
    with pytest.raises(UnsupportedFormat, match="PDF could not be read"):
        upload(owner, "fake.pdf", b"%PDF-1.7\n<script>alert(1)</script>")
    assert stored_files(media) == []


def test_a_file_over_the_limit_is_refused_with_the_limit_in_the_message(owner, settings, media):
    settings.DOCUID_MAX_UPLOAD_MB = 1
    with pytest.raises(UploadTooLarge, match="1 MB"):
        upload(owner, "big.txt", b"a" * (1024 * 1024 + 1))
    assert stored_files(media) == []


def test_the_same_bytes_twice_for_the_same_owner_is_reported_as_a_duplicate(owner, media):
    first = upload(owner, "a.txt", b"same bytes\n")
    with pytest.raises(DuplicateDocument) as caught:
        upload(owner, "b.txt", b"same bytes\n")
    assert caught.value.existing == first
    assert len(stored_files(media)) == 1


def test_the_same_bytes_for_another_owner_are_not_a_duplicate(owner, other):
    upload(owner, "a.txt", b"same bytes\n")
    assert upload(other, "a.txt", b"same bytes\n").owner == other


def test_a_database_failure_after_storing_removes_the_stored_file(owner, media, monkeypatch):
    def fail(*args, **kwargs):
        raise IntegrityError("simulated")

    monkeypatch.setattr(DocumentVersion, "save", fail)
    with pytest.raises(IntegrityError):
        upload(owner, "a.txt", b"bytes\n")
    assert stored_files(media) == []
    assert not Document.objects.exists()


def test_staff_can_upload_on_behalf_of_a_person(staff, owner):
    document = services.document_upload(
        acting_user=staff, owner=owner, file=ContentFile(b"for you\n", name="n.txt"), name="n.txt"
    )
    assert document.owner == owner
    assert document.current_version.author == staff
    assert AuditEvent.objects.get(action="document.upload").data["on_behalf"] is True


def test_a_new_version_becomes_current_and_keeps_the_old_one(owner, document):
    new = samples.pdf_bytes("second", pages=5)
    version = services.document_version_add(
        acting_user=owner, document=document, file=ContentFile(new, name="v2.pdf"), note="fixes"
    )
    document.refresh_from_db()
    assert (version.number, document.current_version, document.page_count, document.size) == (2, version, 5, len(new))
    assert document.versions.count() == 2
    assert AuditEvent.objects.filter(action="document.version").count() == 1


def test_a_new_version_of_another_kind_is_refused(owner, document, media):
    before = len(stored_files(media))
    with pytest.raises(UnsupportedFormat, match="same kind"):
        services.document_version_add(
            acting_user=owner, document=document, file=ContentFile(samples.png_bytes(), name="x.png")
        )
    assert len(stored_files(media)) == before


def test_deleting_a_document_removes_its_rows_and_files(owner, document, media, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.document_delete(acting_user=owner, document=document)
    assert not Document.objects.exists()
    assert stored_files(media) == []
    assert AuditEvent.objects.filter(action="document.delete").count() == 1


def test_a_grant_is_audited_and_notifies_the_person(
    owner, other, document, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        grant = services.grant_add(acting_user=owner, document=document, user=other, permission=Permission.DOWNLOAD)
    assert grant.permission == Permission.DOWNLOAD
    assert AuditEvent.objects.get(action="grant.add").data["user_id"] == other.pk
    assert mailoutbox[0].to == [other.email]
    assert document.title in mailoutbox[0].subject


def test_granting_twice_changes_the_existing_grant(owner, other, document):
    services.grant_add(acting_user=owner, document=document, user=other, permission=Permission.VIEW, notify=False)
    services.grant_add(acting_user=owner, document=document, user=other, permission=Permission.SHARE, notify=False)
    assert document.grants.get().permission == Permission.SHARE


def test_a_share_stores_only_the_hash_of_its_token_and_of_its_password(owner, document):
    share, token = services.share_create(acting_user=owner, document=document, password="correct horse")
    assert token not in share.token_hash
    assert "correct horse" not in share.password_hash
    assert services.share_password_matches(share, "correct horse")
    assert not services.share_password_matches(share, "wrong horse")


def test_a_share_expires_after_seven_days_by_default(owner, document):
    share, _ = services.share_create(acting_user=owner, document=document)
    assert 6.9 < (share.expires_at - share.created_at).total_seconds() / 86400 <= 7


def test_a_share_cannot_last_more_than_ninety_days(owner, document):
    from datetime import timedelta

    from django.utils import timezone

    from documents.errors import ShareNotAllowed

    with pytest.raises(ShareNotAllowed, match="90 days"):
        services.share_create(acting_user=owner, document=document, expires_at=timezone.now() + timedelta(days=91))


def test_a_share_can_be_extended_and_shortened_within_the_limit(owner, document):
    from datetime import timedelta

    from django.utils import timezone

    from documents.errors import ShareNotAllowed

    share, _ = services.share_create(acting_user=owner, document=document)
    services.share_update(acting_user=owner, share=share, expires_at=timezone.now() + timedelta(days=60))
    services.share_update(acting_user=owner, share=share, expires_at=timezone.now() + timedelta(days=1))
    with pytest.raises(ShareNotAllowed):
        services.share_update(acting_user=owner, share=share, expires_at=share.created_at + timedelta(days=91))
    assert AuditEvent.objects.filter(action="share.update").count() == 2


def test_a_restricted_document_cannot_be_shared_by_link(owner):
    from documents.errors import ShareNotAllowed

    document = make_document(owner, security_level="restricted")
    with pytest.raises(ShareNotAllowed, match="Restricted"):
        services.share_create(acting_user=owner, document=document)
    assert not Share.objects.exists()


def test_a_share_with_a_view_limit_counts_views_until_it_is_used_up(owner, document):
    share, _ = services.share_create(acting_user=owner, document=document, max_views=2)
    assert services.share_access_record(share=share, kind="open")
    assert services.share_access_record(share=share, kind="download")
    assert not services.share_access_record(share=share, kind="open")
    share.refresh_from_db()
    assert (share.view_count, share.state()) == (2, "used_up")
    assert AuditEvent.objects.filter(action="share.access", outcome="failure").get().data["reason"] == "used_up"


def test_a_share_link_cannot_be_made_by_someone_without_the_share_permission(owner, other, document):
    from documents.errors import ShareNotAllowed

    services.grant_add(acting_user=owner, document=document, user=other, permission=Permission.DOWNLOAD, notify=False)
    with pytest.raises(ShareNotAllowed):
        services.share_create(acting_user=other, document=document)
