"""Opens and downloads that fail in storage are audited and counted as failures, not successes."""

import pytest
from django.core.files.storage import FileSystemStorage
from django.urls import reverse

from audit.metrics import document_opens
from audit.models import AuditEvent
from tests.documents.conftest import login
from tests.factories import make_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def broken_storage(monkeypatch):
    def unreadable(self, name, mode="rb"):
        raise OSError("storage unavailable")

    monkeypatch.setattr(FileSystemStorage, "_open", unreadable)


def events(action: str) -> list[tuple[str, str | None]]:
    return [(e.outcome, e.data.get("reason")) for e in AuditEvent.objects.filter(action=action).order_by("id")]


@pytest.mark.parametrize("name", ["Quarterly report.pdf", "notes.txt"])
def test_an_open_that_cannot_read_storage_is_a_counted_failure(
    client, owner, broken_storage, name, django_capture_on_commit_callbacks
):
    document = make_document(owner, name=name, **({"data": b"hello\n"} if name.endswith(".txt") else {}))
    login(client, owner)
    client.raise_request_exception = False
    success, errors = document_opens.labels("success")._value.get(), document_opens.labels("storage_error")._value.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(reverse("documents:open", args=[document.pk]))
    assert response.status_code == 500
    assert events("document.open") == [("failure", "storage_error")]
    assert document_opens.labels("success")._value.get() == success
    assert document_opens.labels("storage_error")._value.get() == errors + 1


def test_a_download_that_cannot_read_storage_is_audited_as_a_failure(client, owner, broken_storage):
    document = make_document(owner, name="Quarterly report.pdf")
    login(client, owner)
    client.raise_request_exception = False
    response = client.get(reverse("documents:download", args=[document.pk]))
    assert response.status_code == 500
    assert events("document.download") == [("failure", "storage_error")]


def test_a_working_open_is_still_a_success(client, owner):
    document = make_document(owner, name="Quarterly report.pdf")
    login(client, owner)
    assert client.get(reverse("documents:open", args=[document.pk])).status_code == 200
    assert events("document.open") == [("success", None)]
