"""Fast search at 100,000 documents (issue #14).

- `Document.search_rank`: the weighted fields and only the first passage of the text.
  Ranking reads it instead of `search_vector` (which holds up to 300,000 characters of
  text and is TOASTed), so ranking a match costs the same whatever the file's size.
- `SearchWord`: one row per distinct word (trigram GIN on PostgreSQL), the vocabulary of
  "Did you mean". It replaces `SearchTerm` (a row per word per document), which made a
  suggestion read the vocabulary of every document a person may see.

The backfill runs the same statement as documents.search.reindex_documents at the time of
writing (frozen here), in batches of ids; on SQLite the vocabulary is carried over from
SearchTerm (the FTS5 table is unchanged).
"""

from django.contrib.postgres.search import SearchVectorField
from django.db import migrations, models

BATCH = 1000
SEPARATORS = r"$r$[^\w\s'-]|_$r$"
PG_REINDEX = f"""
WITH source AS (
    SELECT d.id,
        regexp_replace(d.title, {SEPARATORS}, ' ', 'g') AS title,
        regexp_replace(concat_ws(' ', (SELECT string_agg(t.name, ' ') FROM documents_document_tags dt
            JOIN documents_tag t ON t.id = dt.tag_id WHERE dt.document_id = d.id), d.category, d.security_level),
            {SEPARATORS}, ' ', 'g') AS meta,
        regexp_replace(concat_ws(' ', d.description, u.name), {SEPARATORS}, ' ', 'g') AS body,
        regexp_replace(left(coalesce(vt.content, ''), 300000), {SEPARATORS}, ' ', 'g') AS content
    FROM documents_document d
    JOIN accounts_user u ON u.id = d.owner_id
    LEFT JOIN documents_versiontext vt ON vt.version_id = d.current_version_id AND vt.status = 'done'
    WHERE d.id BETWEEN %(first)s AND %(last)s
), fields AS (
    SELECT id, content,
        setweight(to_tsvector('docuid', title), 'A') || setweight(to_tsvector('docuid', meta), 'B')
        || setweight(to_tsvector('docuid', body), 'C') AS head,
        title || ' ' || meta || ' ' || body || ' ' || left(content, 10000) AS words
    FROM source
), vocabulary AS (
    INSERT INTO documents_searchword (word)
    SELECT DISTINCT lexeme FROM fields, unnest(to_tsvector('simple', docuid_unaccent(fields.words)))
    WHERE lexeme ~ '^[[:alpha:]]{{3,40}}$'
    ON CONFLICT (word) DO NOTHING
)
UPDATE documents_document d
SET search_vector = fields.head || setweight(to_tsvector('docuid', fields.content), 'D'),
    search_rank = fields.head || setweight(to_tsvector('docuid', left(fields.content, 2000)), 'D')
FROM fields WHERE d.id = fields.id
"""  # noqa: S608 — constants only; the ids are bound


def backfill(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE INDEX IF NOT EXISTS searchword_word_trgm ON documents_searchword USING gin (word gin_trgm_ops)"
            )
            cursor.execute("SELECT coalesce(max(id), 0) FROM documents_document")
            last = cursor.fetchone()[0]
            for first in range(0, last + 1, BATCH):
                cursor.execute(PG_REINDEX, {"first": first, "last": first + BATCH - 1})
        else:
            cursor.execute(
                "INSERT OR IGNORE INTO documents_searchword (word) SELECT DISTINCT term FROM documents_searchterm"
                " WHERE length(term) <= 40"
            )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS searchword_word_trgm")


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0006_search"),
    ]

    operations = [
        migrations.AddField(
            model_name="document",
            name="search_rank",
            field=SearchVectorField(editable=False, null=True),
        ),
        migrations.CreateModel(
            name="SearchWord",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("word", models.CharField(max_length=40, unique=True)),
            ],
        ),
        migrations.RunPython(backfill, drop_trigram_index, elidable=False),
        migrations.DeleteModel(name="SearchTerm"),
    ]
