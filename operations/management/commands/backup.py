from django.core.management.base import BaseCommand, CommandError

from operations.errors import OperationsError
from operations.management.progress import TerminalProgress
from operations.services import backup_run


class Command(BaseCommand):
    help = "Take a full encrypted backup (database, document files, manifest) and copy it to every replica."
    # Like migrate: a disaster-recovery command must not refuse to run because of an unrelated
    # system check (a template or URL setting broken in the incident); it checks what it needs
    # itself (key, versions, schema). Skipping them also saves ~0.4 s per run.
    requires_system_checks = []

    def handle(self, *args, **options):
        progress = TerminalProgress(self.stdout)
        try:
            backup = backup_run(progress=progress)
        except OperationsError as exc:
            raise CommandError(str(exc)) from None
        finally:
            progress.finish()
        self.stdout.write(
            self.style.SUCCESS(f"Backup {backup.pk} {backup.name} succeeded")
            + f": {backup.size_bytes} bytes, {backup.file_count} files, {backup.duration_seconds:.1f}s, "
            f"stored in {', '.join(backup.locations)}, sha256 {backup.sha256}"
        )
