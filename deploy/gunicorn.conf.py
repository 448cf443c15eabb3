"""Gunicorn settings for DocuID: `gunicorn docuid.wsgi -c deploy/gunicorn.conf.py`.

Every value comes from the environment with a laptop-safe default:

- GUNICORN_BIND (default 127.0.0.1:8000). With only PORT set (a PaaS router, as in
  the Procfile), it binds 0.0.0.0:$PORT because the router connects from outside.
- WEB_CONCURRENCY: sync workers (default 2). GUNICORN_TIMEOUT (30 s),
  GUNICORN_GRACEFUL_TIMEOUT (30 s), GUNICORN_KEEPALIVE (5 s), GUNICORN_MAX_REQUESTS
  (10000, with jitter; 0 disables recycling), GUNICORN_LOG_LEVEL (info),
  GUNICORN_CONTROL_SOCKET (unset: no control socket).
- PROMETHEUS_MULTIPROC_DIR (default $DOCUID_VAR_DIR/prometheus-multiproc, i.e.
  var/prometheus-multiproc): where the workers share their metric values, so that
  /metrics, whichever worker answers, reports the totals of all of them.
"""

import os
from pathlib import Path

_BASE_DIR = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


# --- Prometheus multiprocess mode -------------------------------------------------
# Must be in the environment before prometheus_client is first imported: the module
# picks its value store (in-memory or shared mmap files) at import. Workers import the
# app after the fork (no preload_app), so setting it here, in the master, is enough.
_var_dir = Path(_env("DOCUID_VAR_DIR", str(_BASE_DIR / "var")))
PROMETHEUS_MULTIPROC_DIR = Path(_env("PROMETHEUS_MULTIPROC_DIR", str(_var_dir / "prometheus-multiproc")))
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(PROMETHEUS_MULTIPROC_DIR)
PROMETHEUS_MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)

# --- Server -------------------------------------------------------------------------

if os.environ.get("GUNICORN_BIND", "").strip():
    bind = [address.strip() for address in os.environ["GUNICORN_BIND"].split(",") if address.strip()]
elif os.environ.get("PORT", "").strip():
    bind = [f"0.0.0.0:{os.environ['PORT'].strip()}"]
else:
    bind = ["127.0.0.1:8000"]

workers = int(_env("WEB_CONCURRENCY", "2"))
worker_class = "sync"
timeout = int(_env("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(_env("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(_env("GUNICORN_KEEPALIVE", "5"))
# Recycling workers bounds slow memory growth; counters survive it (child_exit folds
# a dead worker's metric files into archives). A worker boot costs ~1.8 s of CPU, so
# every 1,000 requests would spend 10-30 % of a busy worker's CPU booting; every
# 10,000 keeps the bound at ~1-2 %.
max_requests = int(_env("GUNICORN_MAX_REQUESTS", "10000"))
max_requests_jitter = max_requests // 10
preload_app = False
proc_name = "docuid"
# Gunicorn's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl),
# which two instances on one host would fight over; opt in with a path of your own.
control_socket_disable = not _env("GUNICORN_CONTROL_SOCKET", "")
if not control_socket_disable:
    control_socket = _env("GUNICORN_CONTROL_SOCKET", "")

# --- Logging ------------------------------------------------------------------------
# No access log: docuid.middleware.LatencyMiddleware writes one JSON line per request
# with the request id, route and duration. Gunicorn's own error log goes through the
# same JSON formatter and PII filter as the application's.

accesslog = None
errorlog = "-"
loglevel = _env("GUNICORN_LOG_LEVEL", "info")
capture_output = False
_handler = {
    "class": "logging.StreamHandler",
    "stream": "ext://sys.stdout",
    "formatter": "json",
    "filters": ["request", "pii"],
}
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "pii": {"()": "docuid.logging.PIIMaskingFilter"},
        "request": {"()": "docuid.logging.RequestContextFilter"},
    },
    "formatters": {"json": {"()": "docuid.logging.JsonFormatter"}},
    "handlers": {"stdout": _handler},
    "root": {"level": loglevel.upper(), "handlers": ["stdout"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["stdout"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
    },
}


# --- Hooks --------------------------------------------------------------------------


def on_starting(server):
    """Start from an empty metrics directory: files of a previous run would be summed in."""
    PROMETHEUS_MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
    for path in PROMETHEUS_MULTIPROC_DIR.glob("*.db"):
        path.unlink(missing_ok=True)


def child_exit(server, worker):
    """Drop a dead worker's live gauges and fold its counters and histograms into the
    archive files: they stay in the totals, and the directory does not grow with every
    recycled worker (docuid/multiproc_metrics.py)."""
    from prometheus_client import multiprocess

    from docuid.multiproc_metrics import compact_worker_files

    multiprocess.mark_process_dead(worker.pid)
    compact_worker_files(str(PROMETHEUS_MULTIPROC_DIR), worker.pid)
