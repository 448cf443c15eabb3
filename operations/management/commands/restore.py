from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import ngettext

from operations.errors import OperationsError
from operations.management.progress import TerminalProgress
from operations.services import backup_restore, restore_plan


class Command(BaseCommand):
    help = "Replace the database and document files with a backup's (maintenance mode meanwhile)."
    # Like migrate: a disaster-recovery command must not refuse to run because of an unrelated
    # system check (a template or URL setting broken in the incident); it checks what it needs
    # itself (key, versions, schema). Skipping them also saves ~0.4 s per run.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("backup", help="Backup id (backup_list) or archive name (when the database is lost).")
        parser.add_argument("--yes", action="store_true", help="Really replace the live data.")
        parser.add_argument("--force", action="store_true", help="Restore despite another version or newer schema.")

    def handle(self, *args, **options):
        try:
            plan = restore_plan(backup=options["backup"])
        except OperationsError as exc:
            raise CommandError(str(exc)) from None
        m = plan.manifest
        self.stdout.write(
            f"Backup {plan.ref.base} from {m['snapshot_at']} (DocuID {m['app_version']}, {m['database']['vendor']})"
        )
        self.stdout.write(f"It will REPLACE the database and restore {len(m['files'])} document files.")
        self.stdout.write(f"  {'TABLE':<40} {'NOW':>10} {'AFTER':>10}")
        for table, now, after in plan.table_changes:
            if now != after:
                self.stdout.write(
                    f"  {table:<40} {now if now is not None else '-':>10} {after if after is not None else '-':>10}"
                )
        unchanged = sum(1 for _, now, after in plan.table_changes if now == after)
        self.stdout.write(f"  ({unchanged} tables with the same row count not shown)")
        for refusal in plan.refusals:
            self.stdout.write(self.style.WARNING(f"  REFUSED: {refusal}"))
        if plan.refusals and not options["force"]:
            raise CommandError("Restore refused (nothing changed); --force overrides: " + "; ".join(plan.refusals))
        if not options["yes"]:
            raise CommandError("Nothing changed. Run again with --yes to restore.")
        progress = TerminalProgress(self.stdout)
        try:
            seconds = backup_restore(plan=plan, force=options["force"], progress=progress)
        except OperationsError as exc:
            raise CommandError(str(exc)) from None
        finally:
            progress.finish()
        self.stdout.write(self.style.SUCCESS(f"Restored {plan.ref.base} in {seconds:.1f}s; maintenance mode is off."))
        if plan.pending_migrations:
            self.stdout.write(
                self.style.WARNING(
                    ngettext(
                        "The backup predates %(count)d migration: run `manage.py migrate`.",
                        "The backup predates %(count)d migrations: run `manage.py migrate`.",
                        len(plan.pending_migrations),
                    )
                    % {"count": len(plan.pending_migrations)}
                )
            )
