"""Issue #12, F10: an add-in access link (`?sig=` from /access) dies with the credential that minted it."""

import pytest
from django.core import signing
from django.test import Client

from accounts.models import UserSession
from accounts.services import user_sessions_revoke_all
from accounts.services.api_tokens import api_token_revoke, api_token_revoke_own, api_tokens_revoke_all
from api.links import SALT
from tests.api.conftest import ApiCaller, issue_token, office_documents

pytestmark = pytest.mark.django_db


def access_url(caller, document) -> str:
    response = caller.get(f"/api/dashboard/documents/{document.pk}/access")
    assert response.status_code == 200
    return response.json()["data"]["document"]["access"]["url"]


def anonymous_download(url: str) -> int:
    """What a stranger holding only the link gets (another network, no cookies, no token)."""
    return ApiCaller(ip="198.51.100.23").get(url).status_code


@pytest.fixture
def minted(owner, api_key):
    """An add-in signed in with its own token, and the access link it was given for a document."""
    issued = issue_token(owner)
    caller = ApiCaller(api_key, token=issued.access_token)
    url = access_url(caller, office_documents(owner)["word"])
    assert anonymous_download(url) == 200
    return caller, issued, url


def test_an_access_link_dies_when_its_token_logs_out(minted):
    caller, _, url = minted
    assert caller.post("/api/auth/logout").status_code == 200
    assert anonymous_download(url) == 401


def test_an_access_link_dies_when_its_token_logs_out_through_the_versioned_api(minted):
    caller, _, url = minted
    assert caller.post("/api/v1/auth/logout").status_code == 200
    assert anonymous_download(url) == 401


def test_an_access_link_dies_when_the_person_signs_out_everywhere(minted, owner):
    _, _, url = minted
    user_sessions_revoke_all(user=owner, acting_user=owner)
    assert anonymous_download(url) == 401


def test_an_access_link_dies_when_all_api_tokens_are_revoked(minted, owner):
    _, _, url = minted
    api_tokens_revoke_all(user=owner, acting_user=None, reason="staff")
    assert anonymous_download(url) == 401


def test_an_access_link_dies_when_its_token_is_revoked_from_the_profile(minted, owner):
    _, issued, url = minted
    assert api_token_revoke_own(user=owner, token_id=issued.token.pk)
    assert anonymous_download(url) == 401


def test_revoking_another_token_of_the_same_person_leaves_the_link_alone(minted, owner):
    _, _, url = minted
    api_token_revoke(token=issue_token(owner).token, acting_user=None, reason="staff")
    assert anonymous_download(url) == 200


def test_an_access_link_dies_when_its_api_client_is_deactivated(owner):
    from accounts.services.api_tokens import api_client_create

    client, key = api_client_create(name="Partner add-in")
    caller = ApiCaller(key, token=issue_token(owner, client=client).access_token)
    url = access_url(caller, office_documents(owner)["word"])
    client.is_active = False
    client.save(update_fields=["is_active"])
    assert anonymous_download(url) == 401


def test_an_access_link_made_in_a_browser_session_dies_when_that_session_signs_out(owner):
    browser = Client()
    browser.force_login(type(owner).objects.get(pk=owner.pk))
    assert UserSession.objects.filter(user=owner).exists()
    response = browser.get(f"/api/dashboard/documents/{office_documents(owner)['word'].pk}/access")
    url = response.json()["data"]["document"]["access"]["url"]
    assert anonymous_download(url) == 200
    browser.logout()
    assert anonymous_download(url) == 401


def test_an_access_link_made_in_a_browser_session_dies_when_the_session_is_revoked(owner):
    browser = Client()
    browser.force_login(type(owner).objects.get(pk=owner.pk))
    response = browser.get(f"/api/dashboard/documents/{office_documents(owner)['word'].pk}/access")
    url = response.json()["data"]["document"]["access"]["url"]
    user_sessions_revoke_all(user=owner, acting_user=owner)
    assert anonymous_download(url) == 401


def test_a_link_signed_without_a_credential_is_refused(owner, api_key):
    """The old two-field form (person, document), as links were minted before this fix."""
    document = office_documents(owner)["word"]
    signature = signing.dumps([owner.pk, document.pk], salt=SALT)
    assert ApiCaller().get(f"/api/documents/{document.pk}/download", {"sig": signature}).status_code == 401
