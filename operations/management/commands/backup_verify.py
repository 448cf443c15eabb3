from django.core.management.base import BaseCommand, CommandError

from operations.errors import OperationsError
from operations.management.progress import TerminalProgress
from operations.services import backup_verify


class Command(BaseCommand):
    help = "Fetch, decrypt and restore a backup into a scratch database; compare it with its manifest."
    # Like migrate: a disaster-recovery command must not refuse to run because of an unrelated
    # system check (a template or URL setting broken in the incident); it checks what it needs
    # itself (key, versions, schema). Skipping them also saves ~0.4 s per run.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("backup", help="Backup id (backup_list) or archive name.")

    def handle(self, *args, **options):
        progress = TerminalProgress(self.stdout)
        try:
            report = backup_verify(backup=options["backup"], progress=progress)
        except OperationsError as exc:
            raise CommandError(str(exc)) from None
        finally:
            progress.finish()
        if not report.ok:
            raise CommandError(f"Backup {report.base} FAILED verification: " + "; ".join(report.problems))
        self.stdout.write(
            self.style.SUCCESS(f"Backup {report.base} verified")
            + f" in {report.seconds:.1f}s: {report.files_checked} files, {report.tables_checked} tables, "
            f"{report.audit_events_checked} audit events, chain head {report.manifest.get('audit_head') or '-'}"
        )
