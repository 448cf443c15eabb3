from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from audit.actions import Action
from audit.services import audit_export


def _iso(option: str):
    def parse(value: str) -> datetime:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise CommandError(
                f"{option} must be an ISO 8601 date or time, e.g. 2025-01-31 or 2025-01-31T12:00:00Z; got {value!r}."
            ) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    return parse


class Command(BaseCommand):
    help = (
        "Stream audit events as CSV or JSON lines, in chain order; records an ops.audit_export event. "
        "CSV cells that a spreadsheet would run as a formula are prefixed with an apostrophe."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["csv", "jsonl"], default="jsonl")
        parser.add_argument("--since", help="Only events at or after this time (ISO 8601; UTC if no offset).")
        parser.add_argument("--until", help="Only events before this time (ISO 8601; UTC if no offset).")
        parser.add_argument("--action", help="Only this kind of event, e.g. auth.denied.")
        parser.add_argument(
            "--output", help="Write to this file instead of stdout (recommended: log lines also go to stdout)."
        )

    def handle(self, *args, **options):
        since = _iso("--since")(options["since"]) if options["since"] else None
        until = _iso("--until")(options["until"]) if options["until"] else None
        if since and until and since >= until:
            raise CommandError("--since must be before --until.")
        action = options["action"]
        if action and action not in Action.values:
            raise CommandError(f"Unknown --action {action!r}. Known actions: {', '.join(Action.values)}.")
        path = options["output"]
        try:
            out = open(path, "w", encoding="utf-8", newline="") if path else self.stdout  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror}.") from None
        try:
            count = audit_export(
                out=out, fmt=options["format"], since=since, until=until, action=action, destination=path or "stdout"
            )
        finally:
            if path:
                out.close()
        if path:
            self.stderr.write(f"Exported {count} audit events to {path}.")
