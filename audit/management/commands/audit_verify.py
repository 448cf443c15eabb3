from django.core.management.base import BaseCommand, CommandError

from audit.selectors import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; exits non-zero naming the first broken link."

    def handle(self, *args, **options):
        result = audit_chain_verify()
        if result.first_broken is not None:
            raise CommandError(
                f"Audit chain BROKEN after {result.checked - 1} good events: {result.first_broken.describe()}"
            )
        self.stdout.write(f"Audit chain OK: {result.checked} events verified, head {result.head}.")
