"""The on-call console in a terminal: `incident list|ack|update|resolve`."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.phone import normalize_phone
from operations.selectors import incident_get, incidents_list
from operations.services.incidents import (
    IncidentError,
    incident_acknowledge,
    incident_post_update,
    incident_resolve,
)
from operations.services.reports import duration


class Command(BaseCommand):
    help = "List open incidents, acknowledge one, post an update, or resolve it (critical ones need a post-mortem)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="list|ack|update|resolve")
        listing = sub.add_parser("list", help="Open incidents, newest first.")
        listing.add_argument("--all", action="store_true", help="Include resolved incidents.")
        listing.add_argument("--limit", type=int, default=50)
        for name, text in (("ack", "Acknowledge an incident."), ("resolve", "Resolve an incident.")):
            action = sub.add_parser(name, help=text)
            action.add_argument("incident_id", type=int)
            action.add_argument("--by", metavar="PHONE", help="Staff member acting (phone number), for the record.")
        update = sub.add_parser("update", help="Post an update on an incident.")
        update.add_argument("incident_id", type=int)
        update.add_argument("--message", "-m", required=True)
        update.add_argument("--public", action="store_true", help="Also show it on the public status page.")
        update.add_argument("--by", metavar="PHONE", help="Staff member acting (phone number), for the record.")

    def handle(self, *args, **options):
        if options["action"] == "list":
            return self._list(include_resolved=options["all"], limit=options["limit"])
        incident = incident_get(incident_id=options["incident_id"])
        if incident is None:
            raise CommandError(f"No incident #{options['incident_id']}; see `manage.py incident list --all`.")
        acting_user = self._staff(options.get("by"))
        try:
            if options["action"] == "ack":
                incident = incident_acknowledge(incident=incident, acting_user=acting_user)
                self.stdout.write(self.style.SUCCESS(f"Incident #{incident.pk} acknowledged."))
            elif options["action"] == "update":
                incident_post_update(
                    incident=incident, message=options["message"], public=options["public"], acting_user=acting_user
                )
                where = "public and internal" if options["public"] else "internal"
                self.stdout.write(self.style.SUCCESS(f"Update posted on incident #{incident.pk} ({where})."))
            else:
                incident = incident_resolve(incident=incident, acting_user=acting_user)
                self.stdout.write(self.style.SUCCESS(f"Incident #{incident.pk} resolved."))
        except IncidentError as exc:
            raise CommandError(str(exc)) from None

    def _staff(self, phone: str | None):
        if not phone:
            return None
        try:
            number = normalize_phone(phone)
        except ValidationError as exc:
            raise CommandError(f"--by: {exc.messages[0]}") from None
        user = get_user_model().objects.filter(phone_number=number, is_staff=True, is_active=True).first()
        if user is None:
            raise CommandError("--by: no active staff member has that phone number.")
        return user

    def _list(self, *, include_resolved: bool, limit: int) -> None:
        incidents = list(incidents_list(include_resolved=include_resolved, limit=limit))
        if not incidents:
            self.stdout.write("No open incidents." if not include_resolved else "No incidents.")
            return
        self.stdout.write(f"{'ID':>5}  {'SEVERITY':<8}  {'STATUS':<12}  {'STARTED (UTC)':<16}  {'ACK AFTER':<9}  TITLE")
        for incident in incidents:
            self.stdout.write(
                f"{incident.pk:>5}  {incident.severity:<8}  {incident.status:<12}  "
                f"{incident.started_at:%Y-%m-%d %H:%M}  {duration(incident.time_to_acknowledge):<9}  {incident.title}"
            )
