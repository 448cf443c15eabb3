"""Liveness (/healthz) and readiness (/readyz) for load balancers and on-call."""

import functools
import secrets
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.staticfiles.finders import FileSystemFinder
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_cache() -> None:
    key = f"readyz:{secrets.token_hex(8)}"
    cache.set(key, "1", timeout=10)
    value = cache.get(key)
    cache.delete(key)
    if value != "1":
        raise RuntimeError("cache round trip returned a different value")


def check_storage() -> None:
    name = default_storage.save(f"readyz/{secrets.token_hex(8)}", ContentFile(b"ok"))
    default_storage.delete(name)


class StaticFilesMissing(RuntimeError):
    """A page's static file has no manifest entry (collectstatic not run) or its hashed copy is gone."""


@functools.cache
def own_static_names() -> tuple[str, ...]:
    """The project's own static files (STATICFILES_DIRS), which every page's template references."""
    return tuple(sorted(path for path, _ in FileSystemFinder().list(ignore_patterns=[])))


def check_static() -> None:
    # With the manifest storage a missing entry makes every page (and the 500 page) raise.
    for name in own_static_names():
        try:
            stored = staticfiles_storage.stored_name(name)
        except ValueError:
            raise StaticFilesMissing(f"no manifest entry for {name}: run collectstatic") from None
        if not staticfiles_storage.exists(stored):
            raise StaticFilesMissing(f"{stored} is in the manifest but not in STATIC_ROOT")


def uses_manifest_static() -> bool:
    """DEBUG off: hashed names from collectstatic's manifest (DEBUG on serves the sources)."""
    return issubclass(import_string(settings.STORAGES["staticfiles"]["BACKEND"]), ManifestFilesMixin)


def check_broker() -> None:
    from docuid.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def readiness_checks() -> dict[str, Callable[[], None]]:
    checks = {"database": check_database, "cache": check_cache, "storage": check_storage}
    if uses_manifest_static():
        checks["static"] = check_static
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        checks["broker"] = check_broker
    return checks


def run_checks(checks: dict[str, Callable[[], None]]) -> tuple[bool, dict[str, dict]]:
    results: dict[str, dict] = {}
    for name, check in checks.items():
        started = time.perf_counter()
        try:
            check()
            status, error = "ok", None
        except Exception as exc:  # noqa: BLE001 — a failing dependency must not 500 the probe
            status, error = "error", exc.__class__.__name__
        results[name] = {"status": status, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
        if error:
            results[name]["error"] = error
    return all(r["status"] == "ok" for r in results.values()), results


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "version": settings.DOCUID_VERSION})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    ready, results = run_checks(readiness_checks())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": results}, status=200 if ready else 503)
