from django.core.management.base import BaseCommand

from operations.selectors import backups_list


class Command(BaseCommand):
    help = "List recent backups, newest first, with their verification status."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=30)

    def handle(self, *args, **options):
        rows = list(backups_list(limit=max(1, options["limit"])))
        if not rows:
            self.stdout.write("No backups yet. Run `manage.py backup`.")
            return
        self.stdout.write(f"{'ID':>5}  {'NAME':<36} {'STATUS':<10} {'STARTED (UTC)':<20} {'SIZE':>12}  VERIFIED  WHERE")
        for b in rows:
            size = "" if b.size_bytes is None else str(b.size_bytes)
            self.stdout.write(
                f"{b.pk:>5}  {b.name:<36} {b.status:<10} {b.started_at:%Y-%m-%d %H:%M:%S}  {size:>12}  "
                f"{b.verify_status:<8}  {','.join(b.locations)}"
                + ("  PINNED" if b.pinned else "")
                + (f"  DEGRADED: not yet in {','.join(b.replicas_pending)}" if b.degraded else "")
                + (f"  error: {b.error[:80]}" if b.error else "")
            )
