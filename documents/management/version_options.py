"""The options shared by the commands that (re)process document versions: which versions to take.

renditions_build and search_reindex pick their versions the same way (missing by default, resumable;
--failed, --all or --document ID); one definition keeps their flags and their checks from drifting apart.
"""

from django.core.management.base import CommandError

from documents import selectors


def add_version_arguments(parser, *, step: str, done: str) -> None:
    """--all / --failed / --document ID, mutually exclusive; `step`/`done` name the work ("rendition", "rendered")."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help=f"Every version, including those already {done}.")
    which.add_argument("--failed", action="store_true", help=f"Also retry the versions whose {step} failed.")
    which.add_argument("--document", type=int, metavar="ID", help="Only this document's versions (all of them).")


def version_selection(options: dict) -> tuple[str, int | None]:
    """(include, document_id) from the parsed options; an unknown document is a CommandError, not an empty run."""
    include = "all" if options["all"] else "failed" if options["failed"] else "missing"
    document_id = options["document"]
    if document_id is not None and not selectors.document_exists(document_id):
        raise CommandError(f"No document {document_id}.")
    return include, document_id
