from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import ngettext

from operations.errors import OperationsError
from operations.management.progress import TerminalProgress
from operations.services import backup_pin, backup_replicas_retry, backup_run


class Command(BaseCommand):
    help = (
        "Take a full encrypted backup (database, document files, manifest) and copy it to every replica; "
        "`backup pin ID` / `backup unpin ID` keep a backup from retention or give it back; "
        "`backup retry-replicas` copies backups a replica still lacks."
    )
    # Like migrate: a disaster-recovery command must not refuse to run because of an unrelated
    # system check (a template or URL setting broken in the incident); it checks what it needs
    # itself (key, versions, schema). Skipping them also saves ~0.4 s per run.
    requires_system_checks = []

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", metavar="[pin|unpin|retry-replicas]")
        for name, text in (("pin", "Never prune this backup."), ("unpin", "Let retention prune it again.")):
            action = sub.add_parser(name, help=text)
            action.add_argument("backup", help="Backup id (backup_list) or archive name.")
        sub.add_parser("retry-replicas", help="Copy backups kept locally to the replicas that lack them.")

    def handle(self, *args, **options):
        try:
            if options.get("action") in ("pin", "unpin"):
                backup = backup_pin(backup=options["backup"], pinned=options["action"] == "pin")
                state = "pinned: retention never prunes it" if backup.pinned else "unpinned: retention applies"
                self.stdout.write(self.style.SUCCESS(f"Backup {backup.pk} {backup.name} {state}."))
                return
            if options.get("action") == "retry-replicas":
                completed = backup_replicas_retry()
                self.stdout.write(
                    ngettext(
                        "%(count)d backup now complete on every replica.",
                        "%(count)d backups now complete on every replica.",
                        len(completed),
                    )
                    % {"count": len(completed)}
                )
                return
        except OperationsError as exc:
            raise CommandError(str(exc)) from None
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
        if backup.replicas_pending:
            self.stderr.write(
                self.style.WARNING(
                    f"DEGRADED: not yet in {', '.join(backup.replicas_pending)} ({backup.replica_error}). "
                    "The local copy is kept; the hourly retry (or `manage.py backup retry-replicas`) copies it."
                )
            )
