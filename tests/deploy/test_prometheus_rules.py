"""Prometheus rules and config, Alertmanager config: structure, promtool and amtool.

The promtool/amtool tests (marked slow: they start those binaries) skip when
the tools are missing, except in CI (CI=true), where a missing tool is a
failure: install them with deploy/install-monitoring-tools.sh. Nothing here
needs Django or a database.
"""

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
RULES = PROMETHEUS_DIR / "rules.yml"
RULES_TEST = PROMETHEUS_DIR / "rules_test.yml"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
ALERTMANAGER_CONFIG = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
RUNBOOKS = REPO / "docs" / "runbooks"
INSTALL_SCRIPT = "deploy/install-monitoring-tools.sh"
RUNBOOK_BASE = "docs/runbooks/"  # relative: `manage.py prometheus_rules` joins DOCUID_RUNBOOK_BASE_URL
SECRETS_DIR = "/etc/docuid/secrets/"

GUIDE_RECORDINGS = {"auth_success_rate", "auth_failure_rate", "document_open_rate", "error_rate_5xx"}
LATENCY_RECORDINGS = {f"api_latency_ms:{q}{scope}" for q in ("p50", "p95", "p99") for scope in ("", ":all")}
CRITICAL_ALERTS = {
    "DocuIDHighLatency",
    "DocuIDHigh5xxRate",
    "DocuIDAuthServiceDown",
    "DocuIDBackupMissing",
    "DocuIDRecoveryDrillFailing",
}
WARNING_ALERTS = {"DocuIDFailedLoginsIncreasing", "DocuIDUnusualTraffic", "DocuIDFraudReports"}
WORKER_ALERTS = {"DocuIDWorkerDown", "DocuIDBeatStalled", "DocuIDScheduledBackupNotStarted"}
INFRASTRUCTURE_CRITICAL_ALERTS = {"DocuIDDatabaseDown", "DocuIDWalArchivingFailing", "DocuIDRedisDown"}


# --- helpers ------------------------------------------------------------------


@functools.cache
def _load(path: Path) -> dict:
    """Parsed YAML (cached: rules_test.yml is long; callers must not modify it)."""
    return yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _rules() -> list[dict]:
    return [rule for group in _load(RULES)["groups"] for rule in group["rules"]]


def _alert_rules() -> list[dict]:
    return [rule for rule in _rules() if "alert" in rule]


def _recording_rules() -> list[dict]:
    return [rule for rule in _rules() if "record" in rule]


def _kebab(name: str) -> str:
    """DocuIDHigh5xxRate -> docuid-high-5xx-rate."""
    words = re.findall(r"DocuID|[A-Z]?[a-z]+|[0-9]+[a-z]*|[A-Z]+(?![a-z])", name)
    return "-".join(word.lower() for word in words)


def _tool(name: str) -> str:
    """Path of a monitoring binary; skip without it, but fail in CI."""
    path = shutil.which(name)
    if path:
        return path
    message = (
        f"{name} is not installed. Install promtool/amtool with `sudo {INSTALL_SCRIPT}` "
        "(Debian packages prometheus and prometheus-alertmanager)."
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _run(args: list[str], *, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    # promtool's rule tests build a throw-away TSDB per test group; on tmpfs
    # they run noticeably faster.
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        env["TMPDIR"] = "/dev/shm"
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"`{' '.join(args)}` failed:\n{result.stdout}\n{result.stderr}"
    return result


# --- rules.yml, read as data ------------------------------------------------------


def test_the_guide_metric_names_are_recorded_exactly():
    recorded = {rule["record"] for rule in _recording_rules()}
    assert recorded >= GUIDE_RECORDINGS | LATENCY_RECORDINGS


def test_recording_rule_names_are_unique():
    names = [rule["record"] for rule in _recording_rules()]
    assert len(names) == len(set(names))


def test_the_issue_alerts_exist_with_their_severities():
    severities: dict[str, set[str]] = {}
    for rule in _alert_rules():
        severities.setdefault(rule["alert"], set()).add(rule["labels"]["severity"])
    expected = {**{a: {"critical"} for a in CRITICAL_ALERTS}, **{a: {"warning"} for a in WARNING_ALERTS}}
    # A fresh install before its first backup is told as info (an internal note), never paged.
    expected["DocuIDBackupMissing"] = {"critical", "info"}
    # What DocuID stands on (issue 11): the exporters' alerts. A disk that will fill within the day is
    # a warning; one nearly full pages.
    expected |= {a: {"critical"} for a in INFRASTRUCTURE_CRITICAL_ALERTS} | {
        "DocuIDDiskFilling": {"critical", "warning"}
    }
    # The Celery worker and beat: stopped, stalled, or the daily backup never starting (issue 11).
    expected |= {a: {"critical"} for a in WORKER_ALERTS}
    # Text extraction falling behind (issue 14): search misses new content, nothing is down.
    expected["DocuIDExtractionFallingBehind"] = {"warning"}
    # Renditions failing or falling behind (issue 15): Office files open as a text preview, nothing is down.
    expected["DocuIDRenditionsFailing"] = {"warning"}
    # The audit sealer behind (issue 16): recent events wait to become tamper-evident, nothing is down.
    expected["DocuIDAuditSealingBehind"] = {"warning"}
    # The read replica lagging or unreachable (issue 16): list and search read the primary, nothing is down.
    expected["DocuIDReplicaUnusable"] = {"warning"}
    # One app host of several lost (issue 16): reduced capacity, not an outage.
    expected["DocuIDAppHostDown"] = {"warning"}
    # Alertmanager failing to deliver: a warning (the page itself may be what fails).
    expected["DocuIDAlertNotificationsFailing"] = {"warning"}
    assert severities == expected


def test_every_alert_has_summary_description_and_a_runbook_that_exists():
    for rule in _alert_rules():
        annotations = rule["annotations"]
        assert annotations["summary"].strip() and annotations["description"].strip(), rule["alert"]
        runbook = f"{_kebab(rule['alert'])}.md"
        assert annotations["runbook_url"] == RUNBOOK_BASE + runbook, rule["alert"]
        assert (RUNBOOKS / runbook).is_file(), f"docs/runbooks/{runbook} is missing"


def _seconds(duration: str) -> int:
    return sum(int(n) * {"s": 1, "m": 60, "h": 3600}[unit] for n, unit in re.findall(r"(\d+)([smh])", duration))


def test_an_impact_lead_is_the_rules_for_duration():
    """DocuID opens the incident impact_lead_seconds before Prometheus's startsAt (the firing time)."""
    leads = {
        (r["alert"], r["labels"].get("cause")): r for r in _alert_rules() if "impact_lead_seconds" in r["annotations"]
    }
    # The outage the public status page and MTTR are about (issue 11) starts at the impact.
    assert ("DocuIDAuthServiceDown", "app_unreachable") in leads
    for rule in leads.values():
        assert int(rule["annotations"]["impact_lead_seconds"]) == _seconds(rule["for"]), rule["alert"]


def test_alerts_sharing_a_name_are_told_apart_by_cause():
    by_name: dict[str, list[dict]] = {}
    for rule in _alert_rules():
        by_name.setdefault(rule["alert"], []).append(rule)
    for name, rules in by_name.items():
        if len(rules) > 1:
            causes = [rule["labels"].get("cause") for rule in rules]
            assert None not in causes and len(set(causes)) == len(causes), name


def test_http_series_and_backup_gauges_are_read_from_the_app_job_only():
    # The worker would expose a copy of the web's histogram, and its backup /
    # drill gauges are never set (0 = "never backed up").
    app_only = r"(?:api_latency_ms_(?:bucket|count|sum)|docuid_(?:backup|recovery_drill)_\w+)"
    for rule in _rules():
        for name, matchers in re.findall(rf"({app_only})(\{{[^}}]*\}})?", rule["expr"]):
            assert 'job="docuid"' in matchers, (rule.get("record") or rule.get("alert"), name)


# --- rules_test.yml covers every rule ---------------------------------------------


def _unit_tests() -> list[dict]:
    return _load(RULES_TEST)["tests"]


def test_unit_tests_load_the_rules_file():
    assert _load(RULES_TEST)["rule_files"] == ["rules.yml"]


def test_every_recording_rule_value_is_checked():
    checked = {case["expr"] for group in _unit_tests() for case in group.get("promql_expr_test", [])}
    missing = {rule["record"] for rule in _recording_rules()} - checked
    assert not missing, f"no promql_expr_test for {sorted(missing)}"


def test_every_alert_is_tested_firing_and_quiet():
    firing: dict[str, set] = {}
    quiet: set[str] = set()
    for group in _unit_tests():
        for case in group.get("alert_rule_test", []):
            if case.get("exp_alerts"):
                causes = {alert["exp_labels"].get("cause") for alert in case["exp_alerts"]}
                firing.setdefault(case["alertname"], set()).update(causes)
            else:
                quiet.add(case["alertname"])
    for rule in _alert_rules():
        name = rule["alert"]
        assert rule["labels"].get("cause") in firing.get(name, set()), f"{name} {rule['labels']} never fires in a test"
        assert name in quiet, f"{name} is never tested quiet"


# --- promtool -----------------------------------------------------------------------


@pytest.mark.slow
def test_promtool_check_rules():
    _run([_tool("promtool"), "check", "rules", str(RULES.relative_to(REPO))])


@pytest.mark.slow
def test_promtool_rule_unit_tests():
    _run([_tool("promtool"), "test", "rules", str(RULES_TEST.relative_to(REPO))])


@pytest.mark.slow
def test_promtool_check_config():
    _run([_tool("promtool"), "check", "config", str(PROMETHEUS_CONFIG.relative_to(REPO))])


@pytest.mark.slow
def test_the_commented_metrics_token_option_is_valid(tmp_path):
    """Uncommenting the bearer-token block gives a valid config (file rewritten to a temp one)."""
    promtool = _tool("promtool")
    token = tmp_path / "metrics_token"
    token.write_text("not-a-real-token\n")
    text = PROMETHEUS_CONFIG.read_text()
    block = re.compile(r"^(\s*)# (authorization:\n)\1#   (type: Bearer\n)\1#   credentials_file: \S+\n", re.M)
    assert block.search(text), "the commented authorization block is gone from prometheus.yml"
    text = block.sub(lambda m: f"{m[1]}{m[2]}{m[1]}  {m[3]}{m[1]}  credentials_file: {token}\n", text, count=1)
    (tmp_path / "prometheus.yml").write_text(text)
    shutil.copy(RULES, tmp_path / "rules.yml")
    _run([promtool, "check", "config", str(tmp_path / "prometheus.yml")])


@pytest.mark.slow
def test_unusual_traffic_compares_with_the_same_time_last_week(tmp_path):
    """The last-week branch of the traffic baseline, which needs a week of history.

    rules_test.yml evaluates every rule each minute; a week of that takes
    minutes. This runs the same three rules (copied from rules.yml unchanged)
    every 30 minutes instead: `for: 15m` then fires one evaluation after the
    condition is first seen.
    """
    promtool = _tool("promtool")
    wanted = {"api_requests:rate5m", "api_requests:rate5m:baseline"}
    recording = [rule for rule in _recording_rules() if rule["record"] in wanted]
    alert = next(rule for rule in _alert_rules() if rule["alert"] == "DocuIDUnusualTraffic")
    assert len(recording) == 2
    rules = {"groups": [{"name": "recording", "rules": recording}, {"name": "alerts", "rules": [alert]}]}
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))

    week = 7 * 24 * 60
    # 1 req/s, with an hour at 4 req/s (minutes 121-180) in both weeks; in the
    # second week only, a drop to 0.25 req/s from minute week+381.
    per_minute = [240 if 121 <= m % week <= 180 else 60 for m in range(1, week + 430)]
    for m in range(week + 381, week + 430):
        per_minute[m - 1] = 15
    values, total = ["0"], 0
    for step in per_minute:
        total += step
        values.append(str(total))
    expected_alert = {
        "exp_labels": alert["labels"],
        "exp_annotations": {
            "summary": "DocuID traffic is 0.25 req/s, far from its usual 1.00 req/s",
            "description": alert["annotations"]["description"],
            "runbook_url": alert["annotations"]["runbook_url"],
        },
    }
    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "30m",
        "group_eval_order": ["recording", "alerts"],
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'api_latency_ms_count{job="docuid",instance="web1",route="documents:list",status="2xx"}',
                        "values": " ".join(values),
                    }
                ],
                "promql_expr_test": [
                    {
                        "expr": "api_requests:rate5m:baseline",
                        "eval_time": f"{week + 270}m",
                        "exp_samples": [{"labels": "api_requests:rate5m:baseline", "value": 1}],
                    }
                ],
                "alert_rule_test": [
                    # The weekly peak is usual: quiet, although the fallback
                    # baseline (the hour before it) would have fired at +180.
                    {"eval_time": f"{week + 150}m", "alertname": "DocuIDUnusualTraffic", "exp_alerts": []},
                    {"eval_time": f"{week + 180}m", "alertname": "DocuIDUnusualTraffic", "exp_alerts": []},
                    # The drop: under a third from week+390, firing 30m later.
                    {"eval_time": f"{week + 390}m", "alertname": "DocuIDUnusualTraffic", "exp_alerts": []},
                    {
                        "eval_time": f"{week + 420}m",
                        "alertname": "DocuIDUnusualTraffic",
                        "exp_alerts": [expected_alert],
                    },
                ],
            }
        ],
    }
    (tmp_path / "weekly_test.yml").write_text(yaml.safe_dump(test, width=1 << 20))
    _run([promtool, "test", "rules", "weekly_test.yml"], cwd=tmp_path)


# --- Alertmanager -----------------------------------------------------------------


@pytest.mark.slow
def test_amtool_check_config():
    # Secret files are only read when a notification is sent, so the check
    # passes on a machine (or CI runner) that does not have them.
    _run([_tool("amtool"), "check-config", str(ALERTMANAGER_CONFIG.relative_to(REPO))])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["severity=critical", "alertname=DocuIDAuthServiceDown"], "docuid-webhook,pager"),
        (["severity=warning", "alertname=DocuIDFraudReports"], "docuid-webhook,slack-incidents"),
        (["alertname=SomethingWithoutSeverity"], "docuid-webhook,slack-incidents"),
    ],
)
def test_alert_routing(labels, receivers):
    result = _run([_tool("amtool"), "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}", *labels])
    assert result.stdout.strip() == receivers


@pytest.mark.slow
def test_notification_templates_render():
    amtool = _tool("amtool")
    glob = str(ALERTMANAGER_CONFIG.parent / "templates" / "*.tmpl")
    for name in ("docuid.title", "docuid.text", "docuid.runbook_url", "docuid.pagerduty.description"):
        _run(
            [amtool, "template", "render", f"--template.glob={glob}", f'--template.text={{{{ template "{name}" . }}}}']
        )


def _all_keys(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, key), value
            yield from _all_keys(value, (*path, key))
    elif isinstance(node, list):
        for item in node:
            yield from _all_keys(item, path)


def test_alertmanager_secrets_come_from_files_only():
    inline = {"routing_key", "service_key", "api_key", "api_url", "credentials", "password", "bearer_token"}
    for path, value in _all_keys(_load(ALERTMANAGER_CONFIG)):
        key = path[-1]
        assert key not in inline, f"inline secret at {'.'.join(path)}: use {key}_file"
        if key.endswith("_file"):
            assert str(value).startswith(SECRETS_DIR), f"{'.'.join(path)} should live under {SECRETS_DIR}"


def test_alertmanager_sends_every_alert_to_docuid_and_pages_criticals():
    config = _load(ALERTMANAGER_CONFIG)
    first, *rest = config["route"]["routes"]
    assert first["receiver"] == "docuid-webhook" and first["continue"] is True and "matchers" not in first
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    webhook = receivers["docuid-webhook"]["webhook_configs"][0]
    # The ops process, which keeps answering while `web` is down (Procfile `ops`).
    assert webhook["url"] == "http://127.0.0.1:8001/ops/alertmanager/webhook"
    assert webhook["http_config"]["authorization"]["credentials_file"].startswith(SECRETS_DIR)
    assert receivers["slack-incidents"]["slack_configs"][0]["channel"] == "#docuid-incidents"
    assert "pagerduty_configs" in receivers["pager"]
    assert any(route.get("matchers") == ['severity="critical"'] and route["receiver"] == "pager" for route in rest)


def test_critical_alerts_inhibit_matching_warnings():
    rules = _load(ALERTMANAGER_CONFIG)["inhibit_rules"]
    assert {
        "source_matchers": ['severity="critical"'],
        "target_matchers": ['severity="warning"'],
        "equal": ["alertname", "instance"],
    } in rules
    for rule in rules:  # a fraud report is never silenced
        assert "DocuIDFraudReports" not in str(rule["target_matchers"])


def test_prometheus_scrapes_the_app_and_the_worker():
    config = _load(PROMETHEUS_CONFIG)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["docuid"]["static_configs"][0]["targets"] == ["127.0.0.1:8000"]
    assert jobs["docuid"]["metrics_path"] == "/metrics"
    assert jobs["docuid-worker"]["static_configs"][0]["targets"] == ["127.0.0.1:9808"]
    # The standard exporters the infrastructure alerts read (deploy/install-prod-tools.sh installs them).
    assert {job: jobs[job]["static_configs"][0]["targets"] for job in ("node", "postgres", "redis")} == {
        "node": ["127.0.0.1:9100"],
        "postgres": ["127.0.0.1:9187"],
        "redis": ["127.0.0.1:9121"],
    }
    assert config["rule_files"] == ["rules.yml"]
