"""The document list as a person meets it: empty states, filters, paging past the end, rows for phones."""

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from documents import rendering, samples
from documents.models import Document
from tests.documents.conftest import login
from tests.factories import make_document

pytestmark = pytest.mark.django_db

LIST = reverse("documents:list")


def text_of(response) -> str:
    return response.content.decode()


def test_an_empty_library_says_so_and_offers_an_upload(client, owner):
    login(client, owner)
    page = text_of(client.get(LIST))
    assert "No documents here yet" in page
    assert f'href="{reverse("documents:upload")}">Upload a document</a>' in page
    assert "No documents match these filters" not in page


def test_a_filter_matching_nothing_says_so_and_offers_to_clear_the_filters(client, owner, document):
    login(client, owner)
    page = text_of(client.get(LIST, {"q": "holiday", "family": "image"}))
    assert "No documents match these filters" in page
    assert f'<a class="button" href="{LIST}">Clear filters</a>' in page
    assert "No documents here yet" not in page


def test_a_sort_alone_is_not_a_filter_that_hides_the_empty_library(client, owner):
    login(client, owner)
    page = text_of(client.get(LIST, {"sort": "title"}))
    assert "No documents here yet" in page


def test_the_filter_panel_has_an_apply_button_and_stays_open_while_filters_apply(client, owner, document):
    login(client, owner)
    page = text_of(client.get(LIST, {"category": "Reports"}))
    panel = re.search(r'<details class="doc-filter-panel"([^>]*)>(.*?)</details>', page, re.S)
    assert panel and "open" in panel.group(1)
    assert '<button type="submit">Apply filters</button>' in panel.group(2)
    assert "Quarterly report.pdf" in page


def test_a_reversed_date_range_is_an_error_on_the_form_not_an_empty_result(client, owner, document):
    login(client, owner)
    response = client.get(LIST, {"modified_from": "2026-12-31", "modified_to": "2026-01-01"})
    page = text_of(response)
    assert response.status_code == 200
    summary = re.search(r'<div class="form-errors" role="alert"[^>]*>(.*?)</div>', page, re.S)
    assert summary, "the errors are summarised at the top of the form"
    assert "must be on or after" in summary.group(1) and 'href="#id_modified_to"' in summary.group(1)
    assert 'id="id_modified_to" value="2026-01-01" aria-invalid="true"' in page  # kept for fixing, marked invalid
    assert "Quarterly report.pdf" in page  # the range is not applied, so this is not a silent empty result
    assert "No documents match these filters" not in page


def test_every_error_of_the_filter_form_is_listed_at_once(client, owner, document):
    login(client, owner)
    page = text_of(client.get(LIST, {"family": "spreadsheet-ish", "level": "top-secret", "modified_from": "soon"}))
    summary = re.search(r'<div class="form-errors" role="alert"[^>]*>(.*?)</div>', page, re.S).group(1)
    assert "3 filters need fixing" in summary
    assert all(f'href="#id_{field}"' in summary for field in ("family", "level", "modified_from"))


def test_a_bad_page_number_falls_back_to_the_first_page_without_an_error(client, owner, document):
    login(client, owner)
    page = text_of(client.get(LIST, {"page": "x", "per_page": "100000"}))
    assert "Quarterly report.pdf" in page and "form-errors" not in page


def test_a_page_past_the_end_shows_the_last_page_with_a_way_back(client, owner):
    for i in range(5):
        make_document(owner, name=f"Note {i}.txt", data=f"{i}\n".encode())
    login(client, owner)
    page = text_of(client.get(LIST, {"per_page": 2, "page": 9}))
    assert "There is no page 9; this is page 3, the last." in page
    assert page.count('<td data-label="Title"') == 1
    assert 'href="?per_page=2">Back to page 1</a>' in page
    assert "No documents here yet" not in page
    assert 'rel="prev"' in page


def test_a_page_past_the_end_of_a_single_page_shows_that_page(client, owner, document):
    login(client, owner)
    page = text_of(client.get(LIST, {"page": 2}))
    assert "There is no page 2; this is page 1, the last." in page
    assert "Quarterly report.pdf" in page and "No documents here yet" not in page


def test_a_page_past_the_end_costs_a_bounded_number_of_queries(client, owner, django_assert_max_num_queries):
    for i in range(5):
        make_document(owner, name=f"Note {i}.txt", data=f"{i}\n".encode())
    login(client, owner)
    # the usual 8 (see test_views), plus the count with page 1, and the last page's rows and tags: a rare path
    with django_assert_max_num_queries(12):
        assert client.get(LIST, {"per_page": 2, "page": 50}).status_code == 200


def test_every_cell_of_the_list_carries_its_label_for_the_stacked_cards(client, owner, document):
    login(client, owner)
    page = text_of(client.get(LIST))
    assert '<table class="stack-table doc-table">' in page
    cells = re.findall(r"<td( [^>]*)?>", page)
    assert len(cells) == 5
    assert [re.search(r'data-label="([^"]+)"', cell).group(1) for cell in cells] == [
        "Title",
        "Type",
        "Size",
        "Modified",
        "Owner",
    ]


def test_rows_draw_the_file_type_icon_of_each_family(client, owner):
    make_document(owner, name="Logo.png", data=samples.png_bytes())
    make_document(owner, name="Budget.xlsx", data=samples.xlsx_bytes())
    make_document(owner, name="Plan.pdf")
    login(client, owner)
    page = text_of(client.get(LIST))
    icons = re.findall(r'<span class="filetype" data-type="(\w+)" aria-hidden="true"></span>', page)
    assert sorted(icons) == ["image", "pdf", "sheet"]


def test_sizes_and_times_never_split_inside_a_word(client, owner):
    make_document(owner, name="Tiny.txt", data=b"x" * 99)
    Document.objects.update(updated_at=datetime(2026, 12, 6, 9, 40, tzinfo=UTC))
    login(client, owner)
    page = text_of(client.get(LIST))
    assert '<td data-label="Size" class="num">99\xa0bytes</td>' in page  # a no-break space, never "99 b ytes"
    assert '<time datetime="2026-12-06T09:40:00+00:00" data-local>6 Dec 2026, 09:40 UTC</time>' in page


def test_the_history_rows_are_labelled_and_print_times_in_utc(owner, document):
    event = AuditEvent.objects.filter(target_id=str(document.pk)).first() or AuditEvent.objects.first()
    event.time = datetime(2026, 12, 6, 9, 40, 5, tzinfo=UTC)
    html = rendering.history_rows([event])
    assert (
        '<td data-label="When"><time datetime="2026-12-06T09:40:05+00:00" data-local>6 Dec 2026, 09:40:05 UTC</time>'
        in html
    )
    assert all(f'data-label="{label}"' in html for label in ("What", "Who", "Outcome"))
    assert rendering.history_rows([]) == ""


def test_the_list_page_loads_the_local_time_script_and_no_inline_script_or_style(client, owner, document):
    login(client, owner)
    page = text_of(client.get(LIST))
    assert '<script src="/static/js/localtime.js" defer></script>' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert " style=" not in page and "<style" not in page
