from django.core.management.base import BaseCommand

from operations.maintenance import maintenance_active, maintenance_off, maintenance_on


class Command(BaseCommand):
    help = "Show, switch on or switch off maintenance mode (503 for everything but health checks and metrics)."

    def add_arguments(self, parser):
        parser.add_argument("state", choices=["on", "off", "status"])
        parser.add_argument("--reason", default="maintenance", help="Recorded in the flag file.")

    def handle(self, *args, **options):
        if options["state"] == "on":
            maintenance_on(reason=options["reason"])
        elif options["state"] == "off":
            maintenance_off()
        self.stdout.write(f"Maintenance mode is {'ON' if maintenance_active() else 'off'}.")
