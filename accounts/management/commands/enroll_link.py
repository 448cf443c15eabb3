from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import User
from accounts.phone import normalize_phone


class Command(BaseCommand):
    help = "Issue a single-use passkey enrollment link for a person and send it through the notifiers."

    def add_arguments(self, parser):
        parser.add_argument("phone", help="The person's phone number (any format).")
        parser.add_argument("--print", action="store_true", help="Also print the link (for handing over in person).")
        parser.add_argument("--no-send", action="store_true", help="Do not send it through the notifiers.")

    def handle(self, *args, phone, print, no_send, **options):
        try:
            user = User.objects.get(phone_number=normalize_phone(phone))
        except (ValidationError, User.DoesNotExist):
            raise CommandError("No person has that phone number. Create them first (user_create).") from None
        url = services.enrollment_link_create(user=user, acting_user=None, send=not no_send)
        self.stdout.write(self.style.SUCCESS(f"Enrollment link issued for {user}."))
        if print or no_send:
            self.stdout.write(url)
