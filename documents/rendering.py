"""The HTML fragments the document pages repeat per row, rendered with Django's Jinja2 backend.

Django's template language resolves every `{{ variable|filter }}` through its generic
lookup machinery: a 20-row list page cost ~10 ms in it, more than the page's SQL. The
rows live in templates/jinja2/documents/ (autoescaped, editable by a designer) and
Jinja2 renders them at the speed of hand-built strings; the page around them stays a
Django template.
"""

from functools import cache

from django.template import engines
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe

from audit.actions import Action
from documents.models import Family, SecurityLevel

ACTION_LABELS = dict(Action.choices)
FAMILY_LABELS = dict(Family.choices)
LEVEL_LABELS = dict(SecurityLevel.choices)
# The .filetype icon (static/css/docuid.css) drawn for each family.
FAMILY_ICONS = {
    Family.PDF: "pdf",
    Family.WORD: "doc",
    Family.EXCEL: "sheet",
    Family.POWERPOINT: "slide",
    Family.TEXT: "text",
    Family.IMAGE: "image",
}
LEVEL_BADGES = {SecurityLevel.PUBLIC: "ok", SecurityLevel.CONFIDENTIAL: "warn", SecurityLevel.RESTRICTED: "bad"}


def tags_of(document):
    """The document's tags as the page loaded them (selectors attach them); the manager is not built per row."""
    cached = getattr(document, "_prefetched_objects_cache", {}).get("tags")
    return cached if cached is not None else document.tags.all()


def _render(template_name: str, context: dict) -> SafeString:
    # engines[...] and get_template are cached lookups: the template compiles once per process.
    return mark_safe(engines["jinja2"].get_template(template_name).render(context))


def document_rows(documents, *, user, detail_prefix: str) -> SafeString:
    """The <tr> rows of the documents table: icon, title, category, tags, level, type, size, modified, owner.

    `documents` come from selectors.documents_list (owner selected, tags prefetched);
    `detail_prefix` is the list URL, to which a document's id and "/" are appended.
    """
    return _render(
        "documents/_document_rows.html",
        {
            "documents": documents,
            "user_id": user.pk,
            "detail_prefix": detail_prefix,
            "tags_of": tags_of,
            "family_labels": FAMILY_LABELS,
            "family_icons": FAMILY_ICONS,
            "level_labels": LEVEL_LABELS,
            "level_badges": LEVEL_BADGES,
        },
    )


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
