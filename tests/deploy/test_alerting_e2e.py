"""End to end: failed logins -> DocuID's counters -> a real Prometheus -> a real Alertmanager -> DocuID's webhook -> an Incident.

DocuID runs under gunicorn (2 workers, deploy/gunicorn.conf.py, production settings
with DEBUG off) on a SQLite file. Not the in-process live server: its in-memory
SQLite answers concurrent writers (the login flow while Alertmanager delivers) with
"table is locked" instead of waiting, which no real deployment does.
Prometheus (1 s scrape and evaluation) loads a copy of deploy/prometheus/rules.yml
and Alertmanager a copy of deploy/alertmanager/alertmanager.yml, changed only where
a minute-long test needs it (see _test_rules and _test_alertmanager_config). Logins
are driven through the web login flow with the simulator's demo numbers, as a
person would. Bounded to about a minute; the processes are always stopped.
"""

import contextlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import require
from tests.processes import free_port, process

pytestmark = [pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
RULES = REPO / "deploy" / "prometheus" / "rules.yml"
ALERTMANAGER_CONFIG = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
PROMETHEUS = "prometheus"
ALERTMANAGER = "prometheus-alertmanager"
ALERT = "DocuIDFailedLoginsIncreasing"
TOKEN = "e2e-webhook-token-not-a-real-secret"
APPROVES, DENIES = "+12025550100", "+12025550101"
DEADLINE_SECONDS = 60
BASELINE_OFFSET = "8s"


def wait_for(what: str, check, timeout: float, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError, requests.RequestException):
            value = check()
            if value:
                return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _test_rules() -> str:
    """rules.yml with two changes to DocuIDFailedLoginsIncreasing, and nothing else.

    - `for: 10m` -> `for: 0s`: the test has a minute, not ten.
    - its baseline `auth_failure_rate:1d offset 30m` -> `offset 8s`: a fresh Prometheus
      has no history from 30 minutes ago, so the baseline (and the alert) could not
      exist within the test. 8 s back is before the failures start and after the
      successful logins are recorded: the same "usual level vs now" comparison.
    The expression, thresholds and the >= 10 failures guard are the real ones.
    """
    rules = yaml.safe_load(RULES.read_text())
    found = 0
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == ALERT:
                found += 1
                rule["for"] = "0s"
                assert "offset 30m" in rule["expr"], "the alert's baseline changed: update this test"
                rule["expr"] = rule["expr"].replace("offset 30m", f"offset {BASELINE_OFFSET}")
    assert found == 1, f"{ALERT} not found in {RULES}"
    return yaml.safe_dump(rules, sort_keys=False)


def _test_alertmanager_config(webhook_url: str, token_file: Path) -> str:
    """alertmanager.yml with every receiver pointed at the live server's webhook and second-long timers.

    The routing tree, matchers and inhibition rules are the real ones; the pager and
    Slack receivers post to DocuID too, so the test also sees two receivers deliver
    the same alert (which must still be one incident).
    """
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    config.pop("templates", None)  # only the pager/Slack receivers used them
    webhook = {
        "url": webhook_url,
        "send_resolved": True,
        "http_config": {"authorization": {"type": "Bearer", "credentials_file": str(token_file)}},
    }
    config["receivers"] = [{"name": receiver["name"], "webhook_configs": [webhook]} for receiver in config["receivers"]]

    def shorten(route: dict) -> None:
        route.update({"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1m"})
        for child in route.get("routes", []):
            shorten(child)

    shorten(config["route"])
    return yaml.safe_dump(config, sort_keys=False)


def prometheus_query(port: int, expr: str) -> list[dict]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)["data"]["result"]


def ready(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as response:
        return response.status == 200


class Browser:
    """Cookies kept by hand: production settings mark them Secure, and the test server speaks plain HTTP."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), "Referer": self.base_url + path}
        response = requests.request(
            method, self.base_url + path, headers=headers, allow_redirects=False, timeout=10, **kwargs
        )
        self.cookies.update(response.cookies.get_dict())
        return response


def web_login(base_url: str, phone_number: str) -> str:
    """The browser's flow: the phone form, then the waiting page the browser polls; returns how it ended."""
    browser = Browser(base_url)
    page = browser.request("GET", "/login/")
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert found, f"GET /login/ answered {page.status_code} without a form: {page.text[:300]!r}"
    csrf = found.group(1)
    started = browser.request("POST", "/login/", data={"csrfmiddlewaretoken": csrf, "phone_number": phone_number})
    assert started.status_code == 302, f"login start answered {started.status_code}"
    waited = browser.request("GET", started.headers["Location"])
    return "approved" if waited.status_code == 302 else "ended"


@contextlib.contextmanager
def docuid_under_gunicorn(tmp_path: Path):
    port = free_port()
    var_dir = tmp_path / "var"
    (var_dir / "staticfiles").mkdir(parents=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "PROMETHEUS"))},
        "DJANGO_SETTINGS_MODULE": "docuid.settings",
        "SECRET_KEY": "e2e-test-secret-key-not-for-deployment",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DOCUID_SECURE_SSL_REDIRECT": "0",
        "DOCUID_BIOMETRIC_PROVIDER": "simulator",
        "DOCUID_ALLOW_SIMULATOR": "1",
        "DOCUID_SIMULATOR_APPROVE_DELAY_SECONDS": "0",
        # The demo numbers are hammered on purpose: lift the per-number and per-IP limits.
        "DOCUID_RATE_LIMIT_PHONE": "1000",
        "DOCUID_LOGIN_PROMPTS_PER_HOUR": "1000",
        "DOCUID_RATE_LIMIT_IP": "1000",
        "DOCUID_DENIAL_LOCK_COUNT": "1000",
        "DOCUID_ALERTMANAGER_WEBHOOK_TOKEN": TOKEN,
        # The shipped rules link docs/runbooks/<alert>.md; the incident keeps it joined to this base.
        "DOCUID_RUNBOOK_BASE_URL": "https://runbooks.example.org/docuid/",
        "METRICS_ALLOWED_IPS": "127.0.0.1",
        "DOCUID_VAR_DIR": str(var_dir),
        "DATABASE_URL": f"sqlite:///{var_dir / 'db.sqlite3'}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus-multiproc"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
    }
    (tmp_path / "prometheus-multiproc").mkdir()  # manage.py writes metrics there too; gunicorn empties it
    python = str(VENV_BIN / "python")
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], cwd=REPO, env=env, check=True, timeout=120)
    # DEBUG off serves pages through the static files manifest.
    subprocess.run(
        [python, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=REPO, env=env, check=True, timeout=120
    )
    for phone in (APPROVES, DENIES):
        subprocess.run(
            [python, "manage.py", "user_create", phone, "--name", "Demo Person"],
            cwd=REPO,
            env=env,
            check=True,
            timeout=60,
            capture_output=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    with process(
        [str(VENV_BIN / "gunicorn"), "docuid.wsgi", "-c", "deploy/gunicorn.conf.py"], tmp_path / "gunicorn.log", env=env
    ):
        wait_for("gunicorn to serve", lambda: requests.get(base_url + "/readyz", timeout=2).status_code == 200, 30)
        yield base_url, var_dir / "db.sqlite3"


def incidents(database: Path, alert_name: str) -> list[dict]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
    connection.row_factory = sqlite3.Row
    try:
        rows = connection.execute("SELECT * FROM operations_incident WHERE alert_name = ?", [alert_name]).fetchall()
        return [dict(row) for row in rows]
    finally:
        connection.close()


@pytest.fixture
def monitoring_binaries():
    for binary in (PROMETHEUS, ALERTMANAGER):
        require(binary, shutil.which(binary) is not None, "apt-get install prometheus prometheus-alertmanager")


@pytest.mark.own_database
def test_failed_logins_fire_an_alert_that_opens_an_incident(monitoring_binaries, tmp_path):
    prometheus_port, alertmanager_port = free_port(), free_port()
    logs = {name: tmp_path / f"{name}.log" for name in ("gunicorn", "alertmanager", "prometheus")}
    try:
        with docuid_under_gunicorn(tmp_path) as (base_url, database):
            token_file = tmp_path / "webhook_token"
            token_file.write_text(TOKEN)
            token_file.chmod(0o400)
            (tmp_path / "rules.yml").write_text(_test_rules())
            (tmp_path / "alertmanager.yml").write_text(
                _test_alertmanager_config(f"{base_url}/ops/alertmanager/webhook", token_file)
            )
            (tmp_path / "prometheus.yml").write_text(
                yaml.safe_dump(
                    {
                        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
                        "rule_files": [str(tmp_path / "rules.yml")],
                        "alerting": {
                            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]
                        },
                        "scrape_configs": [
                            {"job_name": "docuid", "static_configs": [{"targets": [base_url.removeprefix("http://")]}]}
                        ],
                    }
                )
            )
            checked = subprocess.run(
                ["promtool", "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True
            )
            assert checked.returncode == 0, checked.stdout + checked.stderr
            alertmanager_args = [
                ALERTMANAGER,
                f"--config.file={tmp_path / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'alertmanager-data'}",
                f"--web.listen-address=127.0.0.1:{alertmanager_port}",
                "--cluster.listen-address=",
            ]
            prometheus_args = [
                PROMETHEUS,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
            ]
            started = time.monotonic()
            with process(alertmanager_args, logs["alertmanager"]), process(prometheus_args, logs["prometheus"]):
                wait_for("Alertmanager to be ready", lambda: ready(alertmanager_port), timeout=15)
                wait_for("Prometheus to be ready", lambda: ready(prometheus_port), timeout=15)
                wait_for(
                    "Prometheus to scrape DocuID",
                    lambda: prometheus_query(prometheus_port, 'up{job="docuid"} == 1'),
                    timeout=10,
                )

                # The usual level: a few successful logins, recorded into the 1-day baseline.
                for _ in range(3):
                    assert web_login(base_url, APPROVES) == "approved"
                wait_for(
                    "the baseline failure share to be recorded",
                    lambda: prometheus_query(prometheus_port, f"auth_failure_rate:1d offset {BASELINE_OFFSET} == 0"),
                    timeout=20,
                )
                # (Other alerts may fire in a fresh setup, e.g. no backup yet; only this one matters here.)
                assert incidents(database, ALERT) == []

                # The incident: people keep denying logins they did not start.
                for _ in range(14):
                    assert web_login(base_url, DENIES) == "ended"

                opened = wait_for(
                    "Alertmanager to deliver the alert to DocuID's webhook",
                    lambda: incidents(database, ALERT),
                    timeout=DEADLINE_SECONDS - (time.monotonic() - started),
                )
    except AssertionError:
        for name, path in logs.items():
            if path.exists():
                tail = [line[:300] for line in path.read_text(errors="replace").splitlines()[-30:]]
                print(f"--- {name} log (tail) ---\n" + "\n".join(tail))
        raise

    # Delivered by two receivers (docuid-webhook and slack-incidents), still one incident.
    assert len(opened) == 1
    incident = opened[0]
    assert incident["severity"] == "warning"
    assert incident["component"] == "login"
    assert incident["status"] == "triggered"
    assert incident["runbook_url"] == "https://runbooks.example.org/docuid/docuid-failed-logins-increasing.md"


def test_the_test_configs_keep_the_real_routing_and_rules():
    """What the end-to-end test changes is only what its docstrings say."""
    rules = yaml.safe_load(_test_rules())
    real = yaml.safe_load(RULES.read_text())
    changed = [
        (a.get("alert") or a.get("record"))
        for ga, gr in zip(rules["groups"], real["groups"], strict=True)
        for a, r in zip(ga["rules"], gr["rules"], strict=True)
        if a != r
    ]
    assert changed == [ALERT]
    config = yaml.safe_load(_test_alertmanager_config("http://127.0.0.1:1/ops/alertmanager/webhook", Path("/t")))
    real_config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    assert config["inhibit_rules"] == real_config["inhibit_rules"]
    assert [r.get("matchers") for r in config["route"]["routes"]] == [
        r.get("matchers") for r in real_config["route"]["routes"]
    ]
    assert {r["name"] for r in config["receivers"]} == {r["name"] for r in real_config["receivers"]}
