"""Extract (again) the text of document versions: the missing ones by default, resumable."""

from django.core.management.base import BaseCommand

from documents import selectors
from documents.management.version_options import add_version_arguments, version_selection
from documents.services.extraction import version_text_extract


class Command(BaseCommand):
    help = (
        "Extract the text of document versions for search. Without options: the versions never extracted "
        "(or still pending), so an interrupted run resumes where it stopped. --failed adds the failed ones, "
        "--all redoes every version, --document ID redoes one document's versions."
    )

    def add_arguments(self, parser):
        add_version_arguments(parser, step="extraction", done="extracted")

    def handle(self, *args, **options):
        include, document_id = version_selection(options)
        # Ids first: the set is fixed when the run starts, and each version is reloaded as its turn comes.
        ids = list(selectors.versions_to_extract(include=include, document_id=document_id).values_list("pk", flat=True))
        total = len(ids)
        counts = {"done": 0, "failed": 0, "skipped": 0}
        for index, version in enumerate(_each(ids), start=1):
            text = version_text_extract(version=version)
            counts[text.status] = counts.get(text.status, 0) + 1
            self.stdout.write(
                f"[{index}/{total}] {index * 100 // total:3d}%  version {version.pk}: {text.status}"
                + (f" ({text.error})" if text.error else ""),
            )
        summary = ", ".join(f"{count} {status}" for status, count in counts.items())
        self.stdout.write(self.style.SUCCESS(f"{total} version(s) processed: {summary}."))


def _each(ids: list[int]):
    for pk in ids:
        version = selectors.versions_to_extract(include="all").filter(pk=pk).first()
        if version is not None:  # deleted meanwhile
            yield version
