"""The domain counters exist from the first scrape and count exactly the mapped events."""

import pytest
from prometheus_client import REGISTRY

from audit.actions import Action, Outcome
from audit.metrics import AUTH_OUTCOMES, DOCUMENT_OPEN_OUTCOMES, count_event


def snapshot() -> dict[str, float]:
    values = {
        f"auth:{o}": REGISTRY.get_sample_value("docuid_auth_attempts_total", {"outcome": o}) for o in AUTH_OUTCOMES
    }
    values |= {
        f"open:{o}": REGISTRY.get_sample_value("docuid_document_opens_total", {"outcome": o})
        for o in DOCUMENT_OPEN_OUTCOMES
    }
    values["fraud"] = REGISTRY.get_sample_value("docuid_fraud_reports_total")
    return values


def changes(before: dict, after: dict) -> dict[str, float]:
    return {key: after[key] - before[key] for key in before if after[key] != before[key]}


def test_every_outcome_has_a_series_before_anything_happens():
    assert all(value is not None for value in snapshot().values())


@pytest.mark.parametrize(
    ("action", "outcome", "data", "expected"),
    [
        (Action.AUTH_APPROVED, Outcome.SUCCESS, {}, {"auth:success": 1}),
        (Action.AUTH_APPROVED, Outcome.ERROR, {}, {}),
        (Action.AUTH_DENIED, Outcome.FAILURE, {}, {"auth:denied": 1}),
        (Action.AUTH_EXPIRED, Outcome.FAILURE, {}, {"auth:expired": 1}),
        (Action.AUTH_FAILED, Outcome.FAILURE, {"reason": "wrong_match_code"}, {"auth:wrong_match_code": 1}),
        (Action.AUTH_FAILED, Outcome.FAILURE, {"reason": "assertion_failed"}, {"auth:assertion_failed": 1}),
        (Action.AUTH_FAILED, Outcome.ERROR, {"reason": "provider_error"}, {"auth:provider_error": 1}),
        (Action.AUTH_FAILED, Outcome.FAILURE, {"reason": "success"}, {}),
        (Action.AUTH_FAILED, Outcome.FAILURE, {}, {}),
        (Action.AUTH_FRAUD_REPORTED, Outcome.FAILURE, {}, {"fraud": 1, "auth:denied": 1}),
        (Action.DOCUMENT_OPEN, Outcome.SUCCESS, {}, {"open:success": 1}),
        (Action.DOCUMENT_OPEN, Outcome.FAILURE, {"reason": "denied"}, {"open:denied": 1}),
        (Action.DOCUMENT_OPEN, Outcome.FAILURE, {"reason": "not_found"}, {"open:not_found": 1}),
        (Action.DOCUMENT_OPEN, Outcome.FAILURE, {"reason": "success"}, {}),
        (Action.DOCUMENT_DOWNLOAD, Outcome.SUCCESS, {}, {}),
        (Action.AUTH_LOGIN, Outcome.SUCCESS, {}, {}),
    ],
)
def test_an_audit_event_feeds_exactly_its_mapped_counters(action, outcome, data, expected):
    before = snapshot()
    count_event(action, outcome, data)
    assert changes(before, snapshot()) == expected


def test_the_backup_and_provider_gauges_are_declared_for_the_ops_code():
    from audit import metrics

    metrics.backup_size.set(1234)
    metrics.biometric_provider_up.labels("webauthn").set(1)
    assert REGISTRY.get_sample_value("docuid_backup_size_bytes") == 1234
    assert REGISTRY.get_sample_value("docuid_biometric_provider_up", {"provider": "webauthn"}) == 1
    for name in (
        "docuid_backup_last_success_timestamp_seconds",
        "docuid_backup_duration_seconds",
        "docuid_backup_verify_last_success_timestamp_seconds",
        "docuid_recovery_drill_rto_seconds",
        "docuid_recovery_drill_rpo_seconds",
        "docuid_recovery_drill_last_success_timestamp_seconds",
        "docuid_recovery_drill_passed",
    ):
        assert REGISTRY.get_sample_value(name) is not None
