"""Runbook links: the rules ship `docs/runbooks/<alert>.md`, deployments publish them at DOCUID_RUNBOOK_BASE_URL."""

import re

from django.conf import settings

RELATIVE_RUNBOOK = re.compile(r"docs/runbooks/([\w.-]+\.md)")
_RULES_LINE = re.compile(r"^(\s*runbook_url:\s*)[\"']?docs/runbooks/([\w.-]+\.md)[\"']?\s*$", re.M)


def runbook_link(name: str, base_url: str | None = None) -> str:
    """`<base>/<name>`, or the repository path `docs/runbooks/<name>` with no base configured."""
    base = settings.DOCUID_RUNBOOK_BASE_URL if base_url is None else base_url
    return f"{base.rstrip('/')}/{name}" if base else f"docs/runbooks/{name}"


def resolve_runbook_url(url: str) -> str:
    """An alert's runbook_url as DocuID stores it: relative links joined to the base, absolute ones kept."""
    match = RELATIVE_RUNBOOK.fullmatch(url)
    return runbook_link(match[1]) if match else url


def render_rules(text: str, base_url: str) -> str:
    """Prometheus rules text with each relative runbook_url joined to `base_url` (comments kept)."""
    if not base_url:
        return text
    return _RULES_LINE.sub(lambda m: f"{m[1]}{runbook_link(m[2], base_url)}", text)
