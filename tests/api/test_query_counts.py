"""Issue #16 item 3: the API's list and search cost the same number of queries for any page size.

The caller sees documents in every way there is (owned, granted directly, granted to a
group, both), so a per-row permission lookup or a per-row tag fetch would show up as a
count that grows with `limit`. Each case first makes one warm-up call: the token's
`last_used_at` is touched at most once a minute, and that UPDATE is not the page's cost.
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from documents import search, selectors
from documents.models import Document, Family, Grant, Permission, Tag
from tests.api.conftest import ApiCaller, issue_token
from tests.factories import UserFactory, make_document

MAX_QUERIES = 5
# A search on PostgreSQL sets its planner settings first (SET LOCAL, documents.search.planner_settings);
# the page's tags ride in the page's own query there (selectors._tag_pairs), so it still fits.
SEARCH_QUERIES = MAX_QUERIES
VISIBLE = 110  # more than the largest page (100), so every page size has a next page
PAGE_SIZES = (1, 25, 100)


@pytest.fixture
def library(db, owner, other):
    """110 documents `other` may see: 10 owned, 40 granted directly, 40 through a group, 20 both."""
    group = Group.objects.create(name="Readers")
    other.groups.add(group)
    template = make_document(owner, name="Quarterly report.pdf", category="Reports")
    tag = Tag.objects.create(name="finance")
    template.tags.add(tag)
    now = timezone.now()
    documents = []
    for index in range(VISIBLE):
        document = Document.objects.get(pk=template.pk)
        document.pk = None
        document.title = f"Quarterly report {index}"
        document.owner = other if index < 10 else owner
        document.updated_at = now - timedelta(minutes=index)
        document.save()
        document.tags.add(tag)
        search.refresh_search_vector(document)
        documents.append(document)
    grants = []
    for index, document in enumerate(documents[10:], start=10):
        if index < 50 or index >= 90:
            grants.append(Grant(document=document, user=other, permission=Permission.VIEW, granted_by=owner))
        if index >= 50:
            grants.append(Grant(document=document, group=group, permission=Permission.DOWNLOAD, granted_by=owner))
    Grant.objects.bulk_create(grants)
    # Someone else's document the caller may not see: it must never be listed or counted.
    make_document(UserFactory(), name="Quarterly secret.pdf")
    return documents


@pytest.fixture
def reader(other, api_key, library):
    return ApiCaller(api_key, token=issue_token(other).access_token)


def _warm(reader, call):
    response = call()
    assert response.status_code == 200, response.content
    return response


@pytest.mark.parametrize("limit", PAGE_SIZES)
def test_v1_list_queries_do_not_grow_with_the_page(reader, limit, django_assert_max_num_queries):
    call = lambda: reader.get("/api/v1/documents", {"limit": limit})  # noqa: E731
    _warm(reader, call)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = call()
    body = response.json()["data"]
    assert len(body["documents"]) == limit
    assert body["pagination"]["hasNext"] is True
    assert body["pagination"]["total"] == VISIBLE


@pytest.mark.parametrize("limit", PAGE_SIZES)
def test_v1_search_queries_do_not_grow_with_the_page(reader, limit, django_assert_max_num_queries):
    call = lambda: reader.post("/api/v1/documents/search", {"query": "quarterly", "limit": limit})  # noqa: E731
    _warm(reader, call)
    with django_assert_max_num_queries(SEARCH_QUERIES):
        response = call()
    body = response.json()["data"]
    assert len(body["documents"]) == limit
    assert body["pagination"]["hasNext"] is True
    assert body["searchMetadata"]["totalMatches"] == VISIBLE


@pytest.mark.parametrize("limit", PAGE_SIZES)
def test_v1_sorted_filtered_list_queries_do_not_grow(reader, limit, django_assert_max_num_queries):
    params = {"limit": limit, "sortBy": "title", "sortOrder": "asc", "type": "pdf", "search": "report"}
    call = lambda: reader.get("/api/v1/documents", params)  # noqa: E731
    _warm(reader, call)
    with django_assert_max_num_queries(SEARCH_QUERIES):
        response = call()
    assert len(response.json()["data"]["documents"]) == limit


def test_compat_family_list_is_constant_too(reader, library, django_assert_max_num_queries):
    """The add-in's list shows up to 1,000 documents of a family at once (it has no paging)."""
    Document.objects.filter(pk__in=[d.pk for d in library]).update(family=Family.WORD)
    call = lambda: reader.get("/api/dashboard/documents/word-files")  # noqa: E731
    _warm(reader, call)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = call()
    files = response.json()["data"]["files"]
    assert len(files) == VISIBLE
    assert {f["documentId"] for f in files} == {d.pk for d in library}


def test_total_past_the_lookahead_is_a_lower_bound(reader, monkeypatch):
    """Counting stops TOTAL_LOOKAHEAD matches past the page's start: total is then that bound."""
    monkeypatch.setattr(selectors, "TOTAL_LOOKAHEAD", 50)
    first = reader.get("/api/v1/documents", {"limit": 25}).json()["data"]["pagination"]
    assert (first["total"], first["totalExact"], first["totalPages"], first["hasNext"]) == (50, False, 2, True)
    third = reader.get("/api/v1/documents", {"limit": 25, "page": 3}).json()["data"]["pagination"]
    assert (third["total"], third["totalExact"]) == (100, False)  # 50 past page 3's start (offset 50)
    fourth = reader.get("/api/v1/documents", {"limit": 25, "page": 4}).json()["data"]["pagination"]
    assert (fourth["total"], fourth["totalExact"]) == (VISIBLE, True)  # offset 75 + 50 covers all 110
    past = reader.get("/api/v1/documents", {"limit": 25, "page": 9}).json()["data"]
    assert past["documents"] == []
    assert (past["pagination"]["total"], past["pagination"]["hasNext"]) == (VISIBLE, False)


def test_search_total_never_counts_what_the_caller_may_not_see(reader):
    """The other person's 'Quarterly secret' matches the words but is not the caller's to count."""
    body = reader.post("/api/v1/documents/search", {"query": "quarterly", "limit": 100}).json()["data"]
    assert body["searchMetadata"]["totalMatches"] == VISIBLE
    assert "Quarterly secret" not in {row["title"] for row in body["documents"]}


def test_permissions_in_the_page_are_each_rows_own(reader, library, other):
    """One query for the page's permissions must still give each row its own level."""
    response = reader.get("/api/v1/documents", {"limit": 100, "sortBy": "title", "sortOrder": "asc"})
    rows = {row["id"]: row["permissions"] for row in response.json()["data"]["documents"]}
    expected = {}
    for index, document in enumerate(library):
        if index < 10:
            expected[document.pk] = {"view": True, "download": True, "share": True, "manage": True}
        elif index < 50:
            expected[document.pk] = {"view": True, "download": False, "share": False, "manage": False}
        else:  # the group's download grant, alone or beside a direct view grant: the higher counts
            expected[document.pk] = {"view": True, "download": True, "share": False, "manage": False}
    assert rows == {pk: expected[pk] for pk in rows}
    assert len(rows) == 100


def test_an_expired_grant_gives_nothing_in_the_page(reader, library, other):
    document = library[20]  # directly granted view only
    Grant.objects.filter(document=document, user=other).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = reader.get("/api/v1/documents", {"limit": 100, "sortBy": "title", "sortOrder": "asc"})
    ids = {row["id"] for row in response.json()["data"]["documents"]}
    assert document.pk not in ids
    assert response.json()["data"]["pagination"]["total"] == VISIBLE - 1


def test_bulk_permissions_give_nothing_for_a_document_not_the_callers(library, other, owner):
    """A page mixing someone else's document (no grant, or a lapsed one) gives it no permission at all."""
    hidden = make_document(owner, name="Hidden.pdf")
    lapsed = library[30]
    Grant.objects.filter(document=lapsed, user=other).update(expires_at=timezone.now() - timedelta(seconds=1))
    permissions = selectors.permissions_for(other, [library[0], lapsed, hidden, library[60]])
    assert permissions[hidden.pk] == selectors.NO_PERMISSIONS
    assert permissions[lapsed.pk] == selectors.NO_PERMISSIONS
    assert permissions[library[0].pk] == selectors.OWNER_PERMISSIONS
    assert permissions[library[60].pk] == selectors.DocumentPermissions(view=True, download=True)
    assert selectors.permissions_for(None, [library[0]]) == {library[0].pk: selectors.NO_PERMISSIONS}


@pytest.mark.parametrize("plan", [selectors.VISIBLE_IDS, selectors.VISIBLE_WALK])
def test_list_and_search_stay_constant_in_either_visibility_plan(
    reader, plan, monkeypatch, django_assert_max_num_queries
):
    """Issue #16 item 2: a person who sees much is served by the "walk" plan, one who sees little
    by "ids"; either way the page is ≤ MAX_QUERIES and the same."""
    monkeypatch.setattr(selectors, "visibility_plan", lambda user: plan)
    list_call = lambda: reader.get("/api/v1/documents", {"limit": 100})  # noqa: E731
    search_call = lambda: reader.post("/api/v1/documents/search", {"query": "quarterly", "limit": 100})  # noqa: E731
    _warm(reader, list_call)
    with django_assert_max_num_queries(MAX_QUERIES):
        listed = list_call().json()["data"]
    with django_assert_max_num_queries(SEARCH_QUERIES):
        found = search_call().json()["data"]
    assert (listed["pagination"]["total"], listed["pagination"]["hasNext"]) == (VISIBLE, True)
    assert found["searchMetadata"]["totalMatches"] == VISIBLE
    assert "Quarterly secret" not in {row["title"] for row in listed["documents"] + found["documents"]}
