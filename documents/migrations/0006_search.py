"""Search that behaves as people expect (issue #14).

PostgreSQL: the unaccent and pg_trgm extensions, an immutable unaccent wrapper, the
`docuid` text search configuration (english stemming after unaccent), a trigram index
on the "Did you mean" vocabulary, and every stored vector rebuilt with the new fields.
SQLite: an FTS5 table (one row per document, rowid = document id) kept by
documents.search, emptied of a document by a trigger when the document is deleted.
"""

import re
import unicodedata

import django.db.models.deletion
from django.db import migrations, models

PG_SETUP = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # unaccent(regdictionary, text) is only STABLE; naming the dictionary makes it safe to
    # declare IMMUTABLE, so it may appear in indexes and stored vectors.
    "CREATE OR REPLACE FUNCTION docuid_unaccent(text) RETURNS text"
    " LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$",
    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'docuid') THEN"
    " CREATE TEXT SEARCH CONFIGURATION docuid (COPY = english);"
    " ALTER TEXT SEARCH CONFIGURATION docuid ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem;"
    " END IF; END $$",
    "CREATE INDEX IF NOT EXISTS searchterm_term_trgm ON documents_searchterm USING gin (term gin_trgm_ops)",
]
PG_TEARDOWN = [
    "DROP INDEX IF EXISTS searchterm_term_trgm",
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS docuid",
    "DROP FUNCTION IF EXISTS docuid_unaccent(text)",
]
# The same weights as documents.search.refresh_search_vector (no extracted text exists yet).
PG_BACKFILL = r"""
UPDATE documents_document d SET search_vector =
    setweight(to_tsvector('docuid', regexp_replace(d.title, $r$[^\w\s'-]|_$r$, ' ', 'g')), 'A')
    || setweight(to_tsvector('docuid', regexp_replace(concat_ws(' ', (SELECT string_agg(t.name, ' ')
        FROM documents_document_tags dt JOIN documents_tag t ON t.id = dt.tag_id WHERE dt.document_id = d.id),
        d.category, d.security_level), $r$[^\w\s'-]|_$r$, ' ', 'g')), 'B')
    || setweight(to_tsvector('docuid', regexp_replace(concat_ws(' ', d.description, u.name),
        $r$[^\w\s'-]|_$r$, ' ', 'g')), 'C')
FROM accounts_user u WHERE u.id = d.owner_id
"""
SQLITE_SETUP = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS documents_search_fts USING fts5("
    "title, meta, body, content, tokenize = 'porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS documents_search_fts_delete AFTER DELETE ON documents_document"
    " BEGIN DELETE FROM documents_search_fts WHERE rowid = old.id; END",
]
SQLITE_TEARDOWN = ["DROP TRIGGER IF EXISTS documents_search_fts_delete", "DROP TABLE IF EXISTS documents_search_fts"]


def _words(text):
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()
    return {w for w in re.findall(r"[^\W_]+", plain) if 3 <= len(w) <= 100}


def setup(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    Document = apps.get_model("documents", "Document")
    SearchTerm = apps.get_model("documents", "SearchTerm")
    if vendor == "postgresql":
        for sql in PG_SETUP:
            schema_editor.execute(sql)
        schema_editor.execute(PG_BACKFILL)
    elif vendor == "sqlite":
        for sql in SQLITE_SETUP:
            schema_editor.execute(sql)
    terms = []
    for document in Document.objects.select_related("owner").prefetch_related("tags").iterator(chunk_size=500):
        tags = " ".join(t.name for t in document.tags.all())
        terms += [
            SearchTerm(document_id=document.pk, term=w) for w in _words(f"{document.title} {document.category} {tags}")
        ]
        if vendor == "sqlite":
            schema_editor.connection.cursor().execute(
                "INSERT INTO documents_search_fts (rowid, title, meta, body, content) VALUES (%s, %s, %s, %s, '')",
                [
                    document.pk,
                    document.title,
                    f"{tags} {document.category} {document.security_level}",
                    f"{document.description} {document.owner.name}",
                ],
            )
        if len(terms) > 5000:
            SearchTerm.objects.bulk_create(terms, ignore_conflicts=True)
            terms = []
    SearchTerm.objects.bulk_create(terms, ignore_conflicts=True)


def teardown(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in PG_TEARDOWN if vendor == "postgresql" else SQLITE_TEARDOWN if vendor == "sqlite" else []:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0005_version_text"),
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchTerm",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("term", models.CharField(max_length=100)),
                (
                    "document",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="documents.document"
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("document", "term"), name="searchterm_unique_doc_term")
                ],
            },
        ),
        migrations.RunPython(setup, teardown, elidable=False),
    ]
