"""Maintenance mode: a flag file that every web process checks on each request.

A file, not a database row, because a restore replaces the database under the
site: the flag must survive that, and be readable while the database is gone.
It is checked with one stat() per request. The file lives under VAR_DIR by
default (DOCUID_MAINTENANCE_FILE); several web hosts share one flag by pointing
that setting at a shared volume. When Redis is the cache, the flag is mirrored
there as well, so hosts without a shared volume see it too.
"""

import json
import os
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

CACHE_KEY = "operations:maintenance"


def _shared_cache() -> bool:
    return "redis" in settings.CACHES["default"]["BACKEND"].lower()


def maintenance_file() -> Path:
    return Path(settings.DOCUID_MAINTENANCE_FILE)


def maintenance_on(*, reason: str) -> None:
    path = maintenance_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"reason": reason, "since": timezone.now().isoformat()}))
    os.replace(tmp, path)
    if _shared_cache():
        cache.set(CACHE_KEY, reason, timeout=None)


def maintenance_off() -> None:
    maintenance_file().unlink(missing_ok=True)
    if _shared_cache():
        cache.delete(CACHE_KEY)


def maintenance_active() -> bool:
    if maintenance_file().exists():
        return True
    if _shared_cache():
        try:
            return cache.get(CACHE_KEY) is not None
        except Exception:  # noqa: BLE001 — an unreachable cache must not take the site down with it
            return False
    return False


@contextmanager
def maintenance(*, reason: str):
    """Maintenance mode for the duration of the block; left ON if the block fails (the site is not safe)."""
    maintenance_on(reason=reason)
    yield
    maintenance_off()
