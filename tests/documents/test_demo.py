import pytest

from documents.demo import demo_documents_ensure
from documents.models import Document, Grant, Share
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_demo_documents_are_real_files_of_every_family_with_grants_and_a_share():
    users = [UserFactory(), UserFactory()]
    demo_documents_ensure(users=users)
    families = set(Document.objects.filter(owner=users[0]).values_list("family", flat=True))
    assert families == {"pdf", "word", "excel", "powerpoint", "text", "image"}
    assert Grant.objects.filter(user=users[1]).count() == 2
    assert Share.objects.count() == 1


def test_loading_the_demo_twice_changes_nothing():
    users = [UserFactory(), UserFactory()]
    demo_documents_ensure(users=users)
    counts = (Document.objects.count(), Grant.objects.count(), Share.objects.count())
    demo_documents_ensure(users=users)
    assert (Document.objects.count(), Grant.objects.count(), Share.objects.count()) == counts


def test_demo_files_are_the_same_bytes_on_every_run():
    from documents import samples

    assert samples.docx_bytes("x") == samples.docx_bytes("x")
    assert samples.pdf_bytes("x") == samples.pdf_bytes("x")
    assert samples.slides_bytes(["x"]) == samples.slides_bytes(["x"])


def test_every_demo_office_file_gets_a_pdf_rendition(settings, tmp_path, django_capture_on_commit_callbacks):
    """`make run` shows a new user rendered previews, not "could not make a PDF" (needs LibreOffice)."""
    from documents import office
    from documents.models import Rendition, RenditionStatus
    from tests.conftest import require

    require("LibreOffice (soffice)", office.available(), "deploy/install-ci-tools.sh installs it")
    settings.MEDIA_ROOT = str(tmp_path)
    owner = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        demo_documents_ensure(users=[owner, UserFactory()])
    office = Document.objects.filter(owner=owner, family__in=["word", "excel", "powerpoint"])
    statuses = dict(
        Rendition.objects.filter(version__document__in=office).values_list("version__document__title", "status")
    )
    assert len(statuses) == 3
    assert set(statuses.values()) == {RenditionStatus.DONE}, statuses
