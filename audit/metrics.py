"""The domain metrics behind the operations guide's rates, declared once.

Counters are fed only by audit.record() after commit (EVENT_COUNTERS below), so
a metric never counts something the trail does not hold. Recording rules turn
them into auth_success_rate, auth_failure_rate and document_open_rate
(deploy/prometheus). Under gunicorn, prometheus_client's multiprocess mode
aggregates the workers (PROMETHEUS_MULTIPROC_DIR).
"""

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import Counter, Gauge

from audit.actions import Action, Outcome

AUTH_OUTCOMES = ("success", "denied", "expired", "wrong_match_code", "assertion_failed", "provider_error")
# "storage_error": the caller may open it, but reading it from storage failed (a 5xx).
DOCUMENT_OPEN_OUTCOMES = ("success", "denied", "not_found", "storage_error")

auth_attempts = Counter("docuid_auth_attempts_total", "Finished biometric login attempts, by outcome.", ["outcome"])
document_opens = Counter("docuid_document_opens_total", "Document open attempts, by outcome.", ["outcome"])
fraud_reports = Counter("docuid_fraud_reports_total", 'Login requests reported as fraud ("this wasn\'t me").')

# Every labelled child exists from import, so rate() has a series (at 0) from
# the first scrape instead of appearing only after the first failure.
for _outcome in AUTH_OUTCOMES:
    auth_attempts.labels(_outcome)
for _outcome in DOCUMENT_OPEN_OUTCOMES:
    document_opens.labels(_outcome)

# --- Backups, recovery drills, the biometric provider ---------------------------
# Set by operations/ and accounts/. In multiprocess mode a gauge needs a rule
# for combining processes, and the value must survive the (Celery child)
# process that set it, so no "live*" mode:
# - "max" for last-success timestamps: the newest success across processes is
#   the truth, and a process that never ran a backup reports nothing newer.
# - "mostrecent" for measurements (duration, size, RTO/RPO, passed, up): the
#   latest measurement wins even when it is smaller than an earlier one.

backup_last_success_timestamp = Gauge(
    "docuid_backup_last_success_timestamp_seconds",
    "Unix time of the last successful full backup.",
    multiprocess_mode="max",
)
backup_duration = Gauge(
    "docuid_backup_duration_seconds", "Duration of the last full backup.", multiprocess_mode="mostrecent"
)
backup_size = Gauge("docuid_backup_size_bytes", "Size of the last full backup.", multiprocess_mode="mostrecent")
backup_verify_last_success_timestamp = Gauge(
    "docuid_backup_verify_last_success_timestamp_seconds",
    "Unix time of the last successful backup verification (restore test).",
    multiprocess_mode="max",
)
recovery_drill_rto = Gauge(
    "docuid_recovery_drill_rto_seconds",
    "Recovery time measured by the last recovery drill.",
    multiprocess_mode="mostrecent",
)
recovery_drill_rpo = Gauge(
    "docuid_recovery_drill_rpo_seconds",
    "Recovery point (data loss window) measured by the last recovery drill.",
    multiprocess_mode="mostrecent",
)
recovery_drill_last_success_timestamp = Gauge(
    "docuid_recovery_drill_last_success_timestamp_seconds",
    "Unix time of the last recovery drill that met its RTO and RPO.",
    multiprocess_mode="max",
)
recovery_drill_passed = Gauge(
    "docuid_recovery_drill_passed",
    "1 if the last recovery drill met its RTO and RPO, else 0.",
    multiprocess_mode="mostrecent",
)
# Not initialised per provider: a 0 before the first probe would read as "down".
biometric_provider_up = Gauge(
    "docuid_biometric_provider_up",
    "1 if the last probe of the biometric provider succeeded, else 0.",
    ["provider"],
    multiprocess_mode="mostrecent",
)


# --- Which audit events count where ---------------------------------------------


@dataclass(frozen=True)
class FromReason:
    """Use data["reason"] as the label, if it is one of these; otherwise count nothing."""

    reasons: frozenset[str]

    def __init__(self, *reasons: str):
        object.__setattr__(self, "reasons", frozenset(reasons))


# (action, outcome or None for any outcome) -> (counter, label or FromReason or None for unlabelled)
EVENT_COUNTERS: dict[tuple[str, str | None], tuple[tuple[Counter, str | FromReason | None], ...]] = {
    (Action.AUTH_APPROVED, Outcome.SUCCESS): ((auth_attempts, "success"),),
    (Action.AUTH_DENIED, None): ((auth_attempts, "denied"),),
    (Action.AUTH_EXPIRED, None): ((auth_attempts, "expired"),),
    (Action.AUTH_FAILED, None): (
        (auth_attempts, FromReason("wrong_match_code", "assertion_failed", "provider_error")),
    ),
    (Action.AUTH_FRAUD_REPORTED, None): ((fraud_reports, None), (auth_attempts, "denied")),
    (Action.DOCUMENT_OPEN, Outcome.SUCCESS): ((document_opens, "success"),),
    (Action.DOCUMENT_OPEN, Outcome.FAILURE): ((document_opens, FromReason("denied", "not_found", "storage_error")),),
}


def _rules(action: str, outcome: str) -> Iterable[tuple[Counter, str | FromReason | None]]:
    return EVENT_COUNTERS.get((action, outcome)) or EVENT_COUNTERS.get((action, None)) or ()


def count_event(action: str, outcome: str, data: dict) -> None:
    """Increment the counters a committed audit event feeds (see EVENT_COUNTERS)."""
    for counter, label in _rules(action, outcome):
        if label is None:
            counter.inc()
        elif isinstance(label, FromReason):
            reason = data.get("reason")
            if reason in label.reasons:
                counter.labels(reason).inc()
        else:
            counter.labels(label).inc()


# --- The audit trail's sealer ------------------------------------------------------
# Read from the database at scrape time (like the extraction backlog): the sealer runs
# in a Celery worker, and a stopped sealer must show as a growing age, not a stale gauge.
audit_unsealed_events = Gauge(
    "docuid_audit_unsealed_events",
    "Audit events not sealed into a batch yet.",
    multiprocess_mode="mostrecent",
)
audit_oldest_unsealed_age = Gauge(
    "docuid_audit_oldest_unsealed_age_seconds",
    "Age of the oldest audit event not sealed yet (0 when every event is sealed).",
    multiprocess_mode="mostrecent",
)
audit_seal_max_delay = Gauge(
    "docuid_audit_seal_max_delay_seconds",
    "The sealing delay DocuID promises (AUDIT_SEAL_MAX_DELAY).",
    multiprocess_mode="mostrecent",
)


def refresh_audit_gauges() -> None:
    import logging

    from django.conf import settings

    from audit.selectors import unsealed_stats

    audit_seal_max_delay.set(settings.AUDIT_SEAL_MAX_DELAY)
    try:
        stats = unsealed_stats()
    except Exception:  # noqa: BLE001 — /metrics must answer while the database is down
        logging.getLogger("docuid.audit").warning("audit sealing metrics not refreshed: database unavailable")
        return
    audit_unsealed_events.set(stats.count)
    audit_oldest_unsealed_age.set(stats.age_seconds())
