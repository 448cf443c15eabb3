"""Attacks on the v1 API's paging (issue #16): hostile page/limit values, and totals that count what the caller cannot see.

The list and search answer a capped `total` computed by a raw SQL count of the visible ids
(documents.selectors, a separate form of the grant rule for speed). Here a reader who sees
a few of many documents asks every way: unfiltered (the raw count), filtered, searched,
past the end; each total must be exactly what they may see, never the archive's size or
the documents behind an expired grant, a removed grant or a grant made by a sharer whose
account was deactivated. Hostile values for page and limit get the 400 envelope, never a
500 or a silently huge page.
"""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from documents import services
from documents.models import Grant, Permission
from tests.documents.test_watermark import api_get
from tests.factories import UserFactory, make_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(owner):
    """`reader` may see 2 of the owner's 9 documents, and owns 1: 3 visible."""
    reader = UserFactory(name="Rita Reader", phone_number="+13125550311", email="rita@example.org")
    sharer = UserFactory(name="Sam Sharer", phone_number="+13125550312", email="sam@example.org")
    docs = [make_document(owner, name=f"Budget {n}.pdf") for n in range(9)]
    services.grant_add(acting_user=owner, document=docs[0], user=reader, permission=Permission.VIEW)
    services.grant_add(acting_user=owner, document=docs[1], user=reader, permission=Permission.DOWNLOAD)
    # Expired grant: invisible.
    services.grant_add(
        acting_user=owner,
        document=docs[2],
        user=reader,
        permission=Permission.VIEW,
        expires_at=timezone.now() + timedelta(seconds=30),
    )
    Grant.objects.filter(document=docs[2], user=reader).update(expires_at=timezone.now() - timedelta(seconds=1))
    # Removed grant: invisible.
    services.grant_add(acting_user=owner, document=docs[3], user=reader, permission=Permission.VIEW)
    Grant.objects.filter(document=docs[3], user=reader).delete()
    # docs[4] and docs[5]: given by a sharer whose account is then deactivated: invisible.
    services.grant_add(acting_user=owner, document=docs[4], user=sharer, permission=Permission.SHARE)
    services.grant_add(acting_user=sharer, document=docs[4], user=reader, permission=Permission.VIEW)
    services.grant_add(acting_user=owner, document=docs[5], user=sharer, permission=Permission.SHARE)
    services.grant_add(acting_user=sharer, document=docs[5], user=reader, permission=Permission.VIEW)
    type(sharer).objects.filter(pk=sharer.pk).update(is_active=False)
    make_document(reader, name="Budget mine.pdf")
    return reader


def _sharer_kept(world):
    # docs[5]'s sharer is the same deactivated person, so docs[5] goes too: docs 0, 1 and the reader's own.
    return 3


def _pagination(response) -> dict:
    assert response.status_code == 200, response.content[:500]
    return response.json()["data"]["pagination"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"limit": 1},
        {"limit": 2, "page": 2},
        {"page": 50},  # past the end: the count is asked on its own
        {"search": "Budget"},
        {"type": "pdf"},
        {"sortBy": "title", "sortOrder": "asc"},
    ],
    ids=["unfiltered", "limit1", "page2", "past-the-end", "search", "type", "sorted"],
)
def test_the_list_total_counts_only_what_the_caller_may_see(world, params):
    visible = _sharer_kept(world)
    pagination = _pagination(api_get(world, "/api/v1/documents", params))
    assert pagination["total"] == visible and pagination["totalExact"] is True
    assert pagination["totalPages"] == -(-visible // pagination["limit"])


@pytest.mark.parametrize("body", [{}, {"query": "Budget"}, {"query": "Budget", "page": 9}])
def test_the_search_total_counts_only_what_the_caller_may_see(world, body):
    from accounts.context import ClientContext
    from accounts.services.api_tokens import api_client_create, api_token_issue

    _, key = api_client_create(name="Add-in paging")
    token = api_token_issue(user=world, client=None, client_context=ClientContext(), method="test").access_token
    response = Client().post(
        "/api/v1/documents/search",
        body,
        content_type="application/json",
        headers={"x-api-key": key, "Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.content[:500]
    data = response.json()["data"]
    assert data["pagination"]["total"] == _sharer_kept(world)
    assert data["searchMetadata"]["totalResults"] == data["searchMetadata"]["totalMatches"] == _sharer_kept(world)


@pytest.mark.parametrize(
    "params",
    [
        {"page": "-1"},
        {"page": "0"},
        {"page": "abc"},
        {"page": "1e3"},
        {"page": "1.5"},
        {"page": "100001"},
        {"page": "9" * 40},
        {"page": "NaN"},
        {"page": "Infinity"},
        {"page": "0x10"},
        {"limit": "0"},
        {"limit": "-5"},
        {"limit": "101"},
        {"limit": "9" * 40},
        {"limit": ""},
        {"limit": "\x00"},
    ],
)
def test_hostile_paging_values_get_the_400_envelope(world, params):
    response = api_get(world, "/api/v1/documents", params)
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["success"] is False and body["error"] and "Traceback" not in response.content.decode()


def test_a_repeated_page_parameter_is_not_a_crash(world):
    response = api_get(world, "/api/v1/documents?page=1&page=2&limit=1&limit=500")
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert response.json()["data"]["pagination"]["limit"] <= 100
