"""Project-wide HTTP metrics and the /metrics endpoint.

Domain counters (auth attempts, document opens, backups) live in audit/metrics.py.
Under gunicorn, PROMETHEUS_MULTIPROC_DIR is set (deploy/gunicorn.conf.py) and
prometheus_client aggregates every worker's values at scrape time.
"""

import hmac
import ipaddress
import os

import prometheus_client
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CollectorRegistry, Gauge, Histogram, multiprocess

from docuid import multiproc_metrics

# prometheus_client opens its value files lazily and fails on a missing directory, which
# would break any process (manage.py, celery) started with the variable but without the
# directory; gunicorn's config also wipes it at start.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

LATENCY_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)

api_latency_ms = Histogram(
    "api_latency_ms",
    "Request latency in milliseconds, by method, route (URL name) and status class.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS_MS,
)

# The recovery objectives the drills are held to (DOCUID_RTO_SECONDS / DOCUID_RPO_SECONDS),
# so a dashboard or rule can compare measurements with them.
rto_target_seconds = Gauge(
    "docuid_rto_target_seconds", "Recovery time objective (DOCUID_RTO_SECONDS).", multiprocess_mode="mostrecent"
)
rpo_target_seconds = Gauge(
    "docuid_rpo_target_seconds", "Recovery point objective (DOCUID_RPO_SECONDS).", multiprocess_mode="mostrecent"
)


def export_targets() -> None:
    rto_target_seconds.set(settings.DOCUID_RTO_SECONDS)
    rpo_target_seconds.set(settings.DOCUID_RPO_SECONDS)


# Label values come from a fixed set, never from the request as sent: a client inventing
# methods or paths must not be able to grow the number of time series without bound.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str | None) -> str:
    return method if method in KNOWN_METHODS else "other"


def observe_request(*, method: str, route: str, status_code: int, duration_ms: float) -> None:
    """Count one request; `route` is the resolved URL name (or "unmatched"), never a path."""
    api_latency_ms.labels(method=method_label(method), route=route, status=f"{status_code // 100}xx").observe(
        duration_ms
    )


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return prometheus_client.REGISTRY


def _client_ip_allowed(remote_addr: str) -> bool:
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    for allowed in settings.METRICS_ALLOWED_IPS:
        try:
            if address in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            continue
    return False


def _bearer_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if not token or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header.removeprefix("Bearer ").encode(), token.encode())


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition, for allowed IPs or the METRICS_TOKEN bearer only."""
    if not (_bearer_allowed(request) or _client_ip_allowed(request.META.get("REMOTE_ADDR", ""))):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    # Backup/drill, extraction-backlog and audit-sealing gauges are set from the database at scrape time: correct
    # whichever process ran them.
    from audit.metrics import refresh_audit_gauges
    from documents.metrics import refresh_extraction_gauges, refresh_rendition_gauges
    from operations.metrics import refresh_backup_gauges

    refresh_backup_gauges()
    refresh_extraction_gauges()
    refresh_rendition_gauges()
    refresh_audit_gauges()
    export_targets()
    multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    output = multiproc_metrics.render(multiproc_dir) if multiproc_dir else prometheus_client.generate_latest()
    return HttpResponse(output, content_type=prometheus_client.CONTENT_TYPE_LATEST)


def start_worker_metrics_server(port: int) -> None:
    """Serve a Celery worker's metrics on its own port (127.0.0.1 only): every pool process's, in multiprocess mode."""
    export_targets()
    prometheus_client.start_http_server(port, addr="127.0.0.1", registry=_registry())
