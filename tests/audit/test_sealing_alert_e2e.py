"""End to end: a stopped sealer -> DocuID's /metrics -> a real Prometheus -> DocuIDAuditSealingBehind fires; sealing clears it.

DocuID runs under gunicorn (tests/deploy/test_alerting_e2e.docuid_under_gunicorn: production
settings, SQLite file) with no worker, so nothing seals: exactly a stopped sealer. The
promised delay is cut to 2 seconds and the rule's `for: 2m` to 0s, nothing else of the
shipped rule changes. Prometheus scrapes and evaluates every second. Then `manage.py
audit_seal` (what the beat task runs) seals the backlog and the alert goes away.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy import stacks
from tests.deploy.test_alerting_e2e import RULES, docuid_under_gunicorn, prometheus_query, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.own_database]

ALERT = "DocuIDAuditSealingBehind"
REPO = Path(__file__).resolve().parents[2]


def _rules() -> str:
    rules = yaml.safe_load(RULES.read_text())
    groups = []
    for group in rules["groups"]:
        kept = [rule for rule in group["rules"] if rule.get("alert") == ALERT]
        for rule in kept:
            rule["for"] = "0s"
        if kept:
            groups.append({**group, "rules": kept})
    assert groups, f"{ALERT} is not in rules.yml"
    return yaml.safe_dump({"groups": groups}, sort_keys=False)


def _firing(port: int) -> list[dict]:
    return prometheus_query(port, f'ALERTS{{alertname="{ALERT}",alertstate="firing"}}')


def test_a_stopped_sealer_fires_the_alert_and_sealing_clears_it(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIT_SEAL_MAX_DELAY", "2")
    # Creating the demo people recorded audit events; no worker runs, so none is sealed.
    with (
        docuid_under_gunicorn(tmp_path) as (base_url, database),
        stacks.prometheus(tmp_path, _rules(), {"docuid": [base_url.removeprefix("http://")]}) as prometheus_port,
    ):
        firing = wait_for("the alert to fire", lambda: _firing(prometheus_port), 40)
        assert firing[0]["metric"]["severity"] == "warning"
        unsealed = prometheus_query(prometheus_port, 'max(docuid_audit_unsealed_events{job="docuid"})')
        assert float(unsealed[0]["value"][1]) >= 1

        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "PROMETHEUS"))},
            "DJANGO_SETTINGS_MODULE": "docuid.settings",
            "SECRET_KEY": "e2e-test-secret-key-not-for-deployment",
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "DOCUID_VAR_DIR": str(database.parent),
            "DATABASE_URL": f"sqlite:///{database}",
        }
        sealed = subprocess.run(
            [sys.executable, "manage.py", "audit_seal", "--until-done"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sealed.returncode == 0, sealed.stderr
        assert "Sealed" in sealed.stdout
        wait_for("the alert to clear", lambda: not _firing(prometheus_port), 30)
