"""The hot parts of the document pages, rendered with Django's Jinja2 backend.

Django's template language resolves every `{{ variable|filter }}` through its generic
lookup machinery: a 20-row list page cost ~10 ms in it, more than the page's SQL. The
list's content with its rows, and the access history's rows, live in
templates/jinja2/documents/ (autoescaped, editable by a designer) and Jinja2 renders
them at about the speed of hand-built strings; base.html around them stays a Django
template.
"""

from functools import cache

from django.template import engines
from django.urls import reverse
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe

from audit.actions import Action
from documents.models import Family, Rendition, SecurityLevel
from documents.renditions import UNTHUMBNAILED_LEVELS


class _Labels(dict):
    """A label per value; a value without one prints as itself (templates index these: cheaper than .get)."""

    def __missing__(self, key):
        return key


class _Default(dict):
    def __init__(self, default: str, mapping: dict):
        super().__init__(mapping)
        self.default = default

    def __missing__(self, key):
        return self.default


# A thumbnail whose size was not recorded is laid out in this box (renditions draw them 320 px wide).
THUMBNAIL_BOX = (320, 414)
ACTION_LABELS = _Labels(Action.choices)
FAMILY_LABELS = _Labels(Family.choices)
LEVEL_LABELS = _Labels(SecurityLevel.choices)
# The .filetype icon (static/css/docuid.css) drawn for each family.
FAMILY_ICONS = _Default(
    "other",
    {
        Family.PDF: "pdf",
        Family.WORD: "doc",
        Family.EXCEL: "sheet",
        Family.POWERPOINT: "slide",
        Family.TEXT: "text",
        Family.IMAGE: "image",
    },
)
LEVEL_BADGES = _Default(
    "neutral", {SecurityLevel.PUBLIC: "ok", SecurityLevel.CONFIDENTIAL: "warn", SecurityLevel.RESTRICTED: "bad"}
)


def tags_of(document):
    """The document's tags as the page loaded them (selectors attach them); the manager is not built per row."""
    cached = getattr(document, "_prefetched_objects_cache", {}).get("tags")
    return cached if cached is not None else document.tags.all()


def _render(template_name: str, context: dict, request=None) -> SafeString:
    # engines[...] and get_template are cached lookups: the template compiles once per process.
    return mark_safe(engines["jinja2"].get_template(template_name).render(context, request))


def _row_context(documents, *, user, detail_prefix: str) -> dict:
    """What templates/jinja2/documents/_document_rows.html needs: `documents` from selectors.documents_list
    (owner selected, tags attached); a row links to `detail_prefix` + its id + "/"."""
    return {
        "documents": documents,
        "user_id": user.pk,
        "detail_prefix": detail_prefix,
        "tags_of": tags_of,
        "family_labels": FAMILY_LABELS,
        "family_icons": FAMILY_ICONS,
        "level_labels": LEVEL_LABELS,
        "level_badges": LEVEL_BADGES,
    }


def document_list_content(request, context: dict) -> SafeString:
    """The document list page's content (templates/jinja2/documents/list_content.html), rows or cards included.

    `context` is the view's (form, errors, page, values, filtered, past_end, querystring, choices,
    layout: "table" or "grid", table_query / grid_query: the same list in the other layout).
    """
    list_url = reverse("documents:list")
    documents = context["page"].documents
    rows = _row_context(documents, user=request.user, detail_prefix=list_url)
    if context.get("layout") == "grid":
        rows["thumbnails"] = thumbnails_of(documents)
        rows["thumbnail_suffix"] = "/thumbnail/"
    return _render("documents/list_content.html", {**context, **rows, "list_url": list_url}, request)


def thumbnails_of(documents) -> dict:
    """document id → (width, height, version id) of its current version's thumbnail, in one query.

    Only the grid asks (the table shows none, and keeps its query count). Documents without a
    thumbnail (text, a rendition not made yet or failed, confidential and restricted documents,
    whose first page is not shown unstamped) get the file-type icon instead.
    """
    shown = [d for d in documents if d.current_version_id and d.security_level not in UNTHUMBNAILED_LEVELS]
    if not shown:
        return {}
    # The same rule as renditions.thumbnail_for (a thumbnail file exists), for the whole page at once.
    found = {
        version_id: (width or THUMBNAIL_BOX[0], height or THUMBNAIL_BOX[1])
        for version_id, width, height in Rendition.objects.filter(version_id__in=[d.current_version_id for d in shown])
        .exclude(thumbnail="")
        .values_list("version_id", "thumbnail_width", "thumbnail_height")
    }
    return {d.pk: (*found[d.current_version_id], d.current_version_id) for d in shown if d.current_version_id in found}


def history_rows(events) -> SafeString:
    """The <tr> rows of a document's access history (owner only): when, what, who, outcome."""
    return _render("documents/_history_rows.html", {"events": events, "action_labels": ACTION_LABELS})


def blank_form(form_class) -> SafeString:
    """An unbound form's fields as HTML (`as_div`), rendered once per process and language.

    An empty form renders the same every time, and its widget templates cost ~0.9 ms a
    form per page; the page adds its own `{% csrf_token %}`.
    """
    return _blank_form(form_class, translation.get_language())


@cache
def _blank_form(form_class, language: str) -> SafeString:
    return form_class().as_div()
