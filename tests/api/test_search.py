"""POST /api/v1/documents/search and GET /api/v1/documents?search=: full-text search (issue #14)."""

from documents import search
from documents.models import VersionText
from tests.factories import make_document


def with_text(document, content: str):
    VersionText.objects.update_or_create(
        version_id=document.current_version_id, defaults={"status": "done", "content": content}
    )
    search.refresh_search_vector(document)
    return document


def post_search(caller, query: str, **body):
    response = caller.post("/api/v1/documents/search", {"query": query, **body})
    assert response.status_code == 200, response.content
    return response.json()["data"]


def test_each_result_carries_its_highlighted_passage(owner_caller, owner):
    lease = with_text(make_document(owner, name="Lease.pdf"), "The tenant shall repaint the balcony <b>yearly</b>.")
    data = post_search(owner_caller, "balcony")
    [result] = data["documents"]
    assert result["id"] == lease.pk
    [highlight] = result["highlights"]
    assert highlight["field"] == "content" and "<mark>balcony</mark>" in highlight["snippet"]
    assert "<b>" not in highlight["snippet"]


def test_search_metadata_reports_the_query_total_sort_time_and_no_suggestion(owner_caller, owner):
    make_document(owner, name="Budget 2026.pdf")
    meta = post_search(owner_caller, "budgets")["searchMetadata"]
    assert meta["query"] == "budgets" and meta["totalResults"] == meta["totalMatches"] == 1
    assert meta["sortBy"] == "relevance" and isinstance(meta["took"], float) and meta["didYouMean"] is None


def test_a_misspelt_search_gets_did_you_mean(owner_caller, owner):
    make_document(owner, name="Budget.pdf", tags=["finance"])
    data = post_search(owner_caller, "finnace")
    assert data["documents"] == [] and data["searchMetadata"]["didYouMean"] == "finance"


def test_documents_of_others_never_count_nor_suggest(owner_caller, other):
    with_text(make_document(other, name="Zanzibar merger.pdf"), "zanzibar merger terms")
    found = post_search(owner_caller, "zanzibar")
    assert found["documents"] == [] and found["searchMetadata"]["totalResults"] == 0
    assert found["pagination"]["total"] == 0
    assert post_search(owner_caller, "zanzibr")["searchMetadata"]["didYouMean"] is None


def test_websearch_syntax_reaches_the_api(owner_caller, owner):
    make_document(owner, name="Invoice March.pdf")
    make_document(owner, name="Invoice April draft.pdf")
    data = post_search(owner_caller, "invoice -draft")
    assert [d["title"] for d in data["documents"]] == ["Invoice March.pdf"]


def test_a_hostile_query_is_answered_not_a_500(owner_caller, owner):
    make_document(owner, name="Something.pdf")
    for query in ['"', "-", "OR", "a & b | !c", ":*", "NEAR(", "'; DROP TABLE x; --", "\\"]:
        post_search(owner_caller, query)


def test_the_addin_list_searches_the_same_way_with_highlights(owner_caller, owner):
    lease = with_text(make_document(owner, name="Lease.pdf"), "The tenant shall repaint the balcony.")
    response = owner_caller.get("/api/v1/documents", {"search": "balc"})
    assert response.status_code == 200
    [result] = response.json()["data"]["documents"]
    assert result["id"] == lease.pk and "<mark>balcony</mark>" in result["highlights"][0]["snippet"]
