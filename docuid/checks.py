"""Deploy checks of the project package (`manage.py check --deploy`)."""

from django.conf import settings
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.checks import Error, Tags, Warning, register
from django.utils.module_loading import import_string

PROCESS_LOCAL = (LocMemCache, DummyCache)
NOT_ATOMIC = (FileBasedCache, DatabaseCache)


@register(Tags.caches, Tags.security, deploy=True)
def check_shared_cache(app_configs=None, **kwargs):
    """Rate limits (login, API) count in the default cache: every process must share it, atomically."""
    if settings.DEBUG:
        return []
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    try:
        cls = import_string(backend)
    except ImportError:
        return []  # Django's own caches check reports a backend that cannot be imported
    if issubclass(cls, PROCESS_LOCAL):
        return [
            Error(
                f"The default cache ({backend}) lives inside each process: every gunicorn worker and every "
                "server would count the login and API rate limits on its own, multiplying each limit.",
                hint="Set REDIS_URL so that the cache (and so the rate limits) is shared by every process.",
                id="docuid.E001",
            )
        ]
    if issubclass(cls, NOT_ATOMIC):
        return [
            Warning(
                f"The default cache ({backend}) counts by read-then-write: parallel requests can slip past "
                "the login and API rate limits.",
                hint="Set REDIS_URL: Redis counts atomically.",
                id="docuid.W001",
            )
        ]
    return []
