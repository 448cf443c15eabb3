import io

import segno
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.staff import staff_bootstrap


class Command(BaseCommand):
    help = (
        "Create or update a staff user and print a new password, a TOTP provisioning QR code and backup codes. "
        "Previous TOTP and backup codes stop working."
    )

    def add_arguments(self, parser):
        parser.add_argument("phone", help="The staff member's phone number (any format; stored as E.164).")
        parser.add_argument("--name", default="", help="Full name (kept if omitted for an existing user).")
        parser.add_argument("--no-superuser", action="store_true", help="Staff without superuser rights.")

    def handle(self, *args, phone, name, no_superuser, **options):
        try:
            creds = staff_bootstrap(phone_number=phone, name=name, superuser=not no_superuser)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        out = self.stdout
        out.write(self.style.SUCCESS(f"{'Created' if creds.created else 'Updated'} staff user {creds.user}."))
        out.write("Sign in at /admin/ with the phone number, this password and a code from your authenticator app.")
        out.write(f"\nPassword (shown once): {creds.password}\n")
        out.write("Scan this with an authenticator app (or enter the URI by hand):")
        # Rendered whole, then written once: the OutputWrapper ends every write() with a newline, and segno
        # writes each row and its newline separately, which put a blank line under every row (unscannable).
        qr = io.StringIO()
        segno.make(creds.totp_uri, error="m").terminal(out=qr, compact=True)
        out.write(qr.getvalue(), ending="")
        out.write(f"\n{creds.totp_uri}\n")
        out.write("Backup codes (each works once; keep them offline):")
        out.write("  " + "  ".join(creds.backup_codes))
