"""Settings are safe by default: production refuses to start half-configured and passes check --deploy."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "docuid.settings",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


def production_env(tmp_path) -> dict[str, str]:
    return {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "docuid.example.com",
        "DOCUID_VAR_DIR": str(tmp_path),
        "DATABASE_URL": "postgres://docuid@db.internal:5432/docuid",
        "REDIS_URL": "redis://cache.internal:6379/0",
    }


def test_production_settings_pass_check_deploy_with_no_warnings(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_debug_off_without_a_secret_key_refuses_to_start_with_a_clear_message(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    result = manage("check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_the_simulator_provider_is_refused_in_production(tmp_path):
    result = manage("check", DOCUID_BIOMETRIC_PROVIDER="simulator", **production_env(tmp_path))
    assert result.returncode != 0
    assert "simulator" in result.stderr and "refused" in result.stderr


def test_a_malformed_boolean_is_an_error_not_a_guess(tmp_path):
    result = manage("check", **{**production_env(tmp_path), "DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


@pytest.mark.parametrize(
    "header, expected",
    [("X-Frame-Options", "DENY"), ("Referrer-Policy", "same-origin"), ("X-Content-Type-Options", "nosniff")],
)
def test_pages_carry_the_security_headers(client, header, expected):
    assert client.get("/healthz")[header] == expected


def test_the_content_security_policy_forbids_inline_scripts(client):
    policy = client.get("/")["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if " " in d.strip())
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy


def test_the_refusal_is_one_clear_line_not_a_traceback(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    result = manage("migrate", **env)
    assert result.returncode == 1
    assert result.stderr.startswith("DocuID cannot start: SECRET_KEY is not set.")
    assert "Traceback" not in result.stderr


def test_makemigrations_check_runs_in_a_bare_checkout_but_nothing_else_starts_without_a_key(tmp_path):
    """A CI step or hook compares models with migrations without any secret; that opens no other command."""
    bare = {"DOCUID_VAR_DIR": str(tmp_path)}
    result = manage("makemigrations", "--check", "--dry-run", **bare)
    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout
    for command in ("check", "migrate", "runserver", "shell"):
        refused = manage(command, **bare)
        assert refused.returncode == 1 and refused.stderr.startswith("DocuID cannot start: SECRET_KEY is not set.")


# --- .env.example given to every process as it is (issue 11) ------------------------------


def settings_values(tmp_path, code: str, **env: str) -> str:
    """Run `code` in `manage.py shell` with the production environment plus `env`; the last line it printed."""
    result = manage("shell", "-c", code, **{**production_env(tmp_path), **env})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def test_empty_variables_mean_unset_as_in_env_example(tmp_path):
    """`NAME=` lines reach the processes as empty strings: each must give the default, not ''."""
    out = settings_values(
        tmp_path,
        "from django.conf import settings as s; "
        "print(s.DOCUID_MAINTENANCE_FILE, s.CELERY_BROKER_URL, s.CELERY_TASK_ALWAYS_EAGER, s.DOCUID_STORAGE)",
        DOCUID_MAINTENANCE_FILE="",
        CELERY_BROKER_URL="",
        CELERY_RESULT_BACKEND="",
        DOCUID_STORAGE="",
    )
    # Before: the flag file was "." (always there: every page 503) and the worker sat on memory://.
    assert out.split() == [str(tmp_path / "maintenance.json"), "redis://cache.internal:6379/0", "False", "local"]


def test_an_empty_multiproc_dir_is_unset_and_a_missing_one_is_created(tmp_path):
    code = "import os; print(repr(os.environ.get('PROMETHEUS_MULTIPROC_DIR')))"
    assert settings_values(tmp_path, code, PROMETHEUS_MULTIPROC_DIR="") == "None"
    wanted = tmp_path / "run" / "prometheus"
    # Before: release's `migrate` died with FileNotFoundError .../counter_<pid>.db.
    settings_values(tmp_path, "import django_prometheus.models", PROMETHEUS_MULTIPROC_DIR=str(wanted))
    assert wanted.is_dir()


def test_the_webhook_and_the_local_scrape_reach_gunicorn_by_address_with_production_defaults(tmp_path):
    """Alertmanager posts to 127.0.0.1:8001 in plain HTTP: no 400 for the Host, no 301 to https."""
    code = (
        "from django.test import Client; c = Client(); "
        "r = c.post('/ops/alertmanager/webhook', data='{}', content_type='application/json', "
        "HTTP_HOST='127.0.0.1:8001', HTTP_AUTHORIZATION='Bearer wrong'); "
        "m = c.get('/metrics', HTTP_HOST='127.0.0.1:8000'); "
        "p = c.get('/status', HTTP_HOST='127.0.0.1:8001'); "
        "print(r.status_code, m.status_code, p.status_code)"
    )
    out = settings_values(tmp_path, code, DOCUID_ALERTMANAGER_WEBHOOK_TOKEN="t" * 32)
    webhook, metrics, status = out.split()[-3:]
    assert webhook == "403"  # reached the view (wrong token), not 301 / 400
    assert metrics != "400"  # Host accepted (403: METRICS_ALLOWED_IPS unset here)
    assert status == "301"  # everything else still goes to https
