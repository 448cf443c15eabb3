""".env.example, the Procfile and the nginx config agree, and work given to every process as they are (issue 11)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = REPO / ".env.example"


def example_values() -> dict[str, str]:
    """Every NAME=value line, empty values included, as systemd's EnvironmentFile and docker --env-file pass them."""
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(), re.M))


def procfile() -> dict[str, str]:
    return dict(re.findall(r"^([a-z]+):\s*(.+)$", (REPO / "Procfile").read_text(), re.M))


def test_env_example_as_it_is_configures_every_process(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        **example_values(),
        "DOCUID_VAR_DIR": str(tmp_path),  # /var/lib/docuid in the example
    }
    code = (
        "import os; from django.conf import settings as s; "
        "print(s.DOCUID_MAINTENANCE_FILE, s.CELERY_BROKER_URL, s.CELERY_TASK_ALWAYS_EAGER, "
        "os.environ.get('PROMETHEUS_MULTIPROC_DIR'))"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    maintenance, broker, eager, multiproc = result.stdout.strip().splitlines()[-1].split()
    # Before: `DOCUID_MAINTENANCE_FILE=` made the flag file "." (every page 503) and
    # `CELERY_BROKER_URL=` put the worker on memory:// (no task ever ran).
    assert maintenance == str(tmp_path / "maintenance.json")
    assert broker == example_values()["REDIS_URL"] and eager == "False"
    # Before: set for every process, it crashed release's migrate and doubled the worker's counters.
    assert multiproc == "None"


def test_nginx_serves_the_var_dir_of_env_example():
    var_dir = example_values()["DOCUID_VAR_DIR"].rstrip("/")
    conf = (REPO / "deploy" / "nginx" / "docuid.conf").read_text()
    served = set(re.findall(r"^\s*(?:alias|root)\s+(\S+?)/?;", conf, re.M))
    assert served == {
        f"{var_dir}/staticfiles",
        f"{var_dir}/staticfiles/errors",
        f"{var_dir}/media",
        f"{var_dir}/status",
    }


def test_release_collects_static_files_and_migrates():
    release = procfile()["release"]
    # Without collectstatic every page answered 500 with DEBUG=0 (no manifest entry).
    assert "manage.py migrate" in release and "manage.py collectstatic --noinput" in release


def test_alertmanager_posts_to_the_ops_process_that_nginx_routes_status_to():
    ops = procfile()["ops"]
    assert "gunicorn docuid.wsgi" in ops and "WEB_CONCURRENCY=1" in ops
    bind = re.search(r"GUNICORN_BIND=\$\{DOCUID_OPS_BIND:-([\d.:]+)\}", ops)[1]
    # Its own metrics directory: gunicorn's on_starting empties it, which would wipe web's counters.
    assert "PROMETHEUS_MULTIPROC_DIR=" in ops and "prometheus-multiproc-ops" in ops
    alertmanager = yaml.safe_load((REPO / "deploy" / "alertmanager" / "alertmanager.yml").read_text())
    webhook = next(r for r in alertmanager["receivers"] if r["name"] == "docuid-webhook")["webhook_configs"][0]
    assert webhook["url"] == f"http://{bind}/ops/alertmanager/webhook"
    conf = (REPO / "deploy" / "nginx" / "docuid.conf").read_text()
    assert re.search(rf"upstream docuid_ops \{{\s*server {re.escape(bind)};", conf)
    for location in ("location = /status", "location = /ops/alertmanager/webhook"):
        block = conf.split(location, 1)[1].split("}", 1)[0]
        assert "proxy_pass http://docuid_ops;" in block, location


def test_env_example_filled_in_with_its_own_vapid_command_passes_check_deploy(tmp_path):
    # As it is, `DOCUID_NOTIFIERS=webpush` with empty keys fails check --deploy (accounts.E002);
    # the command in its comment must make keys the app accepts.
    command = next(
        line.removeprefix("# ") for line in ENV_EXAMPLE.read_text().splitlines() if line.startswith("# python -c")
    )
    made = subprocess.run(
        ["/bin/sh", "-c", command.replace("python", sys.executable, 1)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    keys = dict(line.split("=", 1) for line in made.split())
    assert set(keys) == {"DOCUID_VAPID_PUBLIC_KEY", "DOCUID_VAPID_PRIVATE_KEY"}
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        **example_values(),
        **keys,
        "SECRET_KEY": "a-filled-in-secret-key-" + "k7#Qx9!mZ2@vL5$wR8^pT3&nY6*bH1" * 2,
        "DOCUID_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
