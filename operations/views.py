"""The Alertmanager webhook (opens and mitigates incidents) and the public status page."""

import hmac
import logging
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from docuid.json_parsing import JSONBodyError, parse_json
from operations.selectors import status_snapshot
from operations.services.incidents import Alert, incident_alerts_receive

logger = logging.getLogger("docuid.operations")

WEBHOOK_MAX_BYTES = 1024 * 1024  # Alertmanager batches alerts; a megabyte is thousands of them
WEBHOOK_MAX_ALERTS = 500
LABEL_MAX_LENGTH = 1000
FINGERPRINT_MAX_LENGTH = 64
# Alertmanager writes 0001-01-01T00:00:00Z for "no end time yet".
ZERO_TIME_PREFIX = "0001-01-01"


class PayloadError(ValueError):
    pass


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"status": "error", "error": code, "message": message}, status=status)


def _authorised(request: HttpRequest) -> JsonResponse | None:
    """None if the bearer token is right; otherwise the refusal to send."""
    token = settings.DOCUID_ALERTMANAGER_WEBHOOK_TOKEN
    if not token:
        # Without a configured secret nothing can be told apart from an attacker: refuse all. A 404 (the
        # endpoint is off), not a 5xx: anyone's anonymous POST must not page on-call as a server error.
        return _error(404, "not_configured", "The webhook is disabled: DOCUID_ALERTMANAGER_WEBHOOK_TOKEN is not set.")
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return _error(401, "unauthorised", "Send Authorization: Bearer <token>.")
    if not hmac.compare_digest(header.removeprefix("Bearer ").strip().encode(), token.encode()):
        return _error(403, "forbidden", "Wrong webhook token.")
    return None


def _string_map(value, what: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise PayloadError(f"{what} must be an object of strings.")
    for key, item in value.items():
        if not isinstance(item, str) or len(key) > LABEL_MAX_LENGTH or len(item) > 10 * LABEL_MAX_LENGTH:
            raise PayloadError(f"{what} must be an object of strings (of reasonable length).")
    return value


def _time(value, what: str) -> datetime | None:
    if value in (None, "") or (isinstance(value, str) and value.startswith(ZERO_TIME_PREFIX)):
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None or parsed.tzinfo is None:
        raise PayloadError(f"{what} must be an RFC 3339 time with a zone.")
    return parsed


def _alert(raw) -> Alert:
    if not isinstance(raw, dict):
        raise PayloadError("Each alert must be an object.")
    status = raw.get("status")
    if status not in ("firing", "resolved"):
        raise PayloadError('An alert\'s status must be "firing" or "resolved".')
    fingerprint = raw.get("fingerprint")
    if not isinstance(fingerprint, str) or not fingerprint or len(fingerprint) > FINGERPRINT_MAX_LENGTH:
        raise PayloadError(f"An alert needs a fingerprint (a string of at most {FINGERPRINT_MAX_LENGTH} characters).")
    labels = _string_map(raw.get("labels"), "labels")
    if not labels.get("alertname"):
        raise PayloadError("An alert needs the label alertname.")
    annotations = _string_map(raw.get("annotations") or {}, "annotations")
    starts_at = _time(raw.get("startsAt"), "startsAt")
    if starts_at is None:
        raise PayloadError("An alert needs startsAt.")
    return Alert(
        status=status,
        fingerprint=fingerprint,
        labels=labels,
        annotations=annotations,
        starts_at=starts_at,
        ends_at=_time(raw.get("endsAt"), "endsAt"),
    )


def parse_payload(body: bytes) -> list[Alert]:
    """Alertmanager's webhook format, version 4 (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config)."""
    try:
        payload = parse_json(body, max_bytes=WEBHOOK_MAX_BYTES)
    except JSONBodyError as exc:
        raise PayloadError(exc.message) from None
    if not isinstance(payload, dict) or payload.get("version") != "4":
        raise PayloadError('Expected an Alertmanager webhook payload (an object with "version": "4").')
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise PayloadError('"alerts" must be a non-empty list.')
    if len(alerts) > WEBHOOK_MAX_ALERTS:
        raise PayloadError(f"At most {WEBHOOK_MAX_ALERTS} alerts per delivery.")
    return [_alert(raw) for raw in alerts]


@csrf_exempt  # a machine caller with a bearer token, no cookies: CSRF cannot apply
@require_POST
def alertmanager_webhook(request: HttpRequest) -> JsonResponse:
    refusal = _authorised(request)
    if refusal is not None:
        logger.warning("alertmanager webhook refused", extra={"status": refusal.status_code})
        return refusal
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > WEBHOOK_MAX_BYTES:
        return _error(413, "too_large", f"The payload is larger than {WEBHOOK_MAX_BYTES} bytes.")
    try:
        alerts = parse_payload(request.body)
    except PayloadError as exc:
        return _error(400, "invalid_payload", str(exc))
    try:
        results = incident_alerts_receive(alerts=alerts)
    except DatabaseError:
        # Alertmanager retries a failed delivery: "try again" beats a 500 while the database is busy or down.
        logger.warning("alertmanager webhook: database unavailable, asked Alertmanager to retry")
        response = _error(503, "unavailable", "The incident log is unavailable; retry.")
        response["Retry-After"] = "5"
        return response
    outcome = [
        {"fingerprint": alert.fingerprint, "incident": incident.pk if incident else None, "result": result}
        for alert, (incident, result) in zip(alerts, results, strict=True)
    ]
    logger.info(
        "alertmanager webhook: %d alert(s)", len(alerts), extra={"results": [item["result"] for item in outcome]}
    )
    return JsonResponse({"status": "ok", "alerts": outcome})


@require_GET
def status_page(request: HttpRequest) -> HttpResponse:
    try:
        snapshot = status_snapshot()
    except DatabaseError:
        # The page people open when DocuID misbehaves must not be a 500 itself.
        logger.warning("status page: incident log unavailable")
        snapshot = None
    response = render(request, "operations/status.html", {"snapshot": snapshot}, status=200 if snapshot else 503)
    # Same page for everyone (no user-specific parts): shared caches may keep it as long as we do.
    response["Cache-Control"] = "public, max-age=30" if snapshot else "no-store"
    return response
