#!/usr/bin/env python
"""Django's command-line utility for DocuID."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docuid.settings")
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
