"""Reads about documents, and the one place that decides who may see and do what.

Deny by default: a document is visible to its owner and to holders of an
unexpired grant, directly or through one of their groups — nobody else, staff
included (staff reach content only through the admin's audited permission).
A grant a grantee gave (`Grant.via` set) counts only while the grant it was given
under still holds: unexpired, at share level, still reaching its giver, who is
still active. Grants the owner or staff gave stand on their own.
Every list, search, detail, open, download, share and API view goes through
`documents_visible_to` and `document_permissions`.

The rule is written once as SQL fragments (_grant_sql_parts) and asked in one of two
plans that give exactly the same rows (issue #16 item 2, "page cost independent of the
visible set"), chosen per person by `visibility_plan` from a cached, capped estimate of
how much they see:
- "ids" (people who see little): the visible ids are built as a UNION of three index
  scans (owned; granted to the person; granted to their groups) and a page picks among
  them. Its cost grows with the visible set (~2 ms per 1,000 ids).
- "walk" (people who see much, from WALK_FROM documents): each row is checked on its own
  (owner, or EXISTS a holding grant on that document for the person or their groups: one
  probe of the grant table's document index), so a list page walks its sort index and
  stops after its rows, and a search checks only the GIN index's matches.
The estimate only picks a plan: both plans read the grants as they are now, so an
estimate made before a revoke can make a page slower, never show more.
"""

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.postgres.expressions import ArraySubquery
from django.core.cache import cache as django_cache
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL, Window
from django.db.models.functions import Cast, Concat, RowNumber
from django.utils import timezone

from documents import search
from documents.models import PERMISSION_RANK, Document, DocumentVersion, Grant, Permission, Share, Tag

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# How many matches past the page's start a total counts (with_total). Counting every
# visible document cost as much as the page itself for a person who sees thousands; a
# total of "at least 1,040" is what a page needs to draw its pager, and hasNext (one row
# more than the page) always says whether another page exists.
TOTAL_LOOKAHEAD = 1000
SORTS = {
    "title": ("title", "id"),
    "-title": ("-title", "-id"),
    "modified": ("updated_at", "id"),
    "-modified": ("-updated_at", "-id"),
    "size": ("size", "id"),
    "-size": ("-size", "-id"),
}
DEFAULT_SORT = "-modified"


@dataclass(frozen=True)
class DocumentPermissions:
    view: bool = False
    download: bool = False
    share: bool = False
    manage: bool = False  # the owner: new versions, delete, access list and history, share management

    @classmethod
    def from_rank(cls, rank: int) -> "DocumentPermissions":
        return cls(view=rank >= 1, download=rank >= 2, share=rank >= 3)


NO_PERMISSIONS = DocumentPermissions()
OWNER_PERMISSIONS = DocumentPermissions(view=True, download=True, share=True, manage=True)


def _is_signed_in(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and getattr(user, "is_active", False)


def _unexpired(now: datetime) -> Q:
    return Q(expires_at__isnull=True) | Q(expires_at__gt=now)


def _grant_holds(now: datetime) -> Q:
    """A grant's standing apart from its own expiry: given by the owner or staff, or given
    under a grant that still lets its giver share (the SQL twin is in _visible_ids_sql)."""
    User = get_user_model()
    givers_groups = User.groups.through.objects.filter(user_id=OuterRef(OuterRef("granted_by_id"))).values("group_id")
    sharing_grant = Grant.objects.filter(
        _unexpired(now),
        Q(user_id=OuterRef("granted_by_id")) | Q(group_id__in=givers_groups),
        pk=OuterRef("via_id"),
        document_id=OuterRef("document_id"),
        via__isnull=True,
        permission=Permission.SHARE,
    )
    active_giver = User.objects.filter(pk=OuterRef("granted_by_id"), is_active=True)
    return Q(via__isnull=True) | (Exists(sharing_grant) & Exists(active_giver))


def _active_grants_for(user, *, now: datetime) -> QuerySet[Grant]:
    """The grants that count for `user` now, directly or through a group they belong to."""
    # group_id IN (the person's groups) rather than a join through auth_group: each side
    # of the OR is then one index scan (grant_user_doc_idx, grant_group_doc_idx).
    groups = get_user_model().groups.through.objects.filter(user_id=user.pk).values("group_id")
    return Grant.objects.filter(Q(user_id=user.pk) | Q(group_id__in=groups), _unexpired(now), _grant_holds(now))


def grant_for_sharing(user, document: Document, *, now: datetime | None = None) -> Grant | None:
    """The grant under which a grantee may give others access to `document`: of their
    counting share grants, the one that lasts longest. None for the owner and for non-sharers."""
    if not _is_signed_in(user) or document.owner_id == user.pk:
        return None
    now = now or timezone.now()
    return (
        _active_grants_for(user, now=now)
        .filter(document_id=document.pk, permission=Permission.SHARE, via__isnull=True)
        .order_by(F("expires_at").desc(nulls_first=True), "pk")
        .first()
    )


VISIBLE_IDS, VISIBLE_WALK = "ids", "walk"
# From this many visible documents (estimated), pages check each row instead of building the
# visible ids. Measured on the bench's 100,000 documents (bench/README.md, issue #16 item 2):
# the ids plan costs ~2 ms per 1,000 visible ids (list 6.9 ms at 793, 59 ms at 30,273); the
# walk ~6 µs per row it checks, ~21/f rows for a person who sees a fraction f of the archive
# (list 17 ms at 793, 4.7 ms at 30,273), and a search ~3 µs per match of the whole archive
# (20 ms for 1,956 matches, against 12 ms by ids at 793 and 129 ms at 30,273). The lists
# cross near 2,000 visible, searches later: 3,000 keeps the median person (~800) on ids.
WALK_FROM = 3_000
ESTIMATE_TTL = 300  # seconds an estimate is kept (it only picks a plan)
_ESTIMATE_KEY = "docuid:visible-estimate:{}"


def documents_visible_to(user, *, now: datetime | None = None, plan: str | None = None) -> QuerySet[Document]:
    """Every document `user` may see: owned, or reached by an unexpired grant that holds.

    One query, in the plan `visibility_plan` picks (or `plan`, which tests force): "ids",
    a UNION of three index scans (owned; granted to the person; granted to their groups)
    whose ids are then fetched by primary key, or "walk", a check on each row (see the
    module docstring). Both give the same rows.
    """
    if not _is_signed_in(user):
        return Document.objects.none()
    now = now or timezone.now()
    if (plan or visibility_plan(user)) == VISIBLE_WALK:
        return Document.objects.alias(visible_to_user=_visible_row(user, now)).filter(visible_to_user=True)
    sql, params = _visible_ids(user, now)
    return Document.objects.filter(pk__in=RawSQL(sql, params))  # noqa: S611 — see _visible_ids_sql


def visibility_plan(user) -> str:
    """ "walk" for a person estimated to see WALK_FROM documents or more, else "ids".

    The estimate (owned documents plus the grants naming the person or their groups, each
    counted up to WALK_FROM, with no expiry or via check: a plan needs no more) is kept in
    the cache for ESTIMATE_TTL: one cache read per page, one query and a write when it is
    missing. Both plans decide each row alike, so a stale estimate costs time, never access.
    SQLite always takes "ids" (both plans work there; tests force "walk").
    """
    if connection.vendor != "postgresql":
        return VISIBLE_IDS  # SQLite (development, tests): one plan, no estimate; "walk" only when forced
    key = _ESTIMATE_KEY.format(user.pk)
    estimate = django_cache.get(key)
    if estimate is None:
        parts = _grant_sql_parts()
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT (SELECT count(*) FROM (SELECT 1 FROM {parts['doc']} WHERE owner_id = %s LIMIT %s) o)"  # noqa: S608 — identifiers from _meta
                f" + (SELECT count(*) FROM (SELECT 1 FROM {parts['grant']} g WHERE {parts['reaches']} LIMIT %s) r)",
                [user.pk, WALK_FROM, user.pk, user.pk, WALK_FROM],
            )
            estimate = cursor.fetchone()[0]
        django_cache.set(key, estimate, ESTIMATE_TTL)
    return VISIBLE_WALK if estimate >= WALK_FROM else VISIBLE_IDS


class _RowSQL(Func):
    """SQL about the queryset's own row: `{name}` stands for one of its columns, compiled by
    Django, so the table's alias follows the queryset into a subquery (a literal
    "documents_document.column" there named the outer query's row). `%s` are bound values."""

    def __init__(self, sql: str, params, *, output_field, **columns: str):
        self.sql, self.sql_params, self.column_names = sql, list(params), list(columns)
        super().__init__(*(F(column) for column in columns.values()), output_field=output_field)

    def as_sql(self, compiler, connection, **extra_context):
        sql = self.sql
        for name, expression in zip(self.column_names, self.get_source_expressions(), strict=True):
            column, params = compiler.compile(expression)
            assert not params  # a plain column: the only values are sql_params, in order
            sql = sql.replace("{" + name + "}", column)  # not str.format: embedded SQL may hold braces
        return sql, self.sql_params


def _visible_row(user, now: datetime) -> _RowSQL:
    """The "walk" plan: whether this row is `user`'s to see, by the rule of _visible_ids_sql.

    OFFSET 0 keeps the EXISTS a per-row probe (grant_unique_user / the grant's document index):
    without it PostgreSQL may turn it into a hashed set of every document the person's grants
    name, which is the ids plan's cost again."""
    parts = _grant_sql_parts()
    sql = (
        f"({{owner}} = %s OR EXISTS (SELECT 1 FROM {parts['grant']} g WHERE g.document_id = {{id}}"  # noqa: S608 — identifiers from _meta
        f" AND {parts['reaches']} AND {parts['unexpired']} AND {parts['holds']}"
        f"{' OFFSET 0' if connection.vendor == 'postgresql' else ''}))"
    )
    params = [user.pk, user.pk, user.pk, now, now, Permission.SHARE.value]
    return _RowSQL(sql, params, output_field=BooleanField(), owner="owner_id", id="id")


def _visible_ids(user, now: datetime) -> tuple[str, list]:
    """The SQL of the ids `user` may see (documents_visible_to's rule), with its parameters."""
    holds = [now, Permission.SHARE.value]
    return _visible_ids_sql(), [user.pk, user.pk, now, *holds, now, *holds, user.pk]


@cache
def _grant_sql_parts() -> dict[str, str]:
    """Quoted names and the grant rule's SQL fragments, shared by _visible_ids_sql, _visible_row,
    _page_grants_sql and visibility_plan."""
    quote = connection.ops.quote_name
    memberships = get_user_model().groups.through._meta
    member_table = quote(memberships.db_table)
    member_user = quote(memberships.get_field("user").column)
    member_group = quote(memberships.get_field("group").column)
    grant = quote(Grant._meta.db_table)
    users = get_user_model()._meta
    user_table, user_pk = quote(users.db_table), quote(users.pk.column)
    user_active = quote(users.get_field("is_active").column)
    # _grant_holds as SQL; params: now, 'share'. A grant the owner or staff gave (no via)
    # skips the EXISTS; one a grantee gave looks up its one sharing grant by primary key.
    holds = (
        f"(g.via_id IS NULL OR EXISTS (SELECT 1 FROM {grant} p"  # noqa: S608 — identifiers from _meta
        f" INNER JOIN {user_table} giver ON giver.{user_pk} = g.granted_by_id"
        f" WHERE p.id = g.via_id AND p.document_id = g.document_id AND p.via_id IS NULL"
        f" AND (p.expires_at IS NULL OR p.expires_at > %s) AND p.permission = %s AND giver.{user_active}"
        f" AND (p.user_id = g.granted_by_id OR p.group_id IN"
        f" (SELECT {member_group} FROM {member_table} WHERE {member_user} = g.granted_by_id))))"
    )
    groups_of = f"(SELECT {member_group} FROM {member_table} WHERE {member_user} = %s)"  # noqa: S608
    return {
        "doc": quote(Document._meta.db_table),
        "grant": grant,
        "groups_of": groups_of,
        # The grant names the person or one of their groups; params: user, user.
        "reaches": f"(g.user_id = %s OR g.group_id IN {groups_of})",
        "unexpired": "(g.expires_at IS NULL OR g.expires_at > %s)",
        "holds": holds,
    }


@cache
def _visible_ids_sql() -> str:
    # Written out once rather than composed by the ORM on every request: compiling the
    # three-way UNION cost more than running it. Table and column names come from _meta.
    parts = _grant_sql_parts()
    doc, grant, unexpired, holds = parts["doc"], parts["grant"], parts["unexpired"], parts["holds"]
    return (
        f"SELECT id FROM {doc} WHERE owner_id = %s"  # noqa: S608 — identifiers from _meta; values are bound
        f" UNION SELECT g.document_id FROM {grant} g WHERE g.user_id = %s AND {unexpired} AND {holds}"
        f" UNION SELECT g.document_id FROM {grant} g WHERE {unexpired} AND {holds} AND g.group_id IN"
        f" {parts['groups_of']}"
    )


def _page_grants_sql(count: int) -> str:
    """The grants that count for a person on `count` given documents: (document_id, permission)
    rows under the same rule as _visible_ids_sql. Params: the ids, user, user, now, now, 'share'.
    Raw for the same reason: the ORM form (_active_grants_for) took ~5 ms to compile per page."""
    parts = _grant_sql_parts()
    ids = ", ".join(["%s"] * count)
    return (
        f"SELECT g.document_id, g.permission FROM {parts['grant']} g"  # noqa: S608 — identifiers from _meta
        f" WHERE g.document_id IN ({ids}) AND {parts['reaches']}"
        f" AND {parts['unexpired']} AND {parts['holds']}"
    )


def document_permissions(user, document: Document, *, now: datetime | None = None) -> DocumentPermissions:
    """What `user` may do with `document` (all False when they may not see it)."""
    if document is None or document.pk is None:
        return NO_PERMISSIONS
    return permissions_for(user, [document], now=now)[document.pk]


def permissions_for(user, documents, *, now: datetime | None = None) -> dict[int, DocumentPermissions]:
    """What `user` may do with each of `documents`, by id: the rule of `document_permissions`
    for a whole page in at most one query (none when the person owns every row).

    The API's list asked `document_permissions` once per row it did not own: 21 queries
    for a page of 25. Here the page's grants are read together and each row takes the
    highest level among its own grants (a direct view grant beside a group's download
    grant gives download), exactly as one row alone would.
    """
    documents = [d for d in documents if d is not None and d.pk is not None]
    if not _is_signed_in(user):
        return {d.pk: NO_PERMISSIONS for d in documents}
    result = {d.pk: OWNER_PERMISSIONS for d in documents if d.owner_id == user.pk}
    others = [d.pk for d in documents if d.pk not in result]
    if not others:
        return result
    ranks = dict.fromkeys(others, 0)
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_page_grants_sql(len(others)), [*others, user.pk, user.pk, now, now, Permission.SHARE.value])
        for document_id, permission in cursor.fetchall():
            ranks[document_id] = max(ranks[document_id], PERMISSION_RANK[Permission(permission)])
    return result | {pk: DocumentPermissions.from_rank(rank) for pk, rank in ranks.items()}


def document_get_visible(user, document_id) -> Document:
    """The document if `user` may see it; Document.DoesNotExist otherwise (also for malformed ids).

    One document is read by primary key and then judged by `document_permissions`, the
    same rule that `documents_visible_to` writes as SQL (a test keeps the two in step):
    for its owner that is one query, for anyone else one more on that document's grants.
    Filtering by `documents_visible_to` instead built the person's whole visible set
    (~800 ids in the benchmark) to test one id. Nothing is remembered on the instance: a
    later `document_permissions` call asks the grants again, so it sees a grant removed
    in between.
    """
    try:
        pk = int(document_id)
    except (TypeError, ValueError):
        raise Document.DoesNotExist from None
    if pk <= 0 or pk > 2**63 - 1 or not _is_signed_in(user):
        raise Document.DoesNotExist
    # The stored search vector is the widest column and no page shows it.
    document = Document.objects.select_related("owner", "current_version").defer("search_vector").get(pk=pk)
    if not document_permissions(user, document).view:
        raise Document.DoesNotExist
    return document


def document_exists(document_id) -> bool:
    """Whether the id names a document at all: only to tell 'denied' from 'not found' in the audit trail."""
    try:
        pk = int(document_id)
    except (TypeError, ValueError):
        return False
    return 0 < pk <= 2**63 - 1 and Document.objects.filter(pk=pk).exists()


@dataclass(frozen=True)
class DocumentFilters:
    query: str = ""
    family: str = ""
    category: str = ""
    tag: str = ""
    security_level: str = ""
    modified_from: date | None = None
    modified_to: date | None = None
    sort: str = ""  # "" means relevance when searching, else DEFAULT_SORT
    # The API's search filters: any of these families, every one of these tags, owner name contains.
    families: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    author: str = ""


@dataclass
class DocumentPage:
    documents: list[Document]
    number: int
    per_page: int
    has_next: bool
    # Counted only when asked (with_total: the API's pagination), and only up to
    # `offset + TOTAL_LOOKAHEAD` matches: past that, `total` is that bound and total_exact False.
    total: int | None = None
    total_exact: bool = True
    # With a query: per document id, {"field": "content"|"description", "snippet": escaped HTML with <mark>}.
    highlights: dict[int, dict[str, str]] = field(default_factory=dict)
    did_you_mean: str | None = None  # a query that matched nothing, respelt from words the person may see

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def _pg_search(queryset: QuerySet[Document], parsed: search.ParsedQuery) -> QuerySet[Document]:
    """PostgreSQL: what matches comes from the GIN index on the whole vector; what ranks, from the small one.

    - The match (`search_vector @@ query`) is answered by the GIN index alone, without
      reading any row's vector, for words, prefixes, OR and -word. A phrase is not: the
      index knows which documents hold its words, not where, and re-checking a phrase
      reads each candidate's whole vector (its file's words too). So a phrase is checked
      in the newest PHRASE_CANDIDATES visible documents holding all its words only.
    - Ranking (ts_rank_cd: field weights, proximity) reads `search_rank`, the fields and
      the first passage of the text, never the whole file's vector; only the newest
      RANK_CANDIDATES matches are ranked, further matches follow them, newest first.
    - The PostgreSQL planner does not know that testing `@@` on a row reads its whole
      vector: for a common word it scans the table and reads every vector (2.5 s at
      100,000 documents, against 0.1 s through the index). The page's query therefore
      runs under `search.planner_settings()` (bitmap index scans only, no JIT).
    """
    tsquery, params = search.pg_tsquery(parsed)
    exact = _RowSQL(f"{{vector}} @@ {tsquery}", params, output_field=BooleanField(), vector="search_vector")
    if parsed.has_phrase and parsed.groups:
        loose, loose_params = search.pg_tsquery(parsed, loose=True)
        holds_words = _RowSQL(
            f"{{vector}} @@ {loose}", loose_params, output_field=BooleanField(), vector="search_vector"
        )
        candidates = queryset.alias(holds_words=holds_words).filter(holds_words=True)
        newest_sql, newest_params = (
            candidates.order_by("-updated_at", "-id").values("pk")[: search.PHRASE_CANDIDATES].query.sql_with_params()
        )
        among_newest = _RowSQL(
            f"{{id}} = ANY(ARRAY({newest_sql}))", newest_params, output_field=BooleanField(), id="id"
        )  # Django-compiled SQL, values bound
        matched = queryset.alias(among_newest=among_newest, matches=exact).filter(among_newest=True, matches=True)
    else:
        matched = queryset.alias(matches=exact).filter(matches=True)
    rank = _RowSQL(
        f"coalesce(ts_rank_cd({{rank}}, {tsquery}), 0)", params, output_field=FloatField(), rank="search_rank"
    )
    # Each match's place among the matches, newest first, in the same pass (a window over
    # the matched rows): only the newest RANK_CANDIDATES are ranked, and the match is
    # computed once (a separate "newest 500" subquery computed it twice).
    recency = Window(expression=RowNumber(), order_by=[F("updated_at").desc(), F("id").desc()])
    return matched.annotate(recency=recency).annotate(
        rank=Case(When(recency__lte=search.RANK_CANDIDATES, then=rank), default=Value(0.0), output_field=FloatField())
    )


def _search(queryset: QuerySet[Document], parsed: search.ParsedQuery) -> QuerySet[Document]:
    """Full-text search (documents.search), annotated with `rank`: higher is better."""
    if connection.vendor == "postgresql":
        return _pg_search(queryset, parsed)
    positive, negative = search.fts_match(parsed)
    table = search.FTS_TABLE
    if negative:
        excluded = f"SELECT rowid FROM {table} WHERE {table} MATCH %s"  # noqa: S608 — a constant name
        queryset = queryset.exclude(pk__in=RawSQL(excluded, [negative]))  # noqa: S611 — values bound
    if not positive:
        return queryset.annotate(rank=Value(0.0, output_field=FloatField()))
    weights = ", ".join(str(w) for w in search.WEIGHTS.values())
    # bm25 is lower for better matches; its negation ranks like ts_rank_cd.
    rank = _RowSQL(
        f"(SELECT -bm25({table}, {weights}) FROM {table}"  # noqa: S608 — constants only
        f" WHERE {table} MATCH %s AND rowid = {{id}})",
        [positive],
        output_field=FloatField(),
        id="id",
    )
    matched = f"SELECT rowid FROM {table} WHERE {table} MATCH %s"  # noqa: S608 — a constant name
    return queryset.filter(pk__in=RawSQL(matched, [positive])).annotate(rank=rank)  # noqa: S611 — values bound


def documents_list(
    user,
    *,
    filters: DocumentFilters,
    page: int = 1,
    per_page: int = DEFAULT_PAGE_SIZE,
    with_total: bool = False,
    max_per_page: int = MAX_PAGE_SIZE,
    with_files: bool = False,
    plan: str | None = None,
) -> DocumentPage:
    """One page of the documents `user` may see, filtered, searched and sorted.

    No COUNT over the whole result: a page fetches one row more than it shows to
    know whether a next page exists, so its cost does not grow with the archive.
    `with_total` counts matches up to TOTAL_LOOKAHEAD past the page's start, inside
    the page's own query (one round trip whatever the page size). `with_files` joins
    each row's current version and reads its description (the add-in's list shows both).
    `plan` forces a visibility plan ("ids" or "walk", see the module docstring); by default
    `visibility_plan` picks it. Every plan gives the same page.
    """
    per_page = max(1, min(int(per_page), max_per_page))
    page = max(1, int(page))
    plan = (plan or visibility_plan(user)) if _is_signed_in(user) else VISIBLE_IDS
    queryset = documents_visible_to(user, plan=plan)
    if filters.family:
        queryset = queryset.filter(family=filters.family)
    if filters.category:
        queryset = queryset.filter(category__iexact=filters.category)
    if filters.tag:
        queryset = queryset.filter(Exists(Tag.objects.filter(documents=OuterRef("pk"), name=filters.tag.lower())))
    if filters.security_level:
        queryset = queryset.filter(security_level=filters.security_level)
    if filters.families:
        queryset = queryset.filter(family__in=filters.families)
    for tag in filters.tags:
        queryset = queryset.filter(Exists(Tag.objects.filter(documents=OuterRef("pk"), name=tag.lower())))
    if filters.author:
        queryset = queryset.filter(owner__name__icontains=filters.author)
    tz = timezone.get_current_timezone()
    if filters.modified_from:
        queryset = queryset.filter(updated_at__gte=datetime.combine(filters.modified_from, time.min, tzinfo=tz))
    if filters.modified_to:
        queryset = queryset.filter(updated_at__lte=datetime.combine(filters.modified_to, time.max, tzinfo=tz))
    parsed = search.parse_query(filters.query)
    ranked = bool(parsed)
    if ranked:
        visible = queryset
        queryset = _search(queryset, parsed)
    offset = (page - 1) * per_page
    window = slice(offset, offset + per_page + 1)
    if ranked and not filters.sort:
        queryset = queryset.order_by("-rank", "-updated_at", "-id")
        page_rows = queryset
    else:
        order = SORTS.get(filters.sort, SORTS[DEFAULT_SORT])
        queryset = queryset.order_by(*order)
        # Late row fetch: the page's ids are chosen from the narrow covering index
        # (doc_list_cover_idx: id + the sort and filter columns, index-only scans over
        # every visible document), then only those rows are read in full and joined to
        # their owners. Reading every visible row whole to keep 21 cost twice as much.
        page_rows = Document.objects.filter(pk__in=queryset.values("pk")[window]).order_by(*order)
        window = slice(None)
    total, total_exact = None, True
    if with_files:
        page_rows = page_rows.select_related("owner", "current_version").defer("search_vector")
    else:
        page_rows = page_rows.select_related("owner").defer("search_vector", "description")
    if with_total:
        bound = offset + TOTAL_LOOKAHEAD
        if ranked and not filters.sort:
            # Relevance order already reads every match (the recency window): count them in that
            # same pass. A capped count read them all a second time (a probe per match in "walk").
            page_rows = page_rows.annotate(capped_total=Window(Count("pk")))
        else:
            if not ranked and replace(filters, query="", sort="") == DocumentFilters():
                # Nothing narrows the visible set: count its ids alone. Joining them back to the
                # documents (as a filtered count must) probed the primary key once per id: a
                # count of 800 cost twice the page. Grants and owners always name a document.
                capped_sql, capped_params = _visible_count_sql(user, timezone.now(), bound + 1)
            else:
                capped_sql, capped_params = _capped_count_sql(queryset, bound + 1)
            page_rows = page_rows.annotate(
                capped_total=RawSQL(capped_sql, capped_params, output_field=IntegerField())  # noqa: S611 — Django's SQL
            )
    tags_inline = connection.vendor == "postgresql"
    if tags_inline:
        page_rows = page_rows.annotate(tag_pairs=_tag_pairs())
    # PostgreSQL: see documents.search.planner_settings. The walk plan takes them for lists too,
    # with index scans on (its per-row probes): the planner prices a probe per row it might
    # check (a filtered list: ~730,000 for 16,000 candidates), past jit_above_cost, and
    # compiling that plan took ~0.55 s of a 50 ms query.
    walk = plan == VISIBLE_WALK
    with search.planner_settings(ranked or walk, index_probes=walk):
        rows = list(page_rows[window])
        if with_total:
            # The count rides on every row; a page past the end has none, so it asks once on its own.
            counted = rows[0].capped_total if rows else _capped_count(queryset, offset + TOTAL_LOOKAHEAD + 1)
    if with_total:
        total, total_exact = min(counted, offset + TOTAL_LOOKAHEAD), counted <= offset + TOTAL_LOOKAHEAD
    _attach_tags(rows, inline=tags_inline)
    documents = rows[:per_page]
    highlights, did_you_mean = {}, None
    if ranked and documents:
        highlights = search.snippets([d.pk for d in documents], parsed)
    elif ranked and page == 1:
        # Nothing matched: the closest words of documents this person may see, never others'.
        did_you_mean = search.suggestion(filters.query, parsed, visible.values("pk"))
    return DocumentPage(
        documents=documents,
        number=page,
        per_page=per_page,
        has_next=len(rows) > per_page,
        total=total,
        total_exact=total_exact,
        highlights=highlights,
        did_you_mean=did_you_mean,
    )


def _visible_count_sql(user, now: datetime, limit: int) -> tuple[str, list]:
    """How many documents `user` may see, counted up to `limit` (as `(SELECT ...)`), in either plan.

    PostgreSQL: every source (owned; granted to the person; granted to each of their
    groups, one LATERAL scan per group) stops after `limit` rows before the UNION, so a
    person who sees 30,000 documents costs a few `limit`s of index entries, not 30,000 (a
    UNION's distinct step reads all of its input before any LIMIT above it). Each source
    holds distinct documents (a grant is unique per document and person or group), so
    either one source was cut, and it alone shows `limit` documents (the count says "at
    least `limit`"), or none was, and the count is exact. SQLite counts the whole UNION.
    """
    visible_sql, visible_params = _visible_ids(user, now)
    if connection.vendor != "postgresql":
        return f"(SELECT COUNT(*) FROM ({visible_sql} LIMIT %s) capped)", [*visible_params, limit]  # noqa: S608
    parts = _grant_sql_parts()
    doc, grant, rule = parts["doc"], parts["grant"], f"{parts['unexpired']} AND {parts['holds']}"
    sql = (
        f"(SELECT count(*) FROM ((SELECT id FROM {doc} WHERE owner_id = %s LIMIT %s)"  # noqa: S608 — identifiers from _meta
        f" UNION (SELECT g.document_id FROM {grant} g WHERE g.user_id = %s AND {rule} LIMIT %s)"
        f" UNION (SELECT per_group.document_id FROM {parts['groups_of']} AS mine(group_id) CROSS JOIN LATERAL"
        f" (SELECT g.document_id FROM {grant} g WHERE g.group_id = mine.group_id AND {rule} LIMIT %s) per_group)"
        f") visible)"
    )
    holds = [now, now, Permission.SHARE.value]
    return sql, [user.pk, limit, user.pk, *holds, limit, user.pk, *holds, limit]


def _capped_count_sql(queryset: QuerySet[Document], limit: int) -> tuple[str, tuple]:
    """`(SELECT COUNT(*) FROM (the first `limit` matching ids))`: uncorrelated, so PostgreSQL
    and SQLite run it once per query (an InitPlan), not once per row it is attached to."""
    sql, params = queryset.order_by().values("pk")[:limit].query.sql_with_params()
    return f"(SELECT COUNT(*) FROM ({sql}) capped)", params  # noqa: S608 — Django-compiled SQL, values bound


def _capped_count(queryset: QuerySet[Document], limit: int) -> int:
    return queryset.order_by().values("pk")[:limit].count()


def _tag_pairs() -> ArraySubquery:
    """PostgreSQL: a row's tags as one array of "id:name" in name order, read inside the page's
    own query (a correlated subquery on the page's rows only: PostgreSQL evaluates it after
    the LIMIT). One round trip fewer than _attach_tags' own query (issue #16: ≤ 5 for the API)."""
    through = Document.tags.through
    pairs = (
        through.objects.filter(document_id=OuterRef("pk"))
        .order_by("tag__name", "tag_id")
        .values(pair=Concat(Cast("tag_id", CharField()), Value(":"), "tag__name", output_field=CharField()))
    )
    return ArraySubquery(pairs)


def _attach_tags(documents: list[Document], *, inline: bool = False) -> None:
    """Load the documents' tags (by name) as prefetch_related("tags") would: from each row's
    `tag_pairs` (inline, PostgreSQL: _tag_pairs), else in one query.

    prefetch_related builds and filters a related manager's queryset per document
    before its one query; on a 20-row page that bookkeeping cost more than the query.
    The result goes where prefetch_related puts it, so `document.tags.all()` (the
    pages, the API's representations) reads it without a query.
    """
    if not documents:
        return
    by_document: dict[int, list[Tag]] = {document.pk: [] for document in documents}
    if inline:
        for document in documents:
            for pair in document.tag_pairs:
                tag_id, name = pair.split(":", 1)
                by_document[document.pk].append(Tag(id=int(tag_id), name=name))
    else:
        through = Document.tags.through
        pairs = (
            through.objects.filter(document_id__in=list(by_document))
            .order_by("tag__name")
            .values_list("document_id", "tag_id", "tag__name")
        )
        for document_id, tag_id, name in pairs:
            by_document[document_id].append(Tag(id=tag_id, name=name))
    for document in documents:
        tags = Tag.objects.all()
        tags._result_cache = by_document[document.pk]
        tags._prefetch_done = True
        document._prefetched_objects_cache = {"tags": tags}


def document_versions(document: Document) -> QuerySet[DocumentVersion]:
    return document.versions.select_related("author", "text", "rendition").order_by("-number")


def document_version_get(document: Document, number) -> DocumentVersion:
    try:
        number = int(number)
    except (TypeError, ValueError):
        raise DocumentVersion.DoesNotExist from None
    return document.versions.get(number=number)


def document_grants(document: Document) -> QuerySet[Grant]:
    return document.grants.select_related("user", "group").order_by("-created_at")


def document_grant_get(document: Document, grant_id) -> Grant:
    """One grant on `document` (the caller has already been allowed to manage it)."""
    return document.grants.select_related("document").get(pk=int(grant_id))


def document_access_history(document: Document, *, limit: int = 50):
    """The document's recent audit events (who viewed, opened, downloaded, shared it)."""
    from audit.selectors import audit_events_for_target

    # Newest first by time alone: audit_target_time_idx (target_type, target_id, -time) then
    # yields the rows in order and the scan stops after `limit`. With the id tie-break it read
    # and sorted the document's whole history on every view (3,500 events: 4 ms, growing).
    # Only what the page shows is loaded: not the rows' JSON data or user agents.
    return (
        audit_events_for_target(target=document)
        .order_by("-time")
        .only("time", "action", "outcome", "actor_repr")[:limit]
    )


def shares_created_by(user) -> QuerySet[Share]:
    """The share links `user` made (owners manage their own links only)."""
    if not _is_signed_in(user):
        return Share.objects.none()
    return Share.objects.filter(created_by_id=user.pk).select_related("document").order_by("-created_at")


def share_get_manageable(user, share_id) -> Share:
    """A share `user` may change: one they made, or any link to a document they own."""
    if not _is_signed_in(user):
        raise Share.DoesNotExist
    try:
        pk = int(share_id)
    except (TypeError, ValueError):
        raise Share.DoesNotExist from None
    return (
        Share.objects.select_related("document")
        .filter(Q(created_by_id=user.pk) | Q(document__owner_id=user.pk))
        .get(pk=pk)
    )


def document_shares(document: Document) -> QuerySet[Share]:
    return document.shares.select_related("created_by").order_by("-created_at")


def share_get_by_token(token: str) -> Share | None:
    """The share whose link carries `token`, whatever its state; None for an unknown token."""
    from documents.tokens import default_share_token_generator

    if not token or len(token) > 200:
        return None
    token_hash = default_share_token_generator.hash(token)
    return (
        Share.objects.select_related("document", "document__current_version", "created_by")
        .filter(token_hash=token_hash)
        .first()
    )


# --- extracted text (issue #14) ----------------------------------------------------------


def versions_pending_extraction_count() -> int:
    """Versions whose text is queued or was never queued: the docuid_extraction_pending gauge."""
    return DocumentVersion.objects.filter(Q(text__isnull=True) | Q(text__status="pending")).count()


def versions_to_extract(*, include: str = "missing", document_id: int | None = None) -> QuerySet[DocumentVersion]:
    """What `search_reindex` extracts: "missing" (never done, or pending), "failed" (those and the failed), or "all"."""
    versions = DocumentVersion.objects.select_related("document").order_by("pk")
    if document_id is not None:
        return versions.filter(document_id=document_id)
    if include == "all":
        return versions
    statuses = ["pending", "failed"] if include == "failed" else ["pending"]
    return versions.filter(Q(text__isnull=True) | Q(text__status__in=statuses))
