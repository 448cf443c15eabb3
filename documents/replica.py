"""List and search pages read from the read replica, with every shown row re-checked on the primary.

The page (visible-set walk, search, ranking, ordering, tags) is the expensive read and
runs on the replica when one is usable (docuid.db_routers). The replica may lag: a grant
revoked or a document deleted a moment ago can still be there. So the page's rows are then
judged again on the primary by `documents.selectors.permissions_for` — the one decider —
from the primary's own owner column, in at most two queries by primary key, and a row the
person may no longer see is dropped with its highlight. The lag can only hide what is new
(a grant just given shows once replayed), never show what was taken away.

Without a usable replica this is `documents_list` on the primary, with no extra query. A person
who wrote in the last seconds (docuid.read_your_writes) reads the primary.
"""

from django.db import DEFAULT_DB_ALIAS

from docuid.db_routers import read_from_replica, replica_configured
from docuid.read_your_writes import wrote_recently
from documents import selectors
from documents.models import Document


def documents_list(user, **kwargs) -> selectors.DocumentPage:
    """`selectors.documents_list` (same arguments and result), read from the replica where possible."""
    if not replica_configured() or wrote_recently(user):
        return selectors.documents_list(user, **kwargs)
    page, alias = read_from_replica(lambda: selectors.documents_list(user, **kwargs))
    if alias == DEFAULT_DB_ALIAS:
        return page
    if page.did_you_mean:
        # Respelt from words of the documents the replica thinks the person may see, which
        # may include one just taken away: a search that found nothing asks the primary.
        return selectors.documents_list(user, **kwargs)
    if not page.documents:
        return page
    allowed = _still_visible(user, [document.pk for document in page.documents])
    if len(allowed) != len(page.documents):
        page.documents = [document for document in page.documents if document.pk in allowed]
        page.highlights = {pk: value for pk, value in page.highlights.items() if pk in allowed}
    for document in page.documents:
        # A relation the page reads later (lazily, while rendering) follows the instance's
        # database: make that the primary, so a replica lost meanwhile cannot fail the page.
        document._state.db = DEFAULT_DB_ALIAS
        if document.owner_id is not None and "owner" in document._state.fields_cache:
            document.owner._state.db = DEFAULT_DB_ALIAS
    return page


def _still_visible(user, ids: list[int]) -> set[int]:
    """The ids among `ids` that `user` may view according to the primary, now."""
    owners = Document.objects.using(DEFAULT_DB_ALIAS).filter(pk__in=ids).values_list("pk", "owner_id")
    current = [Document(pk=pk, owner_id=owner_id) for pk, owner_id in owners]
    permissions = selectors.permissions_for(user, current)
    return {pk for pk, granted in permissions.items() if granted.view}
