#!/usr/bin/env python
"""Django's command-line utility for DocuID."""

import os
import sys
from pathlib import Path

# Commands that only compare the models with the migration files: they sign, serve and
# store nothing, so a bare checkout (a CI step, a pre-commit hook) may run them without
# a secret. Every other command still refuses to start without SECRET_KEY.
KEYLESS_COMMANDS = frozenset({"makemigrations"})

DEV_ENV_NAME = "dev.env"


def load_dev_env() -> Path | None:
    """Read the development environment `make run` wrote to $DOCUID_VAR_DIR/dev.env (default var/).

    So that README's `.venv/bin/python manage.py ...` commands reach make run's instance as written.
    It is read only when neither DEBUG nor SECRET_KEY is set (empty is unset): any explicit
    configuration wins, a DEBUG=0 process never reads it, and a file that does not say DEBUG=1 is
    ignored. A variable already set in the environment is never overridden.
    """
    if os.environ.get("DEBUG", "").strip() or os.environ.get("SECRET_KEY", "").strip():
        return None
    var_dir = os.environ.get("DOCUID_VAR_DIR", "").strip() or str(Path(__file__).resolve().parent / "var")
    path = Path(var_dir) / DEV_ENV_NAME
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    values = {}
    for line in lines:
        name, sep, value = line.strip().partition("=")
        if sep and name and not name.startswith("#"):
            values[name.strip()] = value.strip()
    if values.get("DEBUG") != "1":
        return None
    for name, value in values.items():
        if not os.environ.get(name, "").strip():
            os.environ[name] = value
    return path


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docuid.settings")
    dev_env = load_dev_env()
    if dev_env:
        print(f"Development settings from {dev_env} (written by make run; DEBUG=1).", file=sys.stderr)
    if sys.argv[1:2] and sys.argv[1] in KEYLESS_COMMANDS:
        os.environ.setdefault("SECRET_KEY", "makemigrations-only-never-used-to-sign-anything")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    # Django defers a settings error and fails later with an unrelated traceback
    # (AppRegistryNotReady); a refused configuration must read as one clear line.
    try:
        settings.INSTALLED_APPS  # noqa: B018 — loads the settings module
    except ImproperlyConfigured as exc:
        sys.exit(f"DocuID cannot start: {exc}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
