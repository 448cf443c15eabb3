import pytest
from django.urls import NoReverseMatch, reverse

from tests.factories import GroupFactory, StaffFactory, UserFactory, make_document


@pytest.fixture(autouse=True)
def login_url(settings):
    """login_required needs LOGIN_URL to resolve; until the sign-in pages land, point it at their path."""
    try:
        reverse(settings.LOGIN_URL)
    except NoReverseMatch:
        settings.LOGIN_URL = "/accounts/login/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Each test stores files in its own folder, so tests can count what is left behind."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": None},
        },
    }
    return tmp_path / "media"


@pytest.fixture
def owner(db):
    return UserFactory(name="Olive Owner")


@pytest.fixture
def other(db):
    return UserFactory(name="Oscar Other")


@pytest.fixture
def staff(db):
    return StaffFactory(name="Stella Staff")


@pytest.fixture
def group(db):
    return GroupFactory()


@pytest.fixture
def document(owner):
    return make_document(owner, name="Quarterly report.pdf", category="Reports", tags=["finance", "q1"])


def stored_files(media) -> list:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


def login(client, user) -> None:
    """force_login with the user as stored: UserFactory sets the unusable password after saving,
    so the in-memory instance's session hash would not match the database's and the session
    would be flushed on the next request."""
    client.force_login(type(user).objects.get(pk=user.pk))
