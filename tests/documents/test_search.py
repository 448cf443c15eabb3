"""Search as people expect it (issue #14): on whichever database the suite runs on.

CI runs this file on PostgreSQL (tsvector, docuid configuration, pg_trgm) and on SQLite
(FTS5); every behaviour below holds on both.
"""

import pytest
from django.db import connection

from documents import search
from documents.models import Document, VersionText
from documents.selectors import DocumentFilters, documents_list
from tests.documents.conftest import login
from tests.factories import make_document

pytestmark = pytest.mark.django_db


def find(user, query: str, **kwargs):
    return documents_list(user, filters=DocumentFilters(query=query), **kwargs)


def titles(user, query: str) -> set[str]:
    return {d.title for d in find(user, query).documents}


def with_text(document: Document, content: str) -> Document:
    """Store extracted text for the document's current version, as extraction does, and reindex it."""
    VersionText.objects.update_or_create(
        version_id=document.current_version_id, defaults={"status": "done", "content": content}
    )
    search.refresh_search_vector(document)
    return document


# --- every word may match any field -------------------------------------------------------


def test_each_word_may_match_a_different_field(owner):
    make_document(owner, title="Welcome pack", tags=["guide"])
    make_document(owner, title="Welcome letter")
    assert titles(owner, "welcome guide") == {"Welcome pack"}


def test_a_word_form_matches_another_form_in_the_title(owner):
    make_document(owner, title="Budget 2026")
    assert titles(owner, "budgets") == {"Budget 2026"}


def test_the_security_level_is_searchable(owner):
    make_document(owner, title="Merger plan", security_level="confidential")
    make_document(owner, title="Canteen menu", security_level="public")
    assert titles(owner, "confidential") == {"Merger plan"}


def test_the_owner_name_is_searchable(owner, other):
    from documents import services

    shared = make_document(other, title="Shared minutes")
    services.grant_add(acting_user=other, document=shared, user=owner, permission="view", notify=False)
    make_document(owner, title="My minutes")
    assert titles(owner, "oscar minutes") == {"Shared minutes"}


def test_accents_are_ignored_in_documents_and_queries(owner):
    make_document(owner, title="Café résumé")
    assert titles(owner, "cafe resume") == {"Café résumé"}
    assert titles(owner, "résumés") == {"Café résumé"}


def test_a_word_only_inside_the_file_is_found(owner):
    with_text(make_document(owner, title="Lease"), "The tenant shall repaint the balcony every decade.")
    make_document(owner, title="Other lease")
    assert titles(owner, "balcony") == {"Lease"}


def test_text_that_failed_extraction_is_not_searched(owner):
    document = make_document(owner, title="Scan")
    VersionText.objects.update_or_create(
        version_id=document.current_version_id, defaults={"status": "failed", "content": "zeppelin"}
    )
    search.refresh_search_vector(document)
    assert titles(owner, "zeppelin") == set()


# --- websearch syntax -------------------------------------------------------------------------


def test_a_quoted_phrase_needs_its_words_in_order(owner):
    with_text(make_document(owner, title="A"), "payment terms are net thirty days")
    with_text(make_document(owner, title="B"), "terms of payment: thirty days net")
    assert titles(owner, '"payment terms"') == {"A"}


def test_a_minus_word_excludes_documents_containing_it(owner):
    make_document(owner, title="Invoice March")
    make_document(owner, title="Invoice April draft")
    assert titles(owner, "invoice -draft") == {"Invoice March"}


def test_only_excluded_words_keep_everything_else(owner):
    make_document(owner, title="Invoice March")
    make_document(owner, title="Invoice April draft")
    assert titles(owner, "-draft") == {"Invoice March"}


def test_or_matches_either_word(owner):
    make_document(owner, title="Invoice March")
    make_document(owner, title="Receipt April")
    make_document(owner, title="Contract May")
    assert titles(owner, "invoice OR receipt") == {"Invoice March", "Receipt April"}


def test_the_last_word_matches_as_a_prefix_while_typing(owner):
    make_document(owner, title="Quarterly report")
    assert titles(owner, "quart") == {"Quarterly report"}
    assert titles(owner, "report quart") == {"Quarterly report"}


def test_only_the_last_word_is_a_prefix(owner):
    make_document(owner, title="Quarterly report")
    assert titles(owner, "quart report") == set()


def test_a_title_match_ranks_above_a_content_match(owner):
    with_text(make_document(owner, title="Minutes"), "we discussed the invoice backlog at length")
    make_document(owner, title="Invoice March")
    assert [d.title for d in find(owner, "invoice").documents] == ["Invoice March", "Minutes"]


def test_words_close_together_rank_above_words_far_apart(owner):
    filler = " ".join(["lorem"] * 300)
    with_text(make_document(owner, title="Far"), f"renewal {filler} clause")
    with_text(make_document(owner, title="Near"), f"renewal clause {filler}")
    assert [d.title for d in find(owner, "renewal clause").documents] == ["Near", "Far"]


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "-",
        "OR",
        "OR OR",
        "'",
        ":*",
        "a & b | !c",
        "(",
        ")",
        "NEAR(",
        "*",
        "\\",
        "x:*A",
        '-""',
        "🙂",
        "é" * 150,
        "the",
        "a OR",
        'AND "x',
        "col:title",
        "^start",
        "1.5e3",
        "'; DROP TABLE x; --",
    ],
)
def test_any_query_text_is_safe(owner, query):
    make_document(owner, title="Something")
    page = find(owner, query, with_total=True)
    assert page.total is not None


def test_the_query_parser_reads_websearch_syntax():
    parsed = search.parse_query('budget "net thirty" -draft invoice OR receipt quart')
    assert parsed.groups == (
        (search.Term(("budget",)),),
        (search.Term(("net", "thirty")),),
        (search.Term(("invoice",)), search.Term(("receipt",))),
        (search.Term(("quart",), prefix=True),),
    )
    assert parsed.excluded == (search.Term(("draft",)),)


# --- snippets -----------------------------------------------------------------------------


def test_results_carry_a_highlighted_snippet_of_the_matching_passage(owner):
    document = with_text(make_document(owner, title="Lease"), "Clause 7. The tenant shall repaint the balcony.")
    page = find(owner, "balcony")
    highlight = page.highlights[document.pk]
    assert highlight["field"] == "content"
    assert "<mark>balcony</mark>" in highlight["snippet"]


def test_a_snippet_never_injects_markup_from_the_document(owner):
    document = with_text(
        make_document(owner, title="Hostile"),
        'invoice <script>alert(1)</script> <img src=x onerror="alert(2)"> invoice',
    )
    snippet = find(owner, "invoice").highlights[document.pk]["snippet"]
    # SQLite shows the tags as text (escaped); PostgreSQL's ts_headline drops them: neither runs them.
    assert "<script" not in snippet and "<img" not in snippet
    assert snippet.replace("<mark>", "").replace("</mark>", "").count("<") == 0


def test_marker_characters_in_a_document_cannot_forge_a_highlight(owner):
    forged = f"{search.START}<b>forged</b>{search.STOP} then the invoice"
    document = with_text(make_document(owner, title="Forger"), forged)
    snippet = find(owner, "invoice").highlights[document.pk]["snippet"]
    assert snippet.count("<mark>") == 1 and "<mark>invoice</mark>" in snippet
    assert "<b>" not in snippet and search.START not in snippet


def test_mark_escapes_the_whole_snippet_before_adding_marks():
    snippet = f"<b>Tom & {search.START}Jerry{search.STOP}</b>"
    assert search.mark(snippet) == "&lt;b&gt;Tom &amp; <mark>Jerry</mark>&lt;/b&gt;"
    assert search.mark("no match here") == ""


def test_a_description_match_gets_a_description_snippet(owner):
    document = make_document(owner, title="Minutes", description="we agreed the <b>budget</b> for spring")
    highlight = find(owner, "spring").highlights[document.pk]
    assert highlight["field"] == "description"
    assert "<mark>spring</mark>" in highlight["snippet"] and "<b>" not in highlight["snippet"]


# --- did you mean -------------------------------------------------------------------------


def test_a_misspelt_query_that_finds_nothing_suggests_a_word_one_can_see(owner):
    make_document(owner, title="Budget 2026", tags=["finance"])
    page = find(owner, "finnace")
    assert page.documents == [] and page.did_you_mean == "finance"


def test_no_suggestion_when_something_matches(owner):
    make_document(owner, title="Budget 2026")
    assert find(owner, "budget").did_you_mean is None


# --- access control -------------------------------------------------------------------------


def test_a_document_one_may_not_see_never_appears_nor_counts(owner, other):
    with_text(make_document(other, title="Secret merger", tags=["merger"]), "merger terms with Acme")
    mine = make_document(owner, title="Merger rumours")
    page = find(owner, "merger", with_total=True)
    assert page.documents == [mine] and page.total == 1
    assert set(page.highlights) <= {mine.pk}


def test_a_document_one_may_not_see_never_feeds_did_you_mean(owner, other):
    make_document(other, title="Zanzibar acquisition")
    make_document(owner, title="Canteen menu")
    page = find(owner, "zanzibr")
    assert page.documents == [] and page.did_you_mean is None
    assert find(other, "zanzibr").did_you_mean == "zanzibar"


def test_a_deleted_document_leaves_the_index(owner):
    from documents import services

    document = make_document(owner, title="Ephemeral note")
    pk = document.pk
    services.document_delete(acting_user=owner, document=document)
    assert titles(owner, "ephemeral") == set()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {search.FTS_TABLE} WHERE rowid = %s", [pk])
            assert cursor.fetchone()[0] == 0


def test_postgres_ranks_the_newest_matches_and_lists_the_rest_after_them(postgres, owner, monkeypatch):
    monkeypatch.setattr(search, "RANK_CANDIDATES", 2)
    oldest = make_document(owner, title="Invoice")  # the best match, but outside the ranked newest two
    middle = with_text(make_document(owner, title="Minutes"), "invoice")
    newest = make_document(owner, title="Notes", description="invoice")
    page = find(owner, "invoice", with_total=True)
    assert page.documents == [newest, middle, oldest] and page.total == 3


# --- cost -----------------------------------------------------------------------------------


def test_a_search_page_costs_a_fixed_number_of_queries(owner, django_assert_max_num_queries):
    for i in range(25):
        with_text(make_document(owner, title=f"Invoice {i}", tags=["a", f"t{i}"]), f"invoice number {i} paid")
    # PostgreSQL: the planner settings (planner_settings), the page's rows with their tags, their snippets;
    # SQLite: the rows, their tags, their snippets. The first page also counts what the person may see
    # (selectors: the estimate that picks a plan, then cached for minutes): not every page's cost.
    find(owner, "invoice", per_page=20)
    with django_assert_max_num_queries(3):
        page = find(owner, "invoice", per_page=20)
        rows = [(d.title, d.owner.name, [t.name for t in d.tags.all()], page.highlights[d.pk]) for d in page.documents]
    assert len(rows) == 20


# --- the web list and the API --------------------------------------------------------------


def test_the_list_page_shows_snippets_under_results(client, owner):
    with_text(make_document(owner, title="Lease"), "the tenant repaints the balcony & the <i>door</i>")
    login(client, owner)
    html = client.get("/documents/", {"q": "balcony"}).content.decode()
    assert "<mark>balcony</mark>" in html and "<i>door" not in html


def test_the_list_page_offers_did_you_mean(client, owner):
    make_document(owner, title="Budget", tags=["finance"])
    login(client, owner)
    html = client.get("/documents/", {"q": "finnace"}).content.decode()
    assert "Did you mean" in html and "?q=finance" in html
