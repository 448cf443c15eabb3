"""Full-text search: the stored index of each document, query parsing, snippets and "Did you mean".

One query language on both databases, the websearch syntax people know: words (each
may match any field), "quoted phrases", -excluded words, OR; the last plain word also
matches as a prefix (search as you type).

- PostgreSQL: a weighted tsvector column (title A; tags, category and security level B;
  description and owner name C; the current version's extracted text D) in the `docuid`
  configuration (english stemming after unaccent, migration 0006), GIN-indexed
  (migration 0002): what matches. Ranking (ts_rank_cd: weights and proximity) reads a
  second, small vector with the same fields and only the text's first passage
  (`search_rank`, migration 0007), and snippets are cut from that passage: at 100,000
  documents, reading each match's whole-file vector or text was most of a search's time.
- "Did you mean": one global vocabulary of distinct words (SearchWord, trigram-indexed);
  a candidate is offered only if a document the person may see holds it.
- SQLite: an FTS5 table with the same four columns (porter stemming, diacritics removed),
  ranked by bm25 with the same relative weights.

Both are written by `refresh_search_vector`, called by the services that change a
document's fields and by text extraction; SQLite's row goes with its document (trigger).
Snippets are built with rare marker characters, then HTML-escaped whole, then the
markers become <mark>: the document's text can never inject markup.
"""

import difflib
import re
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connection, connections, router, transaction
from django.db.models.functions import Length
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils.html import escape

from documents.models import Document, ExtractionStatus, SearchWord, VersionText

SEARCH_CONFIG = "docuid"
FTS_TABLE = "documents_search_fts"
# tsvector holds at most 1 MB: the first 300,000 characters of a file's text are indexed.
CONTENT_INDEX_CHARS = 300_000
# Ranking reads a small vector: the fields and only this much of the text (the "first passage").
PASSAGE_CHARS = 2_000
# Snippets are cut from that same first passage: ts_headline re-parses its source for each of
# a page's 20 results (16,000 characters cost ~115 ms a page at 100k documents, 2,000 ~25 ms).
SNIPPET_SOURCE_CHARS = PASSAGE_CHARS
# "Did you mean" knows the words of the fields and of this much of each text.
VOCABULARY_CHARS = 10_000
MAX_WORD = 40
MAX_QUERY_TERMS = 32
# PostgreSQL ranks the newest 500 matches of a query (documents.selectors._search says why).
RANK_CANDIDATES = 500
# A phrase is checked in the newest 500 documents holding all its words (documents.selectors._search).
PHRASE_CANDIDATES = 500
# Private-use characters: removed from the text before highlighting, so they cannot be forged.
START, STOP = "\ue000", "\ue001"
WEIGHTS = {"A": 1.0, "B": 0.4, "C": 0.2, "D": 0.1}  # PostgreSQL's ts_rank defaults, used by bm25 too
_WORD = re.compile(r"[^\W_]+")
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


# --- the index ---------------------------------------------------------------------------


def _plain(text: str) -> str:
    """Lower case without accents: how the vocabulary and did-you-mean compare words."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()


def _vocabulary(*texts: str) -> set[str]:
    return {w for w in _WORD.findall(_plain(" ".join(texts))) if 3 <= len(w) <= MAX_WORD and not w.isdigit()}


def _content_of(document: Document) -> str:
    if not document.current_version_id:
        return ""
    content = (
        VersionText.objects.filter(version_id=document.current_version_id, status=ExtractionStatus.DONE)
        .values_list("content", flat=True)
        .first()
    )
    return (content or "")[:CONTENT_INDEX_CHARS]


# One statement indexes a range of documents, from the rows themselves: the same SQL for
# one document (refresh_search_vector) and for a whole archive in batches
# (reindex_documents: the benchmark, a rebuild). PostgreSQL's parser keeps "draft.pdf",
# paths and addresses whole, so separators become spaces first (as FTS5 and the query
# parser split them): "-draft" then excludes "Invoice draft.pdf".
_SEPARATORS_SQL = r"$r$[^\w\s'-]|_$r$"
_PG_REINDEX = f"""
WITH source AS (
    SELECT d.id,
        regexp_replace(d.title, {_SEPARATORS_SQL}, ' ', 'g') AS title,
        regexp_replace(concat_ws(' ', (SELECT string_agg(t.name, ' ') FROM documents_document_tags dt
            JOIN documents_tag t ON t.id = dt.tag_id WHERE dt.document_id = d.id), d.category, d.security_level),
            {_SEPARATORS_SQL}, ' ', 'g') AS meta,
        regexp_replace(concat_ws(' ', d.description, u.name), {_SEPARATORS_SQL}, ' ', 'g') AS body,
        regexp_replace(left(coalesce(vt.content, ''), {CONTENT_INDEX_CHARS}), {_SEPARATORS_SQL}, ' ', 'g') AS content
    FROM documents_document d
    JOIN accounts_user u ON u.id = d.owner_id
    LEFT JOIN documents_versiontext vt ON vt.version_id = d.current_version_id AND vt.status = 'done'
    WHERE d.id BETWEEN %(first)s AND %(last)s
), fields AS (
    SELECT id, content,
        setweight(to_tsvector('{SEARCH_CONFIG}', title), 'A') || setweight(to_tsvector('{SEARCH_CONFIG}', meta), 'B')
        || setweight(to_tsvector('{SEARCH_CONFIG}', body), 'C') AS head,
        title || ' ' || meta || ' ' || body || ' ' || left(content, {VOCABULARY_CHARS}) AS words
    FROM source
), vocabulary AS (
    INSERT INTO documents_searchword (word)
    SELECT DISTINCT lexeme FROM fields, unnest(to_tsvector('simple', docuid_unaccent(fields.words)))
    WHERE lexeme ~ '^[[:alpha:]]{{3,{MAX_WORD}}}$'
    ON CONFLICT (word) DO NOTHING
)
UPDATE documents_document d
SET search_vector = fields.head || setweight(to_tsvector('{SEARCH_CONFIG}', fields.content), 'D'),
    search_rank = fields.head || setweight(to_tsvector('{SEARCH_CONFIG}', left(fields.content, {PASSAGE_CHARS})), 'D')
FROM fields WHERE d.id = fields.id
"""  # noqa: S608 — constants only; the ids are bound


def reindex_documents(first_id: int, last_id: int) -> None:
    """Rebuild the PostgreSQL index entries (both vectors, the vocabulary) of documents first_id..last_id."""
    with connection.cursor() as cursor:
        cursor.execute(_PG_REINDEX, {"first": first_id, "last": last_id})


def refresh_search_vector(document: Document) -> None:
    """Rebuild `document`'s search index entry from its fields, tags, owner and extracted text."""
    if connection.vendor == "postgresql":
        reindex_documents(document.pk, document.pk)
        return
    tags = " ".join(document.tags.values_list("name", flat=True))
    owner_name = get_user_model().objects.filter(pk=document.owner_id).values_list("name", flat=True).first()
    title = document.title
    meta = f"{tags} {document.category} {document.security_level}"
    body = f"{document.description} {owner_name or ''}"
    content = _content_of(document)
    if connection.vendor == "sqlite":
        strip = str.maketrans("", "", START + STOP)
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [document.pk])  # noqa: S608 — a constant name
            cursor.execute(
                f"INSERT INTO {FTS_TABLE} (rowid, title, meta, body, content) VALUES (%s, %s, %s, %s, %s)",  # noqa: S608
                [document.pk, title, meta.translate(strip), body.translate(strip), content.translate(strip)],
            )
    words = _vocabulary(title, meta, body, content[:VOCABULARY_CHARS])
    SearchWord.objects.bulk_create([SearchWord(word=w) for w in sorted(words)], ignore_conflicts=True)


@receiver(post_delete, sender=Document, dispatch_uid="documents.search.forget_deleted_document")
def _forget_deleted_document(sender, instance: Document, **kwargs) -> None:
    """SQLite: a deleted document leaves the FTS5 table. Migration 0006's trigger did this, but
    SQLite drops a table's triggers whenever a migration rebuilds the table (adding a column
    with a default does), so the trigger cannot be relied on. PostgreSQL's vectors are
    columns of the row itself."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [instance.pk])  # noqa: S608 — a constant name


@contextmanager
def planner_settings(active: bool = True, *, using: str | None = None, index_probes: bool = False):
    """PostgreSQL: plan the search's queries with the GIN index and without JIT compilation.

    The planner prices `search_vector @@ query` on a row like any cheap operator, but it
    reads the row's whole vector (the file's words, TOASTed): for a word most documents
    hold it chose to scan the table and test every row (2.5-4 s at 100,000 documents)
    over the index (~0.1 s), and with sequential scans off it walked the primary key
    testing every row instead; JIT compiled those plans for ~3.5 s a query. So only bitmap
    index scans, no JIT: SET LOCAL, in a transaction of their own when there is none (in
    an enclosing transaction they last until it ends). They go to the database the
    search reads from (`using`, else where the router sends reads of documents: the
    replica inside docuid.db_routers.replica_reads).

    `index_probes` (the "walk" visibility plan, documents.selectors): index scans stay on,
    for the per-row grant probe each match makes (a plain index probe cost ~3 µs against
    ~5 µs as a bitmap scan: 1,956 matches 11.9 → 7.7 ms, 18,787 matches 402 → 177 ms at
    100,000 documents). That query has no `id IN (...)` for the planner to walk the
    primary key with, and the GIN bitmap stayed its plan up to a query matching 62 % of
    the archive (bench/README.md, issue #16 item 2); sequential scans and JIT stay off.
    The walk's list pages take these settings too, for the JIT (documents_list says why).
    """
    alias = using or router.db_for_read(Document) or DEFAULT_DB_ALIAS
    target = connections[alias]
    if not active or target.vendor != "postgresql":
        yield
        return
    with transaction.atomic(using=alias, savepoint=False):
        with target.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('enable_seqscan', 'off', true), set_config('enable_indexscan', %s, true),"
                " set_config('jit', 'off', true)",
                ["on" if index_probes else "off"],
            )
        yield


# --- the query ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # one word, or a phrase's words in order
    prefix: bool = False  # the last word typed: also matches longer words


@dataclass(frozen=True)
class ParsedQuery:
    groups: tuple[tuple[Term, ...], ...]  # every group must match; a group matches if any of its terms does
    excluded: tuple[Term, ...]

    @property
    def has_phrase(self) -> bool:
        return any(len(term.words) > 1 for group in self.groups for term in group) or any(
            len(term.words) > 1 for term in self.excluded
        )

    @property
    def words(self) -> list[str]:
        return [w for group in self.groups for term in group for w in term.words]

    def __bool__(self) -> bool:
        return bool(self.groups or self.excluded)


def parse_query(query: str) -> ParsedQuery:
    """Websearch syntax: words, "phrases", -word / -"phrase", OR between terms."""
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    join_next = False
    count = 0
    for negated, phrase, bare in _TOKEN.findall(query or ""):
        if bare == "OR":
            join_next = bool(groups)
            continue
        if bare.startswith("-") and len(bare) > 1:
            negated, bare = "-", bare[1:]
        words = tuple(_WORD.findall((phrase or bare).lower()))
        if not words or count >= MAX_QUERY_TERMS:
            continue
        count += 1
        term = Term(words=words)
        if negated:
            excluded.append(term)
        elif join_next:
            groups[-1].append(term)
        else:
            groups.append([term])
        join_next = False
    # Search as you type: the last thing typed, if a single plain word, is also a prefix.
    last = _TOKEN.findall(query or "")[-1:] if query else []
    if groups and last and not last[0][0] and not last[0][1] and not last[0][2].startswith("-"):
        term = groups[-1][-1]
        if len(term.words) == 1 and len(term.words[0]) >= 2 and last[0][2].lower().endswith(term.words[0]):
            groups[-1][-1] = Term(words=term.words, prefix=True)
    return ParsedQuery(groups=tuple(tuple(g) for g in groups), excluded=tuple(excluded))


# PostgreSQL


def _pg_term(term: Term, *, loose: bool = False) -> tuple[str, list]:
    text = " ".join(term.words)
    if len(term.words) > 1:
        if loose:
            return f"plainto_tsquery('{SEARCH_CONFIG}', %s)", [text]  # the phrase's words, anywhere
        return f"phraseto_tsquery('{SEARCH_CONFIG}', %s)", [text]
    if term.prefix:
        # The stemmed word, or any word starting with what was typed (unaccented; the
        # quotes keep to_tsquery from reading the word as operators).
        return (
            f"(plainto_tsquery('{SEARCH_CONFIG}', %s) || to_tsquery('simple',"
            " quote_literal(docuid_unaccent(%s)) || ':*'))",
            [text, text],
        )
    return f"plainto_tsquery('{SEARCH_CONFIG}', %s)", [text]


def pg_tsquery(parsed: ParsedQuery, *, loose: bool = False) -> tuple[str, list]:
    """The query as one SQL tsquery expression and its parameters (values always bound).

    `loose`: what the GIN index answers exactly, with no re-check of each row: phrases
    become their words (in any order) and excluded phrases are left out, so the loose
    query matches every document the exact one does, and more.
    """
    parts, params = [], []
    for group in parsed.groups:
        alternatives = []
        for term in group:
            sql, term_params = _pg_term(term, loose=loose)
            alternatives.append(sql)
            params += term_params
        parts.append("(" + " || ".join(alternatives) + ")")
    for term in parsed.excluded:
        if loose and len(term.words) > 1:
            continue
        sql, term_params = _pg_term(term)
        parts.append(f"!!{sql}")
        params += term_params
    return "(" + " && ".join(parts) + ")", params


# SQLite FTS5


def _fts_term(term: Term) -> str:
    # Words are letters and digits only, so a quoted string is always one FTS5 token or phrase.
    return '"' + " ".join(term.words) + '"' + ("*" if term.prefix else "")


def fts_match(parsed: ParsedQuery) -> tuple[str, str]:
    """(what must match, what must not) as FTS5 query strings; either may be empty."""
    positive = " AND ".join("(" + " OR ".join(_fts_term(t) for t in group) + ")" for group in parsed.groups)
    negative = " OR ".join(_fts_term(t) for t in parsed.excluded)
    return positive, negative


# --- snippets ----------------------------------------------------------------------------


def mark(snippet: str | None) -> str:
    """Escape a marked snippet whole, then turn the markers into <mark>…</mark>."""
    if not snippet or START not in snippet:
        return ""
    html = escape(" ".join(snippet.split()))
    return html.replace(START, "<mark>").replace(STOP, "</mark>")


def snippets(document_ids: list[int], parsed: ParsedQuery) -> dict[int, dict[str, str]]:
    """For each document, the highlighted passage of its text or description that matches."""
    if not document_ids or not parsed.groups:
        return {}
    found: dict[int, dict[str, str]] = {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            tsquery, params = pg_tsquery(parsed)
            options = f"StartSel={START}, StopSel={STOP}, MaxWords=24, MinWords=10, MaxFragments=1"

            def headline(column: str) -> str:
                source = f"replace(replace(left(coalesce({column}, ''), {SNIPPET_SOURCE_CHARS}), %s, ''), %s, '')"
                return f"ts_headline('{SEARCH_CONFIG}', {source}, q, %s)"

            cursor.execute(
                f"SELECT d.id, {headline('vt.content')}, {headline('d.description')}"  # noqa: S608 — constants only
                f" FROM documents_document d CROSS JOIN (SELECT {tsquery} AS q) AS query"
                " LEFT JOIN documents_versiontext vt ON vt.version_id = d.current_version_id AND vt.status = %s"
                " WHERE d.id = ANY(%s)",
                [START, STOP, options, START, STOP, options, *params, ExtractionStatus.DONE, list(document_ids)],
            )
        else:
            positive, _ = fts_match(parsed)
            placeholders = ", ".join(["%s"] * len(document_ids))
            cursor.execute(
                f"SELECT rowid, snippet({FTS_TABLE}, 3, %s, %s, '…', 16),"  # noqa: S608 — constants only
                f" snippet({FTS_TABLE}, 2, %s, %s, '…', 16) FROM {FTS_TABLE}"
                f" WHERE {FTS_TABLE} MATCH %s AND rowid IN ({placeholders})",
                [START, STOP, START, STOP, positive, *document_ids],
            )
        for document_id, content, description in cursor.fetchall():
            if marked := mark(content):
                found[document_id] = {"field": "content", "snippet": marked}
            elif marked := mark(description):
                found[document_id] = {"field": "description", "snippet": marked}
    return found


# --- did you mean ------------------------------------------------------------------------

SIMILARITY = 0.3  # pg_trgm's default threshold for %


def suggestion(query: str, parsed: ParsedQuery, visible_ids) -> str | None:
    """The query with misspelt words replaced by the closest words of documents one may see.

    Candidates come from the global vocabulary (SearchWord: a trigram index over distinct
    words, cheap however many documents a person sees); each is kept only if a document
    in `visible_ids` (a queryset of the ids the person may see) holds it, so a suggestion
    can never reveal a word of a document they may not see. A word that is itself in a
    visible document is left alone.
    """
    words = list(dict.fromkeys(_plain(w) for w in parsed.words if 3 <= len(w) <= MAX_WORD))[:5]
    if not words:
        return None
    visible_sql, visible_params = visible_ids.query.sql_with_params()
    replacements = {}
    with planner_settings(using=DEFAULT_DB_ALIAS), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Per word: the ten most similar vocabulary words (the trigram index answers
            # `word % typed`), the first of them that a visible document holds.
            cursor.execute(
                "SELECT typed.word, best.word FROM unnest(%s::text[]) AS typed(word) CROSS JOIN LATERAL ("  # noqa: S608 — Django-compiled SQL, values bound
                "  SELECT candidate.word FROM ("
                "    SELECT w.word, similarity(w.word, typed.word) AS sim FROM documents_searchword w"
                "    WHERE w.word %% typed.word ORDER BY sim DESC, w.word LIMIT 10"
                "  ) candidate WHERE EXISTS ("
                "    SELECT 1 FROM documents_document d WHERE d.id IN (" + visible_sql + ")"
                f"    AND d.search_vector @@ plainto_tsquery('{SEARCH_CONFIG}', candidate.word))"
                "  ORDER BY candidate.sim DESC, candidate.word LIMIT 1"
                ") best",
                [words, *visible_params],
            )
            replacements = {typed: best for typed, best in cursor.fetchall() if best != typed}
        else:
            for word in words:
                # difflib over the words of about the same length, then the same visibility check (FTS5).
                nearby = (
                    SearchWord.objects.alias(length=Length("word"))
                    .filter(length__gte=len(word) - 2, length__lte=len(word) + 2)
                    .values_list("word", flat=True)
                )
                for candidate in difflib.get_close_matches(word, list(nearby), n=5, cutoff=0.75):
                    cursor.execute(
                        f"SELECT 1 FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s AND rowid IN ({visible_sql}) LIMIT 1",  # noqa: S608
                        [f'"{candidate}"', *visible_params],
                    )
                    if cursor.fetchone():
                        if candidate != word:
                            replacements[word] = candidate
                        break
    if not replacements:
        return None
    suggested = query
    for word, best in replacements.items():
        suggested = re.sub(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])", best, suggested, flags=re.IGNORECASE)
    return suggested if suggested != query else None
