"""Write Prometheus's rules file with every runbook_url joined to DOCUID_RUNBOOK_BASE_URL.

deploy/prometheus/rules.yml ships repository-relative links (`docs/runbooks/<alert>.md`): the
rules cannot read a setting, and a hard-coded host would point at someone else's copy of the
runbooks. Deployment renders the file with this command (e.g. `manage.py prometheus_rules
--out /etc/prometheus/rules.yml`); Alertmanager's messages and DocuID's incidents then carry
the deployment's own links. Unset, the relative paths are kept (find them in the checkout).
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from docuid.runbooks import render_rules


class Command(BaseCommand):
    help = "Print (or write to --out) the Prometheus rules with runbook links from DOCUID_RUNBOOK_BASE_URL."

    def add_arguments(self, parser):
        parser.add_argument(
            "--rules", default=str(settings.BASE_DIR / "deploy" / "prometheus" / "rules.yml"), help="Rules to read."
        )
        parser.add_argument("--out", default="-", help="Where to write them ('-': standard output).")

    def handle(self, *args, rules: str, out: str, **options):
        try:
            text = Path(rules).read_text()
        except OSError as exc:
            raise CommandError(f"cannot read {rules}: {exc.strerror}") from None
        rendered = render_rules(text, settings.DOCUID_RUNBOOK_BASE_URL)
        if out == "-":
            self.stdout.write(rendered, ending="")
        else:
            Path(out).write_text(rendered)
