import csv

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import services


class Command(BaseCommand):
    help = "Create a person (or many from a CSV with columns phone,name,email) and optionally send enrollment links."

    def add_arguments(self, parser):
        parser.add_argument("phone", nargs="?", help="Phone number (any format).")
        parser.add_argument("--name", default="", help="Full name.")
        parser.add_argument("--email", default="", help="Email (optional).")
        parser.add_argument("--csv", dest="csv_path", help="Import people from this CSV file instead.")
        parser.add_argument("--enroll", action="store_true", help="Send each new person an enrollment link.")

    def handle(self, *args, phone, name, email, csv_path, enroll, **options):
        if csv_path:
            try:
                with open(csv_path, newline="", encoding="utf-8") as handle:
                    rows = list(csv.DictReader(handle))
            except OSError as exc:
                raise CommandError(f"Cannot read {csv_path}: {exc.strerror}") from None
        elif phone and name:
            rows = [{"phone": phone, "name": name, "email": email}]
        else:
            raise CommandError("Give a phone number and --name, or --csv FILE.")
        created = failed = 0
        for number, row in enumerate(rows, start=1):
            try:
                services.user_create(
                    phone_number=(row.get("phone") or "").strip(),
                    name=(row.get("name") or "").strip(),
                    email=(row.get("email") or "").strip(),
                    acting_user=None,
                    send_enrollment=enroll,
                )
            except ValidationError as exc:
                failed += 1
                self.stderr.write(f"Row {number}: {'; '.join(exc.messages)}")
            else:
                created += 1
        self.stdout.write(self.style.SUCCESS(f"{created} created, {failed} refused."))
        if failed and not created:
            raise CommandError("Nobody was created.")
