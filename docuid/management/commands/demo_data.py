from django.core.management.base import BaseCommand
from django.db import transaction

from docuid.demo import DEMO_STAFF_PHONE, demo_data_load


class Command(BaseCommand):
    help = "Load the demo users (the API contract's demo numbers), a staff user and their documents. Idempotent."

    def handle(self, *args, **options):
        with transaction.atomic():
            summary = demo_data_load()
        for line in summary:
            self.stdout.write(f"  {line}")
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(
            f"For the support admin, run: .venv/bin/python manage.py staff_bootstrap {DEMO_STAFF_PHONE} "
            "(prints a password, a TOTP QR code and backup codes)."
        )
