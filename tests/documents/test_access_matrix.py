"""Every document URL x every kind of caller → the expected status, with nothing leaked.

A document the caller may not see is a 404 (never a 403, which would confirm it
exists); a caller who sees it but lacks the permission gets a 403; anonymous
callers are sent to sign in. No cell may be a 500.
"""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from documents import services
from documents.models import Permission
from tests.documents.conftest import login
from tests.factories import GroupFactory, StaffFactory, UserFactory, make_document

pytestmark = pytest.mark.django_db

TITLE = "Zebra merger plan"
FILE_NAME = "zebra-merger.pdf"

ACTORS = ["owner", "view_grantee", "download_grantee", "group_grantee", "other", "anonymous", "staff", "expired_grant"]

# (url name, method) → expected status per actor, in ACTORS order.
MATRIX = {
    ("list", "get"): [200, 200, 200, 200, 200, 302, 200, 200],
    ("detail", "get"): [200, 200, 200, 200, 404, 302, 404, 404],
    ("open", "get"): [200, 200, 200, 200, 404, 302, 404, 404],
    ("download", "get"): [200, 403, 200, 200, 404, 302, 404, 404],
    ("version_download", "get"): [200, 403, 403, 403, 404, 302, 404, 404],
    ("share_create", "get"): [200, 403, 403, 403, 404, 302, 404, 404],
    ("share_create", "post"): [200, 403, 403, 403, 404, 302, 404, 404],
    ("grant_create", "post"): [302, 403, 403, 403, 404, 302, 404, 404],
    ("version_add", "post"): [302, 403, 403, 403, 404, 302, 404, 404],
    ("delete", "get"): [200, 403, 403, 403, 404, 302, 404, 404],
    ("delete", "post"): [302, 403, 403, 403, 404, 302, 404, 404],
}
CASES = [
    pytest.param(name, method, actor, statuses[i], id=f"{name}-{method}-{actor}")
    for (name, method), statuses in MATRIX.items()
    for i, actor in enumerate(ACTORS)
]


@pytest.fixture
def world():
    owner = UserFactory(name="Olive Owner")
    document = make_document(owner, name=FILE_NAME, title=TITLE)
    people = {"owner": owner, "staff": StaffFactory(), "other": UserFactory()}
    for actor, permission in (("view_grantee", Permission.VIEW), ("download_grantee", Permission.DOWNLOAD)):
        people[actor] = UserFactory()
        services.grant_add(
            acting_user=owner, document=document, user=people[actor], permission=permission, notify=False
        )
    people["group_grantee"] = UserFactory()
    group = GroupFactory()
    people["group_grantee"].groups.add(group)
    services.grant_add(acting_user=owner, document=document, group=group, permission=Permission.DOWNLOAD, notify=False)
    people["expired_grant"] = UserFactory()
    grant = services.grant_add(
        acting_user=owner,
        document=document,
        user=people["expired_grant"],
        permission=Permission.SHARE,
        expires_at=timezone.now() + timedelta(minutes=1),
        notify=False,
    )
    type(grant).objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    return document, people


def _url(name: str, document) -> str:
    if name == "list":
        return reverse("documents:list")
    if name == "version_download":
        return reverse("documents:version_download", args=[document.pk, 1])
    return reverse(f"documents:{name}", args=[document.pk])


POST_DATA = {
    "share_create": {"access": "view", "expires_on": (timezone.now() + timedelta(days=3)).date().isoformat()},
    "grant_create": {"recipient": "nobody@example.com", "permission": "view"},
    "version_add": {},
    "delete": {"confirm": "yes"},
}


@pytest.mark.parametrize(("name", "method", "actor", "expected"), CASES)
def test_document_urls_answer_each_caller_as_the_matrix_says(client, world, name, method, actor, expected):
    document, people = world
    if actor != "anonymous":
        login(client, people[actor])
    url = _url(name, document)
    response = client.post(url, POST_DATA.get(name, {})) if method == "post" else client.get(url)
    assert response.status_code == expected
    if expected in (302, 403, 404) or (name == "list" and actor in {"other", "staff", "expired_grant", "anonymous"}):
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert TITLE.encode() not in body and FILE_NAME.encode() not in body
        assert "Content-Disposition" not in response.headers
        assert TITLE not in response.headers.get("Location", "")
    if name == "list" and expected == 200 and actor in {"owner", "view_grantee", "download_grantee", "group_grantee"}:
        assert TITLE.encode() in response.content
    if expected == 302 and actor == "anonymous":
        assert "/login" in response["Location"]


@pytest.mark.parametrize("plan", ["ids", "walk"])
def test_the_list_and_its_search_show_the_document_to_the_same_callers_in_either_plan(client, world, plan, monkeypatch):
    """Issue #16 item 2: whichever visibility plan serves the page, the list and its search show
    the document to exactly those the matrix lets see it (expired grant, staff, others: never)."""
    from documents import selectors

    monkeypatch.setattr(selectors, "visibility_plan", lambda user: plan)
    _, people = world
    sees = {"owner", "view_grantee", "download_grantee", "group_grantee"}
    for actor in ("owner", "view_grantee", "download_grantee", "group_grantee", "other", "staff", "expired_grant"):
        login(client, people[actor])
        for query in ({}, {"q": "zebra"}, {"q": "zebra", "sort": "title"}):
            body = client.get(reverse("documents:list"), query).content
            assert (TITLE.encode() in body) == (actor in sees), (actor, query)
        client.logout()


def test_an_id_that_does_not_exist_is_the_same_404_as_one_the_caller_may_not_see(client, world):
    document, people = world
    login(client, people["other"])
    hidden = client.get(reverse("documents:open", args=[document.pk]))
    missing = client.get(reverse("documents:open", args=[document.pk + 1000]))
    assert hidden.status_code == missing.status_code == 404

    def normalised(response):
        body = response.content.replace(response["X-Request-ID"].encode(), b"")
        return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", body)

    assert normalised(hidden) == normalised(missing)


def test_a_huge_id_is_a_404_not_a_500(client, world):
    _, people = world
    login(client, people["owner"])
    assert client.get("/documents/99999999999999999999999999/open/").status_code == 404


# --- Share links: every state x every link URL ------------------------------------------

SHARE_STATES = ["active", "revoked", "expired", "used_up", "wrong_password", "view_only", "unknown"]
SHARE_MATRIX = {
    # state: (link page, open, download)
    "active": (200, 200, 200),
    "revoked": (410, 410, 410),
    "expired": (410, 410, 410),
    "used_up": (410, 410, 410),
    "wrong_password": (403, 302, 302),
    "view_only": (200, 200, 403),
    "unknown": (404, 404, 404),
}
SHARE_CASES = [
    pytest.param(state, kind, statuses[i], id=f"{state}-{kind}")
    for state, statuses in SHARE_MATRIX.items()
    for i, kind in enumerate(("link", "open", "download"))
]


@pytest.mark.parametrize(("state", "kind", "expected"), SHARE_CASES)
def test_share_link_urls_answer_each_state_as_the_matrix_says(client, state, kind, expected):
    owner = UserFactory()
    document = make_document(owner, name=FILE_NAME, title=TITLE)
    share, token = services.share_create(
        acting_user=owner,
        document=document,
        access="view" if state == "view_only" else "download",
        password="correct horse battery" if state == "wrong_password" else "",
        max_views=1 if state == "used_up" else None,
    )
    if state == "revoked":
        services.share_revoke(acting_user=owner, share=share)
    elif state == "expired":
        type(share).objects.filter(pk=share.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    elif state == "used_up":
        services.share_access_record(share=share, kind="open")
    elif state == "unknown":
        token = "x" * 43
    url = reverse("share:link" if kind == "link" else f"share:{kind}", args=[token])
    if state == "wrong_password" and kind == "link":
        response = client.post(url, {"password": "wrong guess"})
    else:
        response = client.get(url)
    assert response.status_code == expected
    if expected != 200:
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert FILE_NAME.encode() not in body and TITLE.encode() not in body
        assert "Content-Disposition" not in response.headers
