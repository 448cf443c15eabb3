"""Make (again) the PDF renditions and thumbnails of document versions: the missing ones by default, resumable."""

from django.core.management.base import BaseCommand

from documents import office, renditions
from documents.management.version_options import add_version_arguments, version_selection


class Command(BaseCommand):
    help = (
        "Make the PDF renditions (Office/OpenDocument files, by LibreOffice) and first-page thumbnails of "
        "document versions. Without options: the versions never rendered (or still pending), so an interrupted "
        "run resumes where it stopped. --failed adds the failed ones, --all redoes every version, "
        "--document ID redoes one document's versions."
    )

    def add_arguments(self, parser):
        add_version_arguments(parser, step="rendition", done="rendered")

    def handle(self, *args, **options):
        include, document_id = version_selection(options)
        if not office.available():
            self.stderr.write(
                self.style.WARNING("LibreOffice (soffice) is not installed: Office files will fail as 'unavailable'.")
            )
        # Ids first: the set is fixed when the run starts, and each version is reloaded as its turn comes.
        ids = list(renditions.versions_to_render(include=include, document_id=document_id).values_list("pk", flat=True))
        total = len(ids)
        counts = {"done": 0, "failed": 0, "skipped": 0}
        for index, version in enumerate(_each(ids), start=1):
            rendition = renditions.build(version=version)
            counts[rendition.status] = counts.get(rendition.status, 0) + 1
            self.stdout.write(
                f"[{index}/{total}] {index * 100 // total:3d}%  version {version.pk}: {rendition.status}"
                + (f" ({rendition.error})" if rendition.error else "")
                + (f" in {rendition.duration_ms} ms" if rendition.duration_ms is not None else ""),
            )
        summary = ", ".join(f"{count} {status}" for status, count in counts.items())
        self.stdout.write(self.style.SUCCESS(f"{total} version(s) processed: {summary}."))


def _each(ids: list[int]):
    for pk in ids:
        version = renditions.versions_to_render(include="all").select_related("document").filter(pk=pk).first()
        if version is not None:  # deleted meanwhile
            yield version
