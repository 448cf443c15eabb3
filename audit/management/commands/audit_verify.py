import re

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.selectors import audit_chain_verify


def _hash(value: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise CommandError("--saved-head must be a head hash as audit_verify printed it (64 hex digits).")
    return value


class Command(BaseCommand):
    help = (
        "Verify the audit trail: the legacy hash chain, every sealed batch (events' content hashes, Merkle roots, "
        "the batch chain) and that it still reaches its recorded head; exits non-zero naming the first broken link, "
        "or when events have waited longer than AUDIT_SEAL_MAX_DELAY to be sealed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--saved-head",
            type=str.lower,
            help="A head hash noted down earlier (from this command or the daily task's log): it must still be in "
            "the trail. Catches removed newest batches even if whoever removed them also rewound the head row.",
        )

    def handle(self, *args, **options):
        saved_head = _hash(options["saved_head"]) if options["saved_head"] else None
        result = audit_chain_verify(saved_head=saved_head)
        broken = result.first_broken
        if broken is not None:
            good = result.checked - 1 if broken.field in ("prev_hash", "hash") else result.checked
            raise CommandError(f"Audit chain BROKEN after {good} good events: {broken.describe()}")
        unsealed = result.unsealed
        summary = (
            f"{result.checked} events verified in the legacy chain and {result.batches} sealed batches, "
            f"head {result.head}; {unsealed.count} events not sealed yet"
        )
        if result.overdue.count:
            overdue = result.overdue
            raise CommandError(
                f"Audit trail intact ({summary}), but {overdue.count} events have waited longer than "
                f"{settings.AUDIT_SEAL_MAX_DELAY} s to be sealed (oldest: event {overdue.oldest_id} at "
                f"{overdue.oldest_time.isoformat()}): the sealer is stopped or held back. "
                "See docs/runbooks/docuid-audit-sealing-behind.md."
            )
        self.stdout.write(f"Audit chain OK: {summary}.")
