"""Full-text search: the stored index of each document, query parsing, snippets and "Did you mean".

One query language on both databases, the websearch syntax people know: words (each
may match any field), "quoted phrases", -excluded words, OR; the last plain word also
matches as a prefix (search as you type).

- PostgreSQL: a weighted tsvector column (title A; tags, category and security level B;
  description and owner name C; the current version's extracted text D) in the `docuid`
  configuration (english stemming after unaccent, migration 0006), GIN-indexed
  (migration 0002), ranked by ts_rank_cd (weights and proximity).
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
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import BooleanField, FloatField
from django.db.models.expressions import RawSQL
from django.utils.html import escape

from documents.models import Document, ExtractionStatus, SearchTerm, VersionText

SEARCH_CONFIG = "docuid"
FTS_TABLE = "documents_search_fts"
# tsvector holds at most 1 MB: the first 300,000 characters of a file's text are indexed.
CONTENT_INDEX_CHARS = 300_000
# Snippets are cut from the start of the text only, so a page of results costs bounded time.
SNIPPET_SOURCE_CHARS = 16_000
MAX_QUERY_TERMS = 32
# PostgreSQL ranks the newest 500 matches of a query (documents.selectors._search says why).
RANK_CANDIDATES = 500
# Private-use characters: removed from the text before highlighting, so they cannot be forged.
START, STOP = "\ue000", "\ue001"
WEIGHTS = {"A": 1.0, "B": 0.4, "C": 0.2, "D": 0.1}  # PostgreSQL's ts_rank defaults, used by bm25 too
_WORD = re.compile(r"[^\W_]+")
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_SEPARATORS = re.compile(r"[^\w\s'-]|_")


# --- the index ---------------------------------------------------------------------------


def _plain(text: str) -> str:
    """Lower case without accents: how the vocabulary and did-you-mean compare words."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()


def _vocabulary(*texts: str) -> set[str]:
    return {w for w in _WORD.findall(_plain(" ".join(texts))) if 3 <= len(w) <= 100}


def _content_of(document: Document) -> str:
    if not document.current_version_id:
        return ""
    content = (
        VersionText.objects.filter(version_id=document.current_version_id, status=ExtractionStatus.DONE)
        .values_list("content", flat=True)
        .first()
    )
    return (content or "")[:CONTENT_INDEX_CHARS]


def refresh_search_vector(document: Document) -> None:
    """Rebuild `document`'s search index entry from its fields, tags, owner and extracted text."""
    tags = " ".join(document.tags.values_list("name", flat=True))
    owner_name = get_user_model().objects.filter(pk=document.owner_id).values_list("name", flat=True).first()
    title = document.title
    meta = f"{tags} {document.category} {document.security_level}"
    body = f"{document.description} {owner_name or ''}"
    content = _content_of(document)
    if connection.vendor == "postgresql":
        # PostgreSQL's parser keeps "draft.pdf", paths and addresses whole: split them into
        # words as FTS5 and the query parser do, so "-draft" excludes "Invoice draft.pdf".
        title, meta, body, content = (_SEPARATORS.sub(" ", text) for text in (title, meta, body, content))
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE documents_document SET search_vector ="  # noqa: S608 — a constant name; values are bound
                f" setweight(to_tsvector('{SEARCH_CONFIG}', %s), 'A')"
                f" || setweight(to_tsvector('{SEARCH_CONFIG}', %s), 'B')"
                f" || setweight(to_tsvector('{SEARCH_CONFIG}', %s), 'C')"
                f" || setweight(to_tsvector('{SEARCH_CONFIG}', %s), 'D') WHERE id = %s",
                [title, meta, body, content, document.pk],
            )
    elif connection.vendor == "sqlite":
        strip = str.maketrans("", "", START + STOP)
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [document.pk])  # noqa: S608 — as above
            cursor.execute(
                f"INSERT INTO {FTS_TABLE} (rowid, title, meta, body, content) VALUES (%s, %s, %s, %s, %s)",  # noqa: S608
                [document.pk, title, meta.translate(strip), body.translate(strip), content.translate(strip)],
            )
    terms = _vocabulary(title, document.category, tags)
    SearchTerm.objects.filter(document_id=document.pk).exclude(term__in=terms).delete()
    SearchTerm.objects.bulk_create(
        [SearchTerm(document_id=document.pk, term=t) for t in sorted(terms)], ignore_conflicts=True
    )


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


def _pg_term(term: Term) -> tuple[str, list]:
    text = " ".join(term.words)
    if len(term.words) > 1:
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


def pg_tsquery(parsed: ParsedQuery) -> tuple[str, list]:
    """The query as one SQL tsquery expression and its parameters (values always bound)."""
    parts, params = [], []
    for group in parsed.groups:
        alternatives = []
        for term in group:
            sql, term_params = _pg_term(term)
            alternatives.append(sql)
            params += term_params
        parts.append("(" + " || ".join(alternatives) + ")")
    for term in parsed.excluded:
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

    `visible_ids` is a queryset of the ids the person may see: only their documents'
    words are ever suggested, so a suggestion cannot reveal a document they may not see.
    """
    words = list(dict.fromkeys(_plain(w) for w in parsed.words if len(w) >= 3))[:5]
    if not words:
        return None
    terms = SearchTerm.objects.filter(document_id__in=visible_ids)
    replacements = {}
    if connection.vendor == "postgresql":
        for word in words:
            # term %% word uses the trigram index; an exact word has similarity 1 and comes first.
            best = (
                terms.alias(close=RawSQL("documents_searchterm.term %% %s", [word], output_field=BooleanField()))
                .filter(close=True)
                .annotate(sim=RawSQL("similarity(documents_searchterm.term, %s)", [word], output_field=FloatField()))
                .order_by("-sim", "term")
                .values_list("term", flat=True)
                .first()
            )
            if best and best != word:
                replacements[word] = best
    else:
        vocabulary = set(terms.values_list("term", flat=True).distinct())
        for word in words:
            if word in vocabulary:
                continue
            close = difflib.get_close_matches(word, vocabulary, n=1, cutoff=0.75)
            if close:
                replacements[word] = close[0]
    if not replacements:
        return None
    suggested = query
    for word, best in replacements.items():
        suggested = re.sub(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])", best, suggested, flags=re.IGNORECASE)
    return suggested if suggested != query else None
