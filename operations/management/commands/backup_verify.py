from django.core.management.base import BaseCommand, CommandError

from operations.errors import OperationsError
from operations.management.progress import TerminalProgress
from operations.services import backup_replicas_verify, backup_verify


class Command(BaseCommand):
    help = (
        "Fetch, decrypt and restore a backup into a scratch database; compare it with its manifest. "
        "With --replica [NAME]: read every kept backup's copy on the replicas (or one) back and check its SHA-256."
    )
    # Like migrate: a disaster-recovery command must not refuse to run because of an unrelated
    # system check (a template or URL setting broken in the incident); it checks what it needs
    # itself (key, versions, schema). Skipping them also saves ~0.4 s per run.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("backup", nargs="?", help="Backup id (backup_list) or archive name.")
        parser.add_argument(
            "--replica",
            nargs="?",
            const="",
            metavar="NAME",
            help="Re-verify replica copies: every replica, or only NAME (as in DOCUID_BACKUP_REPLICAS).",
        )

    def handle(self, *args, **options):
        if options["replica"] is not None:
            return self._replicas(options["replica"] or None)
        if not options["backup"]:
            raise CommandError("Name a backup (id or archive name), or use --replica [NAME].")
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

    def _replicas(self, replica: str | None) -> None:
        try:
            checks = backup_replicas_verify(replica=replica)
        except OperationsError as exc:
            raise CommandError(str(exc)) from None
        for check in checks:
            state = "ok" if check.ok else f"FAILED: {check.problem}"
            self.stdout.write(f"  {check.backup:<36} {check.storage:<20} {state}")
        failed = [check for check in checks if not check.ok]
        if failed:
            raise CommandError(
                f"{len(failed)} of {len(checks)} replica copies failed their check; missing or different copies "
                "are queued to be copied again (`manage.py backup retry-replicas`)."
            )
        self.stdout.write(self.style.SUCCESS(f"{len(checks)} replica copies read back and match their checksums."))
