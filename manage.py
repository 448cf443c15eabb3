#!/usr/bin/env python
"""Django's command-line utility for DocuID."""

import os
import sys

# Commands that only compare the models with the migration files: they sign, serve and
# store nothing, so a bare checkout (a CI step, a pre-commit hook) may run them without
# a secret. Every other command still refuses to start without SECRET_KEY.
KEYLESS_COMMANDS = frozenset({"makemigrations"})


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docuid.settings")
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
