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


@register(Tags.database)
def check_read_replica(app_configs=None, **kwargs):
    """A replica is a PostgreSQL streaming standby of the primary (docuid.db_routers): anything else is a mistake."""
    replica = settings.DATABASES.get("replica")
    if replica is None:
        return []
    primary = settings.DATABASES["default"]
    if not primary["ENGINE"].endswith("postgresql"):
        return [
            Error(
                "DATABASE_REPLICA_URL is set but DATABASE_URL is not PostgreSQL: the replica must be a "
                "streaming standby of a PostgreSQL primary.",
                hint="Unset DATABASE_REPLICA_URL, or run on PostgreSQL (docs/DEPLOYMENT.md, Topology).",
                id="docuid.E010",
            )
        ]
    same = all(replica.get(key) == primary.get(key) for key in ("HOST", "PORT", "NAME"))
    if same:
        return [
            Warning(
                "DATABASE_REPLICA_URL names the same server and database as DATABASE_URL: "
                "list reads gain nothing and pay the re-check on the primary.",
                hint="Point it at the replica made by deploy/postgres/make-replica.sh, or unset it.",
                id="docuid.W010",
            )
        ]
    return []
