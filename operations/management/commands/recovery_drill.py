from django.core.management.base import BaseCommand, CommandError

from operations.management.progress import TerminalProgress
from operations.services import recovery_drill_run


def _seconds(value):
    return "-" if value is None else f"{value:.1f}s"


class Command(BaseCommand):
    help = "Back up, restore into scratch, verify, and report the achieved RTO and RPO against the targets."
    # Like migrate: a disaster-recovery command must not refuse to run because of an unrelated
    # system check (a template or URL setting broken in the incident); it checks what it needs
    # itself (key, versions, schema). Skipping them also saves ~0.4 s per run.
    requires_system_checks = []

    def handle(self, *args, **options):
        progress = TerminalProgress(self.stdout)
        try:
            drill = recovery_drill_run(progress=progress)
        finally:
            progress.finish()
        self.stdout.write(f"Recovery drill {drill.pk}: {drill.get_status_display()}")
        self.stdout.write(f"  backup: {drill.backup.name if drill.backup else '-'}")
        self.stdout.write(f"  RTO achieved {_seconds(drill.rto_seconds)}  (target {drill.rto_target_seconds}s)")
        point = f"{drill.restore_point_at:%Y-%m-%d %H:%M:%S} UTC, " if drill.restore_point_at else ""
        self.stdout.write(
            f"  RPO achieved {_seconds(drill.rpo_seconds) if drill.rpo_basis != 'none' else 'unbounded'}  "
            f"(target {drill.rpo_target_seconds}s; newest restorable point when the drill started: "
            f"{point}{drill.get_rpo_basis_display()})"
        )
        wal = f", WAL archive lag {_seconds(drill.wal_lag_seconds)}" if drill.wal_lag_seconds is not None else ""
        self.stdout.write(f"  (the drill's own backup was {_seconds(drill.backup_age_seconds)} old when verified{wal})")
        if drill.error:
            raise CommandError(f"Recovery drill failed: {drill.error}")
        if not drill.passed:
            raise CommandError("Recovery drill restored the data but missed a target (see above).")
        self.stdout.write(self.style.SUCCESS("Recovery drill passed."))
