"""`ops_report`: print (or mail, or export as CSV) the daily or weekly ops report."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import ngettext

from operations.services.reports import ops_report_build, ops_report_csv, ops_report_send, ops_report_text


class Command(BaseCommand):
    help = "Authentication rates and trend, document opens, failure reasons, fraud, incidents (MTTA/MTTR), backups."

    def add_arguments(self, parser):
        parser.add_argument("--period", choices=["daily", "weekly"], default="daily")
        parser.add_argument("--format", choices=["text", "csv"], default="text")
        parser.add_argument("--email", action="store_true", help="Also mail it to DOCUID_OPS_EMAILS.")

    def handle(self, *args, **options):
        report = ops_report_build(period=options["period"])
        if options["format"] == "csv":
            self.stdout.write(ops_report_csv(report), ending="")
        else:
            self.stdout.write(ops_report_text(report), ending="")
        if options["email"]:
            try:
                sent = ops_report_send(report=report)
            except OSError as exc:  # smtplib errors are OSErrors: refused, timed out, unknown host
                raise CommandError(f"The report could not be mailed: {exc}") from None
            if not sent:
                raise CommandError("DOCUID_OPS_EMAILS is empty: set it to the addresses that get the report.")
            self.stderr.write(
                ngettext("Mailed to %(count)d recipient.", "Mailed to %(count)d recipients.", sent) % {"count": sent}
            )
