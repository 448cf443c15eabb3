from django.core.management.base import BaseCommand

from audit.sealer import audit_seal


class Command(BaseCommand):
    help = (
        "Seal every committed audit event into hash-linked batches now (the beat task audit.tasks.seal does it "
        "every AUDIT_SEAL_INTERVAL seconds). Safe to run beside it: only one sealer works at a time."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--until-done",
            action="store_true",
            help="Keep sealing until no final event is left (a backlog larger than one run's batches).",
        )

    def handle(self, *args, **options):
        batches = events = 0
        while True:
            result = audit_seal()
            batches, events = batches + result.batches, events + result.events
            if result.busy:
                self.stdout.write("Another sealer is running; it seals what is final.")
                return
            if not options["until_done"] or not result.batches:
                break
        self.stdout.write(f"Sealed {events} audit events in {batches} batches.")
