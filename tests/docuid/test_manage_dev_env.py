"""manage.py reads the development environment `make run` wrote, and never in production."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEV_KEY = "django-insecure-development-only-key-never-use-in-production"
PRINT_SETTINGS = (
    "from django.conf import settings as s; print(s.DEBUG, s.SECRET_KEY == %r, s.DOCUID_BIOMETRIC_PROVIDER)"
)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


def write_dev_env(var_dir: Path, debug: str = "1") -> None:
    (var_dir / "dev.env").write_text(
        f"# Written by make run\nDEBUG={debug}\nSECRET_KEY={DEV_KEY}\nDOCUID_BIOMETRIC_PROVIDER=simulator\n"
        "DOCUID_LOG_FORMAT=text\n"
    )


def settings_line(tmp_path, **env: str) -> subprocess.CompletedProcess:
    return manage("shell", "-c", PRINT_SETTINGS % DEV_KEY, DOCUID_VAR_DIR=str(tmp_path), **env)


def test_a_command_without_debug_or_a_key_runs_with_make_runs_environment(tmp_path):
    write_dev_env(tmp_path)
    result = settings_line(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["True", "True", "simulator"]
    assert "dev.env" in result.stderr  # it says where its settings came from


def test_an_explicit_debug_0_never_reads_the_development_file(tmp_path):
    write_dev_env(tmp_path)
    result = settings_line(tmp_path, DEBUG="0")
    assert result.returncode == 1
    assert result.stderr.startswith("DocuID cannot start: SECRET_KEY is not set.")


def test_a_production_key_keeps_debug_off_and_the_development_file_unread(tmp_path):
    write_dev_env(tmp_path)
    key = secrets.token_urlsafe(50)
    result = manage(
        "shell", "-c", PRINT_SETTINGS % key, DOCUID_VAR_DIR=str(tmp_path), SECRET_KEY=key, ALLOWED_HOSTS="example.com"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["False", "True", "webauthn"]


def test_a_development_file_that_does_not_say_debug_1_is_ignored(tmp_path):
    write_dev_env(tmp_path, debug="0")
    result = settings_line(tmp_path)
    assert result.returncode == 1
    assert "SECRET_KEY is not set" in result.stderr


def test_a_variable_set_in_the_environment_wins_over_the_file(tmp_path):
    write_dev_env(tmp_path)
    result = settings_line(tmp_path, DOCUID_BIOMETRIC_PROVIDER="webauthn")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["True", "True", "webauthn"]
