"""The request spine: request id, access log line, metrics, CSP, and the layers that only some paths need.

Every request pays for what is here, so each piece does per request only what cannot be
done once (issue #16): the CSP header is built once per policy, the access line carries
only fields that cannot hold PII (so it skips the masking regexes), metric children are
bound once per label set, and CORS, static files, OTP and session activity run only on
the paths (/api/, /static/) or requests (with a session cookie) they concern.
"""

import contextlib
import ipaddress
import logging
import time

from corsheaders.middleware import CorsMiddleware
from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.utils.functional import SimpleLazyObject
from django_otp.middleware import OTPMiddleware
from django_prometheus import middleware as django_prometheus_middleware
from whitenoise.middleware import WhiteNoiseMiddleware

from accounts.middleware import SessionActivityMiddleware
from docuid.metrics import KNOWN_METHODS, api_latency_ms, method_label
from docuid.request_context import clean_request_id, request_id_var, user_id_var

access_log = logging.getLogger("docuid.request")
# Children bound per label set: a label lookup validates and locks on every call.
_CHILDREN_MAX = 2000  # label values come from fixed sets; the bound only guards against a bug


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
    """Time each request into api_latency_ms and write one access log line.

    The line's fields cannot hold PII: the method is one of KNOWN_METHODS (or "other"),
    the route a URL name from our own URLconf, the status and duration numbers, the
    request id was checked on the way in (clean_request_id) and the user id is a number.
    So the record is marked as already masked and the PII filter's regexes (a dozen passes
    over each field, ~0.3 ms a line) are not run on it. Anything else logged still is.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self._children: dict[tuple[str, str, str], object] = {}

    def _latency(self, method: str, route: str, status_code: int):
        key = (method, route, f"{status_code // 100}xx")
        child = self._children.get(key)
        if child is None:
            if len(self._children) >= _CHILDREN_MAX:
                self._children.clear()
            child = self._children[key] = api_latency_ms.labels(method=key[0], route=key[1], status=key[2])
        return child

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
        method = method_label(request.method)
        status = response.status_code
        self._latency(method, route, status).observe(duration_ms)
        if not access_log.isEnabledFor(logging.ERROR if status >= 500 else logging.INFO):
            return response
        user_token = user_id_var.set(_user_id(request))
        try:
            access_log.log(
                logging.ERROR if status >= 500 else logging.INFO,
                "%s %s %s",
                method,
                route,
                status,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(duration_ms, 2),
                    "_pii_masked": True,  # see the class docstring: no field here can hold PII
                },
            )
        finally:
            user_id_var.reset(user_token)
        return response


# --- CSP: the header string built once per policy -----------------------------------


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware with the policy strings built once, not on every response.

    django-csp rebuilds both headers (policy and report-only) from the settings on every
    response (~0.2 ms). The strings only change with the settings, so they are built once
    (again after a settings change, as in tests). A response that asks for its own policy
    (csp decorators) or a request whose template used the nonce still goes through
    django-csp, so nonces keep working; without a nonce django-csp drops the NONCE
    sentinel, which is what the precomputed string has. A response that already carries
    a policy (inline PDFs and images) keeps it.
    """

    _built: tuple[str, tuple[str, ...], str, tuple[str, ...]] | None = None
    _OVERRIDES = ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")

    @classmethod
    def built(cls) -> tuple[str, tuple[str, ...], str, tuple[str, ...]]:
        """(policy, its excluded path prefixes, report-only policy, its excluded prefixes)."""
        if cls._built is None:
            cls._built = (
                build_policy(),
                _excluded_prefixes("CONTENT_SECURITY_POLICY"),
                build_policy(report_only=True),
                _excluded_prefixes("CONTENT_SECURITY_POLICY_REPORT_ONLY"),
            )
        return cls._built

    @classmethod
    def forget(cls, *, setting: str, **kwargs) -> None:
        if setting.startswith("CONTENT_SECURITY_POLICY"):
            cls._built = None

    def process_response(self, request: HttpRequest, response):
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, name, None) is not None for name in self._OVERRIDES
        ):
            return super().process_response(request, response)
        if response.status_code in (500, 404) and settings.DEBUG:
            return response
        policy, excluded, report_only, excluded_ro = self.built()
        path = request.path_info
        if (
            policy
            and HEADER not in response
            and not getattr(response, "_csp_exempt", False)
            and not path.startswith(excluded)
        ):
            response.headers[HEADER] = policy
        if (
            report_only
            and HEADER_REPORT_ONLY not in response
            and not getattr(response, "_csp_exempt_ro", False)
            and not path.startswith(excluded_ro)
        ):
            response.headers[HEADER_REPORT_ONLY] = report_only
        # As django-csp: a nonce asked for after the header is written is an error, not a silent no-op.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response


def _excluded_prefixes(setting: str) -> tuple[str, ...]:
    return tuple((getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ())


setting_changed.connect(ContentSecurityPolicyMiddleware.forget, dispatch_uid="docuid-csp-forget")


# --- Layers that only some requests need ---------------------------------------------


class ApiCorsMiddleware:
    """django-cors-headers under /api/ only (CORS_URLS_REGEX says the same; this skips the
    regex match and the per-request signal on every other path)."""

    prefix = "/api/"

    def __init__(self, get_response):
        self.get_response = get_response
        self.cors = CorsMiddleware(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(self.prefix):
            return self.cors(request)
        return self.get_response(request)


class StaticFilesMiddleware:
    """WhiteNoise under STATIC_URL only: nginx serves static files in production, and the
    pages never need WhiteNoise's lookup."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.whitenoise = WhiteNoiseMiddleware(get_response)
        self.prefix = "/" + settings.STATIC_URL.strip("/") + "/"

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(self.prefix):
            return self.whitenoise(request)
        return self.get_response(request)


class SessionLayersMiddleware:
    """django-otp's verified-device accessors and the session idle timeout
    (accounts.SessionActivityMiddleware), only for a request that carries a session cookie.

    Without one the person is anonymous for the whole request: there is no device to
    verify and no session to time out, but both layers still resolved the lazy user (a
    session lookup) on every API call and probe. A sign-in during the request (the admin's
    login) does not need them: django-otp records the device on login itself.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.layers = OTPMiddleware(SessionActivityMiddleware(get_response))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            return self.layers(request)
        return self.get_response(request)


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
    """django-prometheus' per-request families, with each label set's child bound once."""

    metrics_cls = LeanDjangoMetrics

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._children: dict[tuple, object] = {}

    def label_metric(self, metric, request, response=None, **labels):
        if not labels:
            return metric
        key = (id(metric), *labels.items())
        child = self._children.get(key)
        if child is None:
            if len(self._children) >= _CHILDREN_MAX:
                self._children.clear()
            child = self._children[key] = metric.labels(**labels)
        return child
