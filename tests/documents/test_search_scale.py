"""Search that stays fast at 100,000 documents (issue #14) keeps behaving as people expect.

Ranking reads a small vector (fields and the text's first passage) and "Did you mean"
draws candidates from one global vocabulary: these tests pin what those shortcuts must
never change (a word deep inside a file is still found; a suggestion never comes from a
document one may not see), on PostgreSQL and SQLite alike unless marked.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from documents import search, services
from documents.models import Document, Grant, SearchWord
from documents.selectors import DocumentFilters, documents_list, documents_visible_to
from tests.documents.test_search import find, titles, with_text
from tests.factories import make_document

pytestmark = pytest.mark.django_db

FILLER = " ".join(["lorem"] * (search.PASSAGE_CHARS // 6 + 50))  # pushes what follows past the first passage


# --- ranking by the first passage -----------------------------------------------------------------


def test_a_word_beyond_the_first_passage_is_still_found(owner):
    with_text(make_document(owner, title="Annual report"), f"{FILLER} the zeppelin hangar lease")
    assert titles(owner, "zeppelin") == {"Annual report"}
    assert titles(owner, '"zeppelin hangar"') == {"Annual report"}


def test_a_word_in_the_first_passage_ranks_above_one_deep_inside(owner):
    deep = with_text(make_document(owner, title="Deep"), f"{FILLER} zeppelin")
    early = with_text(make_document(owner, title="Early"), f"zeppelin {FILLER}")
    older_title = make_document(owner, title="Zeppelin")
    Document.objects.filter(pk=older_title.pk).update(updated_at=timezone.now() - timedelta(days=30))
    assert find(owner, "zeppelin").documents == [older_title, early, deep]


def test_postgres_ranks_by_the_small_vector(postgres, owner):
    document = with_text(make_document(owner, title="Minutes", tags=["board"]), f"opening words {FILLER} closing")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT search_rank::text, search_vector::text, pg_column_size(search_rank) < pg_column_size(search_vector)"
            " FROM documents_document WHERE id = %s",
            [document.pk],
        )
        rank_vector, full_vector, smaller = cursor.fetchone()
    assert "'minut':1A" in rank_vector and "'board'" in rank_vector and "'open'" in rank_vector
    assert "'close'" not in rank_vector and "'close'" in full_vector and smaller


def test_postgres_reindex_documents_rebuilds_a_range(postgres, owner):
    first = make_document(owner, title="First")
    second = make_document(owner, title="Second")
    Document.objects.filter(pk__in=[first.pk, second.pk]).update(search_vector=None, search_rank=None)
    search.reindex_documents(first.pk, second.pk)
    assert titles(owner, "first") == {"First"} and titles(owner, "second") == {"Second"}
    assert not Document.objects.filter(pk__in=[first.pk, second.pk], search_rank__isnull=True).exists()


# --- did you mean, from one vocabulary ----------------------------------------------------------


def test_did_you_mean_knows_words_inside_the_file(owner):
    with_text(make_document(owner, title="Travel"), "we flew over Zanzibar at dawn")
    page = find(owner, "zanzibr")
    assert page.documents == [] and page.did_you_mean == "zanzibar"


def test_the_vocabulary_holds_each_word_once(owner, other):
    make_document(owner, title="Quarterly figures")
    make_document(other, title="Quarterly plans")
    assert SearchWord.objects.filter(word="quarterly").count() == 1


def test_a_word_inside_a_file_one_may_not_see_is_never_suggested(owner, other):
    with_text(make_document(other, title="Acquisition"), "code name Zanzibar, strictly confidential")
    make_document(owner, title="Canteen menu")
    assert SearchWord.objects.filter(word="zanzibar").exists()  # in the shared vocabulary…
    assert find(owner, "zanzibr").did_you_mean is None  # …but never offered to someone who cannot see it
    assert find(other, "zanzibr").did_you_mean == "zanzibar"


def test_an_expired_grant_stops_its_documents_words_being_suggested(owner, other):
    document = make_document(other, title="Zanzibar acquisition")
    services.grant_add(acting_user=other, document=document, user=owner, permission="view", notify=False)
    assert find(owner, "zanzibr").did_you_mean == "zanzibar"
    Grant.objects.filter(document=document).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert find(owner, "zanzibr").did_you_mean is None


def test_a_deleted_documents_words_are_no_longer_suggested(owner):
    document = make_document(owner, title="Zanzibar trip")
    assert find(owner, "zanzibr").did_you_mean == "zanzibar"
    services.document_delete(acting_user=owner, document=document)
    assert find(owner, "zanzibr").did_you_mean is None


def test_the_closest_visible_word_wins(owner, other):
    make_document(other, title="Budgets")  # not visible to owner
    make_document(owner, title="Budget forecast")
    assert find(owner, "budgte forcast").did_you_mean == "budget forecast"


@pytest.mark.parametrize(
    "query", ["zanzibr'; DROP TABLE documents_searchword; --", "zan%zibr", "zan_zibr", '"zanzibr"']
)
def test_a_hostile_misspelling_is_only_ever_a_value(owner, query):
    make_document(owner, title="Zanzibar trip")
    page = find(owner, query)
    assert page.documents == []
    assert SearchWord.objects.filter(word="zanzibar").exists()


def test_did_you_mean_costs_one_query_on_postgres(postgres, owner, django_assert_num_queries):
    """One query for every word (plus search.planner_settings' SET LOCAL)."""
    for i in range(30):
        make_document(owner, title=f"Zanzibar {i}")
    visible = documents_visible_to(owner).values("pk")
    parsed = search.parse_query("zanzibr forcast")
    with django_assert_num_queries(2):
        assert search.suggestion("zanzibr forcast", parsed, visible) == "zanzibar forcast"


def test_did_you_mean_only_on_the_first_page(owner):
    make_document(owner, title="Zanzibar trip")
    page = documents_list(owner, filters=DocumentFilters(query="zanzibr"), page=2)
    assert page.documents == [] and page.did_you_mean is None


# --- bounded phrase checks (PostgreSQL) --------------------------------------------------------


def test_postgres_checks_a_phrase_in_the_newest_documents_holding_its_words(postgres, owner, monkeypatch):
    monkeypatch.setattr(search, "PHRASE_CANDIDATES", 2)
    oldest = with_text(make_document(owner, title="Oldest"), "net payment terms apply")
    middle = with_text(make_document(owner, title="Middle"), "terms of payment apply")
    newest = with_text(make_document(owner, title="Newest"), "payment terms: thirty days")
    for age, document in enumerate([newest, middle, oldest]):
        Document.objects.filter(pk=document.pk).update(updated_at=timezone.now() - timedelta(days=age))
    # The newest two holding both words are checked for the phrase: only "Newest" has it in order.
    assert find(owner, '"payment terms"').documents == [newest]
    monkeypatch.setattr(search, "PHRASE_CANDIDATES", 500)
    assert set(find(owner, '"payment terms"').documents) == {newest, oldest}


def test_a_phrase_with_exclusions_and_alternatives_stays_exact(owner):
    with_text(make_document(owner, title="A"), "payment terms net thirty")
    with_text(make_document(owner, title="B"), "payment terms draft")
    with_text(make_document(owner, title="C"), "terms of payment")
    with_text(make_document(owner, title="D"), "lease renewal")
    assert titles(owner, '"payment terms" -draft') == {"A"}
    assert titles(owner, '"payment terms" OR "lease renewal"') == {"A", "B", "D"}
    assert titles(owner, 'payment -"payment terms"') == {"C"}


def test_postgres_search_plans_with_bitmap_scans_only(postgres):
    with search.planner_settings(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('enable_seqscan'), current_setting('enable_indexscan')")
        assert cursor.fetchone() == ("off", "off")


def test_planner_settings_do_nothing_when_not_searching(db):
    with search.planner_settings(False), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT current_setting('enable_seqscan')")
            assert cursor.fetchone() == ("on",)
