"""The Grafana dashboard and provisioning: valid, laid out, and querying only series that exist.

"Exist" means: a series of the app's metric contract, a django-prometheus
series, `up`, or a recording rule of deploy/prometheus/rules.yml. The same
check is applied to the rules themselves. No Grafana, Prometheus or Django
is needed.
"""

import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "docuid-prometheus.yml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "docuid.yml"
RULES = REPO / "deploy" / "prometheus" / "rules.yml"

# The app's metric contract: the only series DocuID itself exposes.
CONTRACT = {
    "api_latency_ms_bucket",
    "api_latency_ms_sum",
    "api_latency_ms_count",
    "docuid_auth_attempts_total",
    "docuid_document_opens_total",
    "docuid_fraud_reports_total",
    "docuid_biometric_provider_up",
    "docuid_backup_last_success_timestamp_seconds",
    "docuid_backup_duration_seconds",
    "docuid_backup_size_bytes",
    "docuid_backup_verify_last_success_timestamp_seconds",
    "docuid_recovery_drill_rto_seconds",
    "docuid_recovery_drill_rpo_seconds",
    "docuid_recovery_drill_last_success_timestamp_seconds",
    "docuid_recovery_drill_passed",
    "docuid_rto_target_seconds",
    "docuid_rpo_target_seconds",
    "docuid_installed_timestamp_seconds",
    "docuid_recovery_drill_last_timestamp_seconds",
    "docuid_backup_replicas_pending",
    # Text extraction (issue #14, documents/metrics.py).
    "docuid_extraction_pending",
    "docuid_audit_unsealed_events",
    "docuid_audit_oldest_unsealed_age_seconds",
    "docuid_audit_seal_max_delay_seconds",
    # The read replica's replay lag, -1 unreachable (issue #16, docuid/db_routers.py).
    "docuid_db_replica_lag_seconds",
    "docuid_extraction_seconds_bucket",
    "docuid_extraction_seconds_sum",
    "docuid_extraction_seconds_count",
    "docuid_extraction_failures_total",
    # Renditions and thumbnails (issue #15, documents/metrics.py).
    "docuid_rendition_seconds_bucket",
    "docuid_rendition_seconds_sum",
    "docuid_rendition_seconds_count",
    "docuid_rendition_failures_total",
    "docuid_renditions_pending",
    # The Celery worker's own (job docuid-worker, docuid/worker_metrics.py).
    "docuid_worker_up",
    "docuid_beat_heartbeat_timestamp_seconds",
    "docuid_scheduled_backup_last_start_timestamp_seconds",
}
PROMETHEUS_OWN = {"up"}
# The standard exporters' series the infrastructure alerts read (Debian's node, PostgreSQL and
# Redis exporters, jobs node / postgres / redis in prometheus.yml).
EXPORTERS = {
    "pg_up",
    "pg_stat_archiver_failed_count",
    "redis_up",
    "node_filesystem_avail_bytes",
    "node_filesystem_size_bytes",
    "node_filesystem_readonly",
    # Alertmanager's own (job alertmanager): notifications it could not deliver.
    "alertmanager_notifications_failed_total",
}
# Used when django_prometheus is not installed where the tests run.
DJANGO_PROMETHEUS_FALLBACK = {
    "django_http_requests_total_by_method_total",
    "django_http_responses_total_by_status_total",
    "django_db_execute_total",
    "django_db_errors_total",
    "django_db_new_connection_errors_total",
    "django_db_query_duration_seconds_bucket",
}
DATASOURCE_REF = {"type": "prometheus", "uid": "${datasource}"}
GRID_WIDTH = 24

_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}
_NUMBERS = {"inf", "nan"}


# --- helpers ------------------------------------------------------------------------


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression (or a Grafana label_values() query) reads."""
    label_values = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", expr, re.S)
    if label_values:
        expr = label_values[1]
    expr = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', expr)  # strings (incl. $vars in them)
    expr = re.sub(r"\$\{[^}]*\}|\$\w+", " ", expr)  # Grafana variables
    expr = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # ranges and subqueries
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)  # label lists
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        token = match[0]
        before = expr[match.start() - 1] if match.start() else " "
        if before.isalnum() or before in "._":  # the unit of 5m, the exponent of 1e3
            continue
        if expr[match.end() :].lstrip().startswith("("):  # a function or an aggregation
            continue
        if token in _KEYWORDS or token.lower() in _NUMBERS:
            continue
        names.add(token)
    return names


def _django_prometheus_series() -> set[str]:
    """Series names django-prometheus can expose, read from its source (not imported: it needs Django)."""
    spec = importlib.util.find_spec("django_prometheus")
    if spec is None or not spec.submodule_search_locations:
        return DJANGO_PROMETHEUS_FALLBACK
    bases = set()
    for source in Path(next(iter(spec.submodule_search_locations))).rglob("*.py"):
        if "tests" not in source.parts:
            bases |= set(re.findall(r"[\"'](django_[a-z0-9_]+)[\"']", source.read_text()))
    series = set()
    for base in bases:
        root = base.removesuffix("_total")
        series |= {base, f"{root}_total", f"{base}_bucket", f"{base}_sum", f"{base}_count", f"{root}_created"}
    return series


def _recording_rules() -> set[str]:
    return {
        rule["record"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }


def _allowed() -> set[str]:
    return CONTRACT | PROMETHEUS_OWN | _recording_rules() | _django_prometheus_series()


def _dashboard(path: Path) -> dict:
    return json.loads(path.read_text())


def _panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # collapsed rows keep theirs inside
    return panels


def _queries(dashboard: dict) -> list[tuple[str, str]]:
    """(where, expr) for every panel target and every query variable."""
    queries = [
        (f"panel {panel['id']} {panel['title']!r} {target['refId']}", target["expr"])
        for panel in _panels(dashboard)
        for target in panel.get("targets", [])
    ]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            queries.append((f"variable {variable['name']}", query["query"] if isinstance(query, dict) else query))
    return queries


# --- the parser -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'histogram_quantile(0.99, sum by (route, le) (rate(api_latency_ms_bucket{job="docuid"}[5m])))',
            {"api_latency_ms_bucket"},
        ),
        (
            "time() - max(docuid_backup_last_success_timestamp_seconds) > 26 * 3600",
            {"docuid_backup_last_success_timestamp_seconds"},
        ),
        ('sum(rate(x_total{route=~"$route"}[$__rate_interval])) by (route) / on() group_left up', {"x_total", "up"}),
        (
            "avg_over_time(api_requests:rate5m[1h] offset 6d23h30m) or 1e3 * nan_metric",
            {"api_requests:rate5m", "nan_metric"},
        ),
        ('label_values(api_latency_ms_count{job="docuid"}, route)', {"api_latency_ms_count"}),
        ("max by (provider) (docuid_biometric_provider_up) == bool 0", {"docuid_biometric_provider_up"}),
    ],
)
def test_metric_names_finds_the_series_an_expression_reads(expr, names):
    assert metric_names(expr) == names


def test_django_prometheus_series_include_the_ones_named_in_the_contract():
    assert {"django_http_requests_total_by_method_total", "django_db_execute_total"} <= _django_prometheus_series()


# --- dashboards -----------------------------------------------------------------------


def test_there_is_a_dashboard():
    assert DASHBOARDS, "no deploy/grafana/dashboards/*.json"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_is_valid_grafana_json(path):
    dashboard = _dashboard(path)
    assert dashboard["uid"] and dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    assert "id" not in dashboard or dashboard["id"] is None, "an exported id would clash on import"
    ids = [panel["id"] for panel in _panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in _panels(dashboard):
        assert panel["type"] in {"row", "stat", "timeseries", "gauge", "table", "bargauge", "text"}, panel["title"]
        if panel["type"] in {"row", "text"}:
            continue
        assert panel["datasource"] == DATASOURCE_REF, panel["title"]
        assert panel["targets"], f"{panel['title']!r} has no query"
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE_REF and target["expr"].strip(), panel["title"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_panels_fit_the_grid_without_overlapping(path):
    boxes = []
    for panel in _dashboard(path)["panels"]:
        grid = panel["gridPos"]
        x, y, w, h = (grid[key] for key in ("x", "y", "w", "h"))
        assert all(isinstance(v, int) for v in (x, y, w, h)) and x >= 0 and y >= 0 and w > 0 and h > 0, panel["title"]
        assert x + w <= GRID_WIDTH, f"{panel['title']!r} is wider than the grid"
        for other_title, (ox, oy, ow, oh) in boxes:
            overlap = x < ox + ow and ox < x + w and y < oy + oh and oy < y + h
            assert not overlap, f"{panel['title']!r} overlaps {other_title!r}"
        boxes.append((panel["title"], (x, y, w, h)))


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_queries_only_series_that_exist(path):
    allowed = _allowed()
    for where, expr in _queries(_dashboard(path)):
        names = metric_names(expr)
        assert names, f"{where}: no metric in {expr!r}"
        unknown = names - allowed
        assert not unknown, f"{where}: {sorted(unknown)} is not a contract, django-prometheus, up or recorded series"


def test_dashboard_shows_what_the_issue_asks_for():
    dashboards = [_dashboard(path) for path in DASHBOARDS]
    exprs = [expr for dashboard in dashboards for _, expr in _queries(dashboard)]
    read = set().union(*(metric_names(expr) for expr in exprs))
    assert {"auth_success_rate", "auth_failure_rate", "document_open_rate", "error_rate_5xx"} <= read
    assert {"api_latency_ms:p50", "api_latency_ms:p95", "api_latency_ms:p99", "api_latency_ms:p99:all"} <= read
    assert {"docuid_auth_attempts_total", "docuid_document_opens_total", "docuid_fraud_reports_total"} <= read
    assert {"docuid_backup_last_success_timestamp_seconds", "docuid_recovery_drill_passed"} <= read
    assert any("docuid-worker" in expr for expr in exprs), "no panel for the Celery worker"
    assert any("by (outcome)" in expr and "docuid_auth_attempts_total" in expr for expr in exprs), "no auth outcomes"


# --- provisioning ---------------------------------------------------------------------


def test_datasource_provisioning_matches_the_dashboard_default():
    datasources = yaml.safe_load(DATASOURCES.read_text())
    assert datasources["apiVersion"] == 1
    (prometheus,) = [ds for ds in datasources["datasources"] if ds["type"] == "prometheus"]
    for path in DASHBOARDS:
        variables = {v["name"]: v for v in _dashboard(path)["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        assert variables["datasource"]["current"]["value"] == prometheus["uid"]


def test_dashboard_provisioning_is_a_file_provider():
    providers = yaml.safe_load(PROVIDERS.read_text())
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert Path(provider["options"]["path"]).is_absolute()


# --- the rules read only series that exist, too ----------------------------------------


def test_rules_read_only_contract_series_up_and_their_own_recordings():
    allowed = CONTRACT | PROMETHEUS_OWN | EXPORTERS | _recording_rules()
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            unknown = metric_names(rule["expr"]) - allowed
            assert not unknown, f"{rule.get('record') or rule.get('alert')} reads {sorted(unknown)}"
