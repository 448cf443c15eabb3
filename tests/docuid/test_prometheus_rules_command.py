"""manage.py prometheus_rules: the shipped rules with runbook links from DOCUID_RUNBOOK_BASE_URL."""

import re
from io import StringIO

import yaml
from django.conf import settings
from django.core.management import call_command

RULES = settings.BASE_DIR / "deploy" / "prometheus" / "rules.yml"


def alerts(text: str) -> list[dict]:
    return [rule for group in yaml.safe_load(text)["groups"] for rule in group["rules"] if "alert" in rule]


def test_the_shipped_rules_point_at_no_foreign_host():
    for rule in alerts(RULES.read_text()):
        assert re.fullmatch(r"docs/runbooks/docuid-[a-z0-9-]+\.md", rule["annotations"]["runbook_url"]), rule["alert"]


def test_every_runbook_link_is_joined_to_the_setting(settings, tmp_path):
    settings.DOCUID_RUNBOOK_BASE_URL = "https://git.example.net/ops/docuid/-/blob/main/docs/runbooks"
    out = tmp_path / "rules.yml"
    call_command("prometheus_rules", "--out", str(out))
    rendered, shipped = alerts(out.read_text()), alerts(RULES.read_text())
    assert len(rendered) == len(shipped)
    for mine, theirs in zip(rendered, shipped, strict=True):
        name = theirs["annotations"]["runbook_url"].removeprefix("docs/runbooks/")
        assert (
            mine["annotations"]["runbook_url"] == f"https://git.example.net/ops/docuid/-/blob/main/docs/runbooks/{name}"
        )
        assert {k: v for k, v in mine.items() if k != "annotations"} == {
            k: v for k, v in theirs.items() if k != "annotations"
        }
    assert "# " in out.read_text()  # the comments (the why of each threshold) are kept


def test_unset_the_relative_links_stay(settings):
    settings.DOCUID_RUNBOOK_BASE_URL = ""
    stdout = StringIO()
    call_command("prometheus_rules", stdout=stdout)
    assert stdout.getvalue() == RULES.read_text()


def test_an_incident_from_a_shipped_rule_links_the_deployments_runbook(settings):
    from operations.services.incidents import Alert, _runbook

    def alert(url):
        return Alert(
            status="firing", labels={}, annotations={"runbook_url": url}, starts_at=None, ends_at=None, fingerprint="x"
        )

    settings.DOCUID_RUNBOOK_BASE_URL = "https://runbooks.example.org/docuid/"
    assert (
        _runbook(alert("docs/runbooks/docuid-worker-down.md"))
        == "https://runbooks.example.org/docuid/docuid-worker-down.md"
    )
    settings.DOCUID_RUNBOOK_BASE_URL = ""
    # Without a base the incident has no link (Incident.runbook_url must be a URL; the alert names the runbook).
    assert _runbook(alert("docs/runbooks/docuid-worker-down.md")) == ""
    assert _runbook(alert("javascript:alert(1)")) == ""
    assert _runbook(alert("docs/runbooks/../../etc/passwd")) == ""
