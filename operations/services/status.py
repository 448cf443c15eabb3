"""The status page published to disk, for nginx to serve when neither app process answers.

Published on every change of an incident (after its commit), every minute by the worker
(operations.tasks.status_publish), and by `manage.py status_publish` at release. nginx
serves it only when the app cannot (deploy/nginx/docuid.conf, `@status_published`), so
the page always carries the notice that DocuID is not answering.
"""

import logging
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError
from django.template.loader import render_to_string

from operations.selectors import status_snapshot

logger = logging.getLogger("docuid.operations")


def status_published_path() -> Path:
    return Path(settings.VAR_DIR) / "status" / "index.html"


def status_page_publish() -> Path | None:
    """Write the status page to the var dir atomically; None (and a warning) if it cannot be built or written."""
    try:
        snapshot = status_snapshot()
    except DatabaseError:
        # Keep the last good page: it is more use to a visitor than "status unavailable".
        logger.warning("status page not published: incident log unavailable")
        return None
    html = render_to_string(
        "operations/status.html",
        {"snapshot": snapshot, "published": True, "DOCUID_VERSION": settings.DOCUID_VERSION},
    )
    path = status_published_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A reader (nginx) sees the old page or the new one, never half of one.
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".index-", delete=False) as tmp:
            tmp.write(html)
        os.chmod(tmp.name, 0o644)
        os.replace(tmp.name, path)
    except OSError as exc:
        logger.warning("status page not published: %s", exc.strerror or exc)
        return None
    return path
