"""Find the audit event behind a leaked page: `manage.py watermark_trace <ref or request id>`."""

from django.core.management.base import BaseCommand, CommandError

from documents import watermark
from documents.models import Share


class Command(BaseCommand):
    help = (
        "Print the audit event of the open or download whose stamp carries this reference (the 12 hex "
        "characters after 'ref') or request id: who, when, which document and version, from which network."
    )

    def add_arguments(self, parser):
        parser.add_argument("reference", help="The stamp's 'ref' (preferred) or its 'request' id.")

    def handle(self, *args, **options):
        events = list(watermark.events_for_stamp(options["reference"]))
        if not events:
            raise CommandError("No stamped open or download has this reference or request id.")
        if len(events) > 1:
            self.stdout.write(f"{len(events)} events share this request id; the stamp's ref tells them apart.")
        for event in events:
            stamp = event.data.get("watermark", {})
            lines = [
                f"event {event.pk}: {event.action} ({event.outcome}) at {event.time.isoformat()}",
                f"  received by: {event.actor_repr or '(no signed-in person)'}",
                f"  document: {event.target_repr} (id {event.target_id}), version {event.data.get('version', '-')}",
                f"  request id: {event.request_id}  network: {event.masked_ip or '-'}",
                f"  stamp: ref {stamp.get('ref')} at {stamp.get('at')} for a {stamp.get('kind')}"
                + (" (PDF rendition of an Office original)" if stamp.get("rendition") else ""),
            ]
            share_id = event.data.get("share_id")
            if share_id:
                share = Share.objects.filter(pk=share_id).first()
                made_by = share.created_by if share else None
                lines.append(f"  share link #{share_id}, made by {made_by or '(deleted)'}")
            self.stdout.write("\n".join(lines))
