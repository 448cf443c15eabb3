"""The document list's grid layout (?view=grid) and the detail page's thumbnail (issue #15).

Thumbnails are drawn by documents.renditions; these tests make them with renditions.build and
check what the pages point at, and that nobody sees another person's or a confidential one.
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from documents import renditions, samples
from tests.factories import UserFactory, make_document

pytestmark = pytest.mark.django_db

LIST = reverse("documents:list")


@pytest.fixture
def owner():
    return UserFactory(name="Gina Grid")


@pytest.fixture
def other():
    return UserFactory(name="Oscar Other")


def thumbnailed(owner, name="Report.pdf", **fields):
    document = make_document(owner, name=name, **fields)
    renditions.build(version=document.current_version)
    return document


def test_the_table_is_the_default_and_the_grid_is_a_link_away(client, owner):
    make_document(owner, name="A.pdf")
    client.force_login(owner)
    content = client.get(LIST).content.decode()
    assert 'class="stack-table doc-table"' in content and "doc-grid" not in content
    assert re.search(r'href="\?"\s+aria-current="true">Table</a>', content)
    assert 'href="?view=grid">Grid</a>' in content


def test_the_grid_keeps_the_search_and_filters_and_drops_the_page_number(client, owner):
    make_document(owner, name="Alpha report.pdf")
    client.force_login(owner)
    content = client.get(LIST, {"q": "alpha", "family": "pdf", "view": "grid", "page": "1"}).content.decode()
    assert 'class="doc-grid"' in content and "doc-table" not in content
    assert 'href="?q=alpha&amp;family=pdf&amp;view=grid" aria-current="true">Grid</a>' in content
    assert 'href="?q=alpha&amp;family=pdf">Table</a>' in content
    assert '<input type="hidden" name="view" value="grid">' in content  # a new search stays a grid
    assert f'href="{LIST}?view=grid">Clear filters</a>' in content


def test_a_card_has_its_lazy_thumbnail_with_its_size_and_alt_text(client, owner):
    document = thumbnailed(owner, name="Quarterly.pdf")
    rendition = document.current_version.rendition
    rendition.refresh_from_db()
    client.force_login(owner)
    content = client.get(LIST, {"view": "grid"}).content.decode()
    src = f"{LIST}{document.pk}/thumbnail/?v={document.current_version_id}"
    assert (
        f'<img src="{src}" width="{rendition.thumbnail_width}" height="{rendition.thumbnail_height}" '
        'loading="lazy" decoding="async" alt="First page of Quarterly.pdf">'
    ) in content
    assert client.get(src).status_code == 200


def test_documents_without_a_thumbnail_show_their_type_icon(client, owner):
    make_document(owner, name="notes.txt", data=samples.text_bytes("words\n"))
    make_document(owner, name="Not drawn yet.pdf")  # its rendition never ran
    thumbnailed(owner, name="Secret.pdf", security_level="confidential")  # never shown unstamped
    client.force_login(owner)
    content = client.get(LIST, {"view": "grid"}).content.decode()
    assert content.count('class="doc-card"') == 3
    assert "<img" not in content.split('class="doc-grid"')[1]
    assert content.count('class="filetype"') >= 3


def test_the_grid_shows_only_what_the_person_may_see(client, owner, other):
    thumbnailed(owner, name="Owner only.pdf")
    client.force_login(other)
    content = client.get(LIST, {"view": "grid"}).content.decode()
    assert "Owner only" not in content and "/thumbnail/" not in content


def test_the_grid_costs_one_query_more_than_the_table(client, owner):
    for number in range(6):
        thumbnailed(owner, name=f"Doc {number}.pdf")
    client.force_login(owner)
    client.get(LIST)  # warm the session and caches
    with CaptureQueriesContext(connection) as table:
        client.get(LIST)
    with CaptureQueriesContext(connection) as grid:
        client.get(LIST, {"view": "grid"})
    assert len(grid) == len(table) + 1


def test_the_detail_page_shows_the_thumbnail_linking_to_the_open_page(client, owner):
    document = thumbnailed(owner, name="Detail thumb.pdf")
    client.force_login(owner)
    content = client.get(reverse("documents:detail", args=[document.pk])).content.decode()
    assert f'href="{reverse("documents:view", args=[document.pk])}"><img src="' in content
    assert 'alt="Open Detail thumb.pdf (its first page)"' in content


def test_the_detail_page_of_a_confidential_document_has_no_thumbnail(client, owner):
    document = thumbnailed(owner, name="Secret detail.pdf", security_level="confidential")
    client.force_login(owner)
    content = client.get(reverse("documents:detail", args=[document.pk])).content.decode()
    assert "/thumbnail/" not in content


def test_a_cards_title_link_carries_the_whole_title_as_its_text_and_tooltip(client, owner):
    title = 'A "quoted" & very long title that the grid clamps to two lines <b>not bold</b>'
    make_document(owner, name="minutes.pdf", title=title)
    client.force_login(owner)
    content = client.get(LIST, {"view": "grid"}).content.decode()
    escaped = "A &#34;quoted&#34; &amp; very long title that the grid clamps to two lines &lt;b&gt;not bold&lt;/b&gt;"
    assert f'title="{escaped}">{escaped}</a>' in content
