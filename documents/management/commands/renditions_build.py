"""Make (again) the PDF renditions and thumbnails of document versions: the missing ones by default, resumable."""

from django.core.management.base import BaseCommand, CommandError

from documents import office, renditions, selectors


class Command(BaseCommand):
    help = (
        "Make the PDF renditions (Office/OpenDocument files, by LibreOffice) and first-page thumbnails of "
        "document versions. Without options: the versions never rendered (or still pending), so an interrupted "
        "run resumes where it stopped. --failed adds the failed ones, --all redoes every version, "
        "--document ID redoes one document's versions."
    )

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--all", action="store_true", help="Every version, including those already rendered.")
        which.add_argument("--failed", action="store_true", help="Also retry the versions whose rendition failed.")
        which.add_argument("--document", type=int, metavar="ID", help="Only this document's versions (all of them).")

    def handle(self, *args, **options):
        include = "all" if options["all"] else "failed" if options["failed"] else "missing"
        document_id = options["document"]
        if document_id is not None and not selectors.document_exists(document_id):
            raise CommandError(f"No document {document_id}.")
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
