"""API content and downloads that fail in storage: audited as failures, answered with the 500 envelope."""

import pytest
from django.core.files.storage import FileSystemStorage

from audit.models import AuditEvent
from tests.api.conftest import office_documents

pytestmark = pytest.mark.django_db


@pytest.fixture
def broken_storage(monkeypatch):
    def unreadable(self, name, mode="rb"):
        raise OSError("storage unavailable")

    monkeypatch.setattr(FileSystemStorage, "_open", unreadable)


def events(action: str) -> list[tuple[str, str | None]]:
    return [(e.outcome, e.data.get("reason")) for e in AuditEvent.objects.filter(action=action).order_by("id")]


@pytest.mark.parametrize(("fmt", "action"), [("text", "document.open"), ("office", "document.download")])
def test_content_that_cannot_be_read_is_a_failed_open_or_download(owner_caller, owner, broken_storage, fmt, action):
    document = office_documents(owner)["word"]
    owner_caller.client.raise_request_exception = False
    response = owner_caller.get(f"/api/v1/documents/{document.pk}/content", {"format": fmt})
    assert response.status_code == 500
    assert response.json()["success"] is False
    assert events(action)[-1] == ("failure", "storage_error")
    assert ("success", None) not in events(action)


def test_a_download_that_cannot_be_read_is_a_failed_download(owner_caller, owner, broken_storage):
    document = office_documents(owner)["pdf"]
    owner_caller.client.raise_request_exception = False
    response = owner_caller.get(f"/api/v1/documents/{document.pk}/download")
    assert response.status_code == 500
    assert events("document.download") == [("failure", "storage_error")]
