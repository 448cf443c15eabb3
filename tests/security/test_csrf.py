"""Every state-changing page refuses a cross-site POST: no CSRF token, no change."""

import pytest
from django.test import Client
from django.urls import reverse

from documents.models import Document
from tests.security.conftest import login

pytestmark = pytest.mark.django_db

TOKEN = "t" * 43
SIGNED_IN_POSTS = [
    ("accounts:logout", []),
    ("accounts:device-remove", [1]),
    ("accounts:device-rename", [1]),
    ("accounts:session-revoke", [1]),
    ("accounts:sign-out-everywhere", []),
    ("documents:upload", []),
    ("documents:delete", ["DOC"]),
    ("documents:grant_create", ["DOC"]),
    ("documents:grant_delete", ["DOC", 1]),
    ("documents:version_add", ["DOC"]),
    ("documents:share_create", ["DOC"]),
    ("documents:share_update", [1]),
    ("documents:share_revoke", [1]),
]
ANONYMOUS_POSTS = [
    ("accounts:login", []),
    ("accounts:passkey-options", []),
    ("accounts:passkey-complete", []),
    ("accounts:approve-code", [TOKEN]),
    ("accounts:approve-deny", [TOKEN]),
    ("accounts:approve-fraud", [TOKEN]),
    ("accounts:approve-options", [TOKEN]),
    ("accounts:approve-verify", [TOKEN]),
    ("accounts:approve-push", [TOKEN]),
    ("accounts:enroll-options", [TOKEN]),
    ("accounts:enroll-complete", [TOKEN]),
    ("share:link", [TOKEN]),
]


def _url(name, args, document):
    return reverse(name, args=[document.pk if arg == "DOC" else arg for arg in args])


@pytest.mark.parametrize(("name", "args"), SIGNED_IN_POSTS, ids=[n for n, _ in SIGNED_IN_POSTS])
def test_a_cross_site_post_to_a_signed_in_page_is_refused(owner, document, name, args):
    browser = Client(enforce_csrf_checks=True)
    login(browser, owner)
    response = browser.post(_url(name, args, document), {"name": "x", "recipient": "+13125550199"})
    assert response.status_code == 403
    assert b"CSRF" in response.content


@pytest.mark.parametrize(("name", "args"), ANONYMOUS_POSTS, ids=[n for n, _ in ANONYMOUS_POSTS])
def test_a_cross_site_post_to_a_public_page_is_refused(db, name, args):
    response = Client(enforce_csrf_checks=True).post(reverse(name, args=args), {"code": "10"})
    assert response.status_code == 403
    assert b"CSRF" in response.content


def test_a_cross_site_delete_leaves_the_document_in_place(owner, document):
    browser = Client(enforce_csrf_checks=True)
    login(browser, owner)
    browser.post(reverse("documents:delete", args=[document.pk]), {"confirm": "yes"})
    assert Document.objects.filter(pk=document.pk).exists()


def test_a_cross_site_logout_leaves_the_person_signed_in(owner):
    browser = Client(enforce_csrf_checks=True)
    login(browser, owner)
    browser.post(reverse("accounts:logout"))
    assert browser.session.get("_auth_user_id") == str(owner.pk)
