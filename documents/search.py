"""The stored full-text search vector of a document (PostgreSQL; SQLite searches by substring).

Title weighs most, then category and tags, then the description. The vector is
stored in a GIN-indexed column (migration 0002) and refreshed by the services
that change those fields, so a search never computes vectors row by row.
"""

from django.contrib.postgres.search import SearchVector
from django.db import connection
from django.db.models import Value

from documents.models import Document

SEARCH_CONFIG = "english"


def search_vector_expression(tags_text):
    return (
        SearchVector("title", weight="A", config=SEARCH_CONFIG)
        + SearchVector("category", Value(tags_text), weight="B", config=SEARCH_CONFIG)
        + SearchVector("description", weight="C", config=SEARCH_CONFIG)
    )


def refresh_search_vector(document: Document) -> None:
    if connection.vendor != "postgresql":
        return
    tags_text = " ".join(document.tags.values_list("name", flat=True))
    Document.objects.filter(pk=document.pk).update(search_vector=search_vector_expression(tags_text))
