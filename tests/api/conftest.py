import json

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.context import ClientContext
from accounts.services.api_tokens import api_client_create, api_token_issue
from tests.factories import UserFactory, make_document

APPROVES, DENIES, NEVER_ANSWERS = "+12025550100", "+12025550101", "+12025550102"
ADDIN_ORIGIN = "https://addin.example.com"


@pytest.fixture(autouse=True)
def _api_settings(settings, tmp_path):
    settings.DOCUID_NOTIFIERS = []
    settings.DOCUID_BIOMETRIC_PROVIDER = "simulator"
    settings.DOCUID_SIMULATOR_APPROVE_DELAY_SECONDS = 0
    settings.DOCUID_SITE_URL = "http://testserver"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "api-tests"}}
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": None},
        },
    }
    cache.clear()
    yield
    cache.clear()


class ApiCaller:
    """A test client speaking JSON, with an API key and (optionally) a bearer token."""

    def __init__(self, key: str | None = None, *, ip: str = "203.0.113.7", token: str | None = None):
        self.client = Client(REMOTE_ADDR=ip)
        self.key = key
        self.token = token

    def headers(self, extra: dict | None = None) -> dict:
        headers = {}
        if self.key:
            headers["x-api-key"] = self.key
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers | (extra or {})

    def get(self, path, data=None, headers=None):
        return self.client.get(path, data, headers=self.headers(headers))

    def post(self, path, body=None, headers=None, raw: bytes | str | None = None):
        payload = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(path, payload, content_type="application/json", headers=self.headers(headers))


@pytest.fixture
def api_key(db):
    _, key = api_client_create(name="Office add-in", origins=[ADDIN_ORIGIN])
    return key


@pytest.fixture
def caller(api_key):
    return ApiCaller(api_key)


@pytest.fixture
def approver(db):
    return UserFactory(phone_number=APPROVES, name="Ada Approver")


@pytest.fixture
def denier(db):
    return UserFactory(phone_number=DENIES, name="Dan Denier")


@pytest.fixture
def silent(db):
    return UserFactory(phone_number=NEVER_ANSWERS, name="Sam Silent")


@pytest.fixture
def owner(db):
    return UserFactory(name="Olive Owner")


@pytest.fixture
def other(db):
    return UserFactory(name="Oscar Other")


def issue_token(user, client=None):
    return api_token_issue(user=user, client=client, client_context=ClientContext(), method="test")


@pytest.fixture
def owner_caller(owner, api_key):
    return ApiCaller(api_key, token=issue_token(owner).access_token)


@pytest.fixture
def other_caller(other, api_key):
    return ApiCaller(api_key, token=issue_token(other).access_token)


def office_documents(owner):
    from documents import samples

    return {
        "word": make_document(owner, name="Letter.docx", data=samples.docx_bytes("Dear reader")),
        "excel": make_document(owner, name="Budget.xlsx", data=samples.xlsx_bytes([["a", "b"]])),
        "powerpoint": make_document(owner, name="Deck.pptx", data=samples.pptx_bytes("Slide one")),
        "pdf": make_document(owner, name="Report.pdf"),
    }
