"""Request id, access log line and the api_latency_ms histogram."""

import contextlib
import ipaddress
import logging
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.utils.functional import SimpleLazyObject
from django_prometheus import middleware as django_prometheus_middleware

from docuid.metrics import KNOWN_METHODS, observe_request
from docuid.request_context import clean_request_id, request_id_var, user_id_var

access_log = logging.getLogger("docuid.request")


class TrustedProxyMiddleware:
    """Behind DOCUID_TRUSTED_PROXY_HOPS reverse proxies, REMOTE_ADDR becomes the client they saw.

    Behind nginx every request arrives from 127.0.0.1 (or the load balancer's address):
    the per-IP login limit would then be one budget for the whole site, the audit trail
    would record the proxy, and METRICS_ALLOWED_IPS would admit the internet. Each proxy
    appends the address it saw to X-Forwarded-For, so the Nth entry from the right is
    the one our Nth proxy wrote; anything further left was sent by the client and is not
    trusted. With no proxy configured (0) the header is ignored entirely.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        hops = settings.DOCUID_TRUSTED_PROXY_HOPS
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if hops > 0 and forwarded:
            entries = [entry.strip() for entry in forwarded.split(",")]
            if len(entries) >= hops:
                # A proxy that writes garbage: keep the peer address rather than trust it.
                with contextlib.suppress(ValueError):
                    request.META["REMOTE_ADDR"] = str(ipaddress.ip_address(entries[-hops]))
        return self.get_response(request)


class RequestIDMiddleware:
    """Accept a well-formed X-Request-ID or make one; echo it on every response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = clean_request_id(request.headers.get("X-Request-ID"))
        token = request_id_var.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


def _route(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or "unnamed"


def _user_id(request: HttpRequest) -> str:
    """The user's id if authentication already ran; never forces a session lookup."""
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        user = request.__dict__.get("_cached_user")
    if user is None or not getattr(user, "is_authenticated", False):
        return "-"
    return str(user.pk)


class LatencyMiddleware:
    """Time each request into api_latency_ms and write one access log line."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        if request.method in KNOWN_METHODS:
            response = self.get_response(request)
        else:
            # No view accepts an invented method, and the inner django-prometheus middleware
            # would copy it raw into a metric label (unbounded series, or PII). 405 rather
            # than 501 so scanners do not count as server errors in error_rate_5xx.
            response = HttpResponseNotAllowed(sorted(KNOWN_METHODS))
        duration_ms = (time.perf_counter() - started) * 1000
        route = _route(request)
        observe_request(
            method=request.method or "GET",
            route=route,
            status_code=response.status_code,
            duration_ms=duration_ms,
        )
        user_token = user_id_var.set(_user_id(request))
        try:
            level = logging.ERROR if response.status_code >= 500 else logging.INFO
            access_log.log(
                level,
                "%s %s %s",
                request.method,
                route,
                response.status_code,
                extra={
                    "method": request.method,
                    "route": route,
                    "status": response.status_code,
                    "duration_ms": round(duration_ms, 2),
                },
            )
        finally:
            user_id_var.reset(user_token)
        return response


class _DiscardedMetric:
    """Accepts django-prometheus' calls for a family DocuID does not export."""

    def labels(self, *args, **kwargs) -> "_DiscardedMetric":
        return self

    def inc(self, *args, **kwargs) -> None:
        pass

    def observe(self, *args, **kwargs) -> None:
        pass


class LeanDjangoMetrics(django_prometheus_middleware.Metrics):
    """django-prometheus' request metrics without its per-view and per-template families.

    api_latency_ms already gives per-route latency, counts and status classes; the
    per-view families repeated that for every URL name x method x status (x 26
    buckets), which multiplied the series count and made a scrape under gunicorn's
    multiprocess mode take seconds (bench/metrics.py). A discarded family is not even
    created: in multiprocess mode any created metric would still be written to disk.
    """

    _instance = None

    def register_metric(self, metric_cls, name, documentation, labelnames=(), **kwargs):
        if "by_view" in name or "templatename" in name:
            return _DiscardedMetric()
        return super().register_metric(metric_cls, name, documentation, labelnames=labelnames, **kwargs)


class PrometheusBeforeMiddleware(django_prometheus_middleware.PrometheusBeforeMiddleware):
    metrics_cls = LeanDjangoMetrics


class PrometheusAfterMiddleware(django_prometheus_middleware.PrometheusAfterMiddleware):
    metrics_cls = LeanDjangoMetrics
