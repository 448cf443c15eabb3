"""Ops reports: authentication rates and trend, document opens, failure reasons, fraud,
incidents with MTTA / MTTR, backups and drills — as text, CSV, HTML, and an email.

Numbers come from the audit trail (the same events that feed the Prometheus
counters) and the Incident / Backup / RecoveryDrill tables, so a report can be
rebuilt for any past period. `ops_report_build` only reads; `ops_report_send`
mails it.
"""

import csv
import io
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Count
from django.db.models.functions import Trunc
from django.template.loader import render_to_string
from django.utils import timezone

from audit.actions import Action, Outcome
from audit.models import AuditEvent
from operations.models import Backup, Incident, RecoveryDrill

logger = logging.getLogger("docuid.operations")

PERIODS = {"daily": (timedelta(days=1), "hour"), "weekly": (timedelta(days=7), "day")}
# Finished biometric logins, as docuid_auth_attempts_total counts them (audit/metrics.py).
AUTH_FAILURE_ACTIONS = {
    Action.AUTH_DENIED: "denied",
    Action.AUTH_EXPIRED: "expired",
    Action.AUTH_FRAUD_REPORTED: "fraud_reported",
    Action.AUTH_FAILED: None,  # data["reason"]: wrong_match_code, assertion_failed, provider_error
}
AUTH_ACTIONS = [Action.AUTH_APPROVED, *AUTH_FAILURE_ACTIONS]
# Chart geometry (SVG user units): the plot sits inside margins for the value axis (left) and time labels (bottom).
CHART_WIDTH, CHART_HEIGHT = 640, 220
CHART_MARGIN = {"left": 44, "right": 12, "top": 22, "bottom": 40}
CHART_COLOURS = {"auth_success": "#1a7f37", "auth_failure": "#b42318", "document_opens": "#1f5fbf"}
CHART_LABELS = {"auth_success": "Succeeded", "auth_failure": "Failed", "document_opens": "Opened"}


@dataclass(frozen=True)
class Bucket:
    start: datetime
    auth_success: int = 0
    auth_failure: int = 0
    document_opens: int = 0


@dataclass(frozen=True)
class IncidentRow:
    id: int
    title: str
    severity: str
    status: str
    started_at: datetime
    time_to_acknowledge: timedelta | None
    time_to_recover: timedelta | None


@dataclass
class OpsReport:
    period: str
    since: datetime
    until: datetime
    auth_success: int = 0
    auth_failure: int = 0
    previous_auth_success: int = 0
    previous_auth_failure: int = 0
    document_opens: int = 0
    previous_document_opens: int = 0
    fraud_reports: int = 0
    failure_reasons: list[tuple[str, int]] = field(default_factory=list)
    buckets: list[Bucket] = field(default_factory=list)
    incidents: list[IncidentRow] = field(default_factory=list)
    backups_succeeded: int = 0
    backups_failed: int = 0
    last_backup_at: datetime | None = None
    drills: list[RecoveryDrill] = field(default_factory=list)

    @staticmethod
    def _share(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def auth_attempts(self) -> int:
        return self.auth_success + self.auth_failure

    @property
    def auth_success_rate(self) -> float | None:
        return self._share(self.auth_success, self.auth_attempts)

    @property
    def auth_failure_rate(self) -> float | None:
        return self._share(self.auth_failure, self.auth_attempts)

    @property
    def previous_auth_failure_rate(self) -> float | None:
        return self._share(self.previous_auth_failure, self.previous_auth_success + self.previous_auth_failure)

    @property
    def auth_failure_trend(self) -> float | None:
        """Change of the failure share against the previous period, in percentage points."""
        if self.auth_failure_rate is None or self.previous_auth_failure_rate is None:
            return None
        return (self.auth_failure_rate - self.previous_auth_failure_rate) * 100

    @property
    def mtta(self) -> timedelta | None:
        return _mean([row.time_to_acknowledge for row in self.incidents])

    @property
    def mttr(self) -> timedelta | None:
        return _mean([row.time_to_recover for row in self.incidents])

    def chart(self, *metrics: str) -> dict:
        """One chart of `metrics` per bucket, side by side on one value scale (see bar_chart)."""
        unit = "hour" if self.period == "daily" else "day"
        return bar_chart(
            starts=[bucket.start for bucket in self.buckets],
            series=[(CHART_LABELS[m], [getattr(b, m) for b in self.buckets], CHART_COLOURS[m]) for m in metrics],
            unit=unit,
        )


def _mean(samples: list[timedelta | None]) -> timedelta | None:
    present = [sample for sample in samples if sample is not None]
    if not present:
        return None
    return sum(present, timedelta(0)) / len(present)


def nice_ceiling(value: int) -> tuple[int, int]:
    """(top of the value axis, tick step): the smallest 1-2-5 step giving at most 5 ticks that reach `value`."""
    if value <= 0:
        return 1, 1
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * magnitude
            ticks = -(-value // step)  # ceil
            if ticks <= 5:
                return ticks * step, step
        magnitude *= 10


def _time_label(start: datetime, unit: str) -> str:
    return f"{start:%H}:00" if unit == "hour" else f"{start:%a %d}"


def bar_chart(
    *,
    starts: list[datetime],
    series: list[tuple[str, list[int], str]],
    unit: str,
    width: int = CHART_WIDTH,
    height: int = CHART_HEIGHT,
) -> dict:
    """Geometry of a bar chart for the report's inline SVG (presentation attributes only: the CSP allows no
    inline style), so a designer edits the template and the numbers come from here.

    Every series shares one value scale (0 to a round number above the largest value),
    so one failure is drawn a fifteenth as tall as fifteen successes. The value axis
    has ticks and labels, the time axis bucket start times (UTC), and every non-zero
    bar its value above it.
    """
    m = CHART_MARGIN
    plot_w, plot_h = width - m["left"] - m["right"], height - m["top"] - m["bottom"]
    base_y = m["top"] + plot_h
    peak = max((value for _, values, _ in series for value in values), default=0)
    top, step = nice_ceiling(peak)
    count = max(len(starts), 1)
    slot = plot_w / count
    group = slot * 0.8
    bar_w = group / max(len(series), 1)
    bars = []
    for s_index, (label, values, colour) in enumerate(series):
        for index, value in enumerate(values):
            bar_h = value / top * plot_h
            x = m["left"] + index * slot + (slot - group) / 2 + s_index * bar_w
            bars.append(
                {
                    "x": round(x, 1),
                    "y": round(base_y - bar_h, 1),
                    "width": round(max(bar_w - 1, 1), 1),
                    "height": round(bar_h, 1),
                    "value": value,
                    "fill": colour,
                    "title": f"{label} {_time_label(starts[index], unit)} UTC: {value}",
                    "label_x": round(x + bar_w / 2, 1),
                    "label_y": round(base_y - bar_h - 3, 1),
                }
            )
    y_ticks = [{"y": round(base_y - value / top * plot_h, 1), "label": value} for value in range(0, top + 1, step)]
    every = max(1, -(-count // 8))  # at most 8 time labels, so they never overlap
    x_ticks = [
        {"x": round(m["left"] + index * slot + slot / 2, 1), "label": _time_label(start, unit)}
        for index, start in enumerate(starts)
        if index % every == 0
    ]
    return {
        "width": width,
        "height": height,
        "left": m["left"],
        "right": width - m["right"],
        "top": m["top"],
        "base_y": base_y,
        "bars": bars,
        "y_ticks": y_ticks,
        "x_ticks": x_ticks,
        "x_title": f"{'Hour' if unit == 'hour' else 'Day'} starting (UTC)",
        "legend": [
            {"label": label, "fill": colour, "x": m["left"] + i * 110, "text_x": m["left"] + i * 110 + 14}
            for i, (label, _, colour) in enumerate(series)
        ],
    }


def _period_bounds(period: str, until: datetime | None) -> tuple[datetime, datetime, str]:
    if period not in PERIODS:
        raise ValueError(f"Unknown report period {period!r}; use daily or weekly.")
    length, unit = PERIODS[period]
    until = until or timezone.now()
    return until - length, until, unit


def _reason(action: str, data_reason) -> str:
    label = AUTH_FAILURE_ACTIONS.get(action)
    if label:
        return label
    return data_reason if isinstance(data_reason, str) and data_reason else "other"


def _auth_counts(since: datetime, until: datetime) -> tuple[int, int, int]:
    rows = (
        AuditEvent.objects.filter(time__gte=since, time__lt=until, action__in=[*AUTH_ACTIONS, Action.DOCUMENT_OPEN])
        .values("action", "outcome")
        .annotate(n=Count("id"))
    )
    success = failure = opens = 0
    for row in rows:
        if row["action"] == Action.AUTH_APPROVED:
            success += row["n"] if row["outcome"] == Outcome.SUCCESS else 0
        elif row["action"] == Action.DOCUMENT_OPEN:
            opens += row["n"] if row["outcome"] == Outcome.SUCCESS else 0
        else:
            failure += row["n"]
    return success, failure, opens


def ops_report_build(*, period: str = "daily", until: datetime | None = None) -> OpsReport:
    """Read everything the report shows for the `period` ending at `until` (default: now)."""
    since, until, unit = _period_bounds(period, until)
    report = OpsReport(period=period, since=since, until=until)
    report.auth_success, report.auth_failure, report.document_opens = _auth_counts(since, until)
    previous = _auth_counts(since - (until - since), since)
    report.previous_auth_success, report.previous_auth_failure, report.previous_document_opens = previous

    events = AuditEvent.objects.filter(time__gte=since, time__lt=until)
    reasons: dict[str, int] = {}
    for row in (
        events.filter(action__in=list(AUTH_FAILURE_ACTIONS)).values("action", "data__reason").annotate(n=Count("id"))
    ):
        reason = _reason(row["action"], row["data__reason"])
        reasons[reason] = reasons.get(reason, 0) + row["n"]
        if row["action"] == Action.AUTH_FRAUD_REPORTED:
            report.fraud_reports += row["n"]
    report.failure_reasons = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))

    per_bucket: dict[datetime, dict[str, int]] = {}
    for row in (
        events.filter(action__in=[*AUTH_ACTIONS, Action.DOCUMENT_OPEN])
        .annotate(bucket=Trunc("time", unit))
        .values("bucket", "action", "outcome")
        .annotate(n=Count("id"))
    ):
        counts = per_bucket.setdefault(row["bucket"], {"auth_success": 0, "auth_failure": 0, "document_opens": 0})
        if row["action"] == Action.AUTH_APPROVED:
            counts["auth_success"] += row["n"] if row["outcome"] == Outcome.SUCCESS else 0
        elif row["action"] == Action.DOCUMENT_OPEN:
            counts["document_opens"] += row["n"] if row["outcome"] == Outcome.SUCCESS else 0
        else:
            counts["auth_failure"] += row["n"]
    step = timedelta(hours=1) if unit == "hour" else timedelta(days=1)
    start = since.replace(minute=0, second=0, microsecond=0)
    if unit == "day":
        start = start.replace(hour=0)
    buckets = []
    while start < until:
        buckets.append(Bucket(start=start, **per_bucket.get(start, {})))
        start += step
    report.buckets = buckets

    report.incidents = [
        IncidentRow(
            id=incident.pk,
            title=incident.title,
            severity=incident.severity,
            status=incident.status,
            started_at=incident.started_at,
            time_to_acknowledge=incident.time_to_acknowledge,
            time_to_recover=incident.time_to_recover,
        )
        for incident in Incident.objects.filter(started_at__gte=since, started_at__lt=until).order_by("started_at")
    ]
    backups = Backup.objects.filter(
        started_at__gte=since, started_at__lt=until, trigger__in=[Backup.Trigger.MANUAL, Backup.Trigger.SCHEDULED]
    )
    for row in backups.values("status").annotate(n=Count("id")):
        if row["status"] in (Backup.Status.SUCCEEDED, Backup.Status.PRUNED):
            report.backups_succeeded += row["n"]
        elif row["status"] == Backup.Status.FAILED:
            report.backups_failed += row["n"]
    last = Backup.objects.filter(status=Backup.Status.SUCCEEDED).order_by("-finished_at").first()
    report.last_backup_at = last.finished_at if last else None
    report.drills = list(RecoveryDrill.objects.filter(started_at__gte=since, started_at__lt=until))
    return report


# --- rendering ---------------------------------------------------------------------------


def percent(value: float | None) -> str:
    return "n/a (no logins)" if value is None else f"{value * 100:.1f}%"


def duration(value: timedelta | None) -> str:
    if value is None:
        return "n/a"
    minutes = round(value.total_seconds() / 60)
    return f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def ops_report_text(report: OpsReport) -> str:
    trend = report.auth_failure_trend
    lines = [
        f"DocuID {report.period} ops report, {report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC",
        "",
        "Authentication",
        f"  attempts            {report.auth_attempts}",
        f"  auth_success_rate   {percent(report.auth_success_rate)} ({report.auth_success} succeeded)",
        f"  auth_failure_rate   {percent(report.auth_failure_rate)} ({report.auth_failure} failed)",
        "  trend               "
        + (
            "n/a (no logins in one of the periods)"
            if trend is None
            else f"{trend:+.1f} points of failures vs the previous {report.period} period "
            f"({percent(report.previous_auth_failure_rate)})"
        ),
        f"  fraud reports       {report.fraud_reports}",
        "  top failure reasons " + (", ".join(f"{r} {n}" for r, n in report.failure_reasons[:5]) or "none"),
        "",
        "Documents",
        f"  opened              {report.document_opens} (previous period {report.previous_document_opens})",
        "",
        "Incidents",
        f"  count               {len(report.incidents)}",
        f"  MTTA                {duration(report.mtta)}",
        f"  MTTR                {duration(report.mttr)}",
    ]
    lines += [
        f"  #{row.id} [{row.severity}] {row.status:<12} {row.title[:70]} "
        f"(ack {duration(row.time_to_acknowledge)}, recovered {duration(row.time_to_recover)})"
        for row in report.incidents
    ]
    lines += [
        "",
        "Backups",
        f"  succeeded           {report.backups_succeeded}",
        f"  failed              {report.backups_failed}",
        "  last success        "
        + (f"{report.last_backup_at:%Y-%m-%d %H:%M} UTC" if report.last_backup_at else "never"),
        f"  recovery drills     {len(report.drills)}",
    ]
    lines += [
        f"  drill {drill.started_at:%Y-%m-%d %H:%M} {drill.status} "
        f"RTO {drill.rto_seconds or 0:.0f}s (target {drill.rto_target_seconds}s) "
        f"RPO {drill.rpo_seconds or 0:.0f}s (target {drill.rpo_target_seconds}s)"
        for drill in report.drills
    ]
    return "\n".join(lines) + "\n"


def ops_report_csv(report: OpsReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "metric", "value"])
    rate = lambda value: "" if value is None else f"{value:.4f}"  # noqa: E731
    rows = [
        ("period", "since", report.since.isoformat()),
        ("period", "until", report.until.isoformat()),
        ("auth", "attempts", report.auth_attempts),
        ("auth", "succeeded", report.auth_success),
        ("auth", "failed", report.auth_failure),
        ("auth", "auth_success_rate", rate(report.auth_success_rate)),
        ("auth", "auth_failure_rate", rate(report.auth_failure_rate)),
        ("auth", "previous_auth_failure_rate", rate(report.previous_auth_failure_rate)),
        ("auth", "fraud_reports", report.fraud_reports),
        *(("auth_failure_reason", reason, count) for reason, count in report.failure_reasons),
        ("documents", "opened", report.document_opens),
        ("incidents", "count", len(report.incidents)),
        ("incidents", "mtta_seconds", "" if report.mtta is None else round(report.mtta.total_seconds())),
        ("incidents", "mttr_seconds", "" if report.mttr is None else round(report.mttr.total_seconds())),
        ("backups", "succeeded", report.backups_succeeded),
        ("backups", "failed", report.backups_failed),
        ("backups", "last_success", report.last_backup_at.isoformat() if report.last_backup_at else ""),
        ("drills", "count", len(report.drills)),
        *(
            (f"bucket {bucket.start.isoformat()}", metric, getattr(bucket, metric))
            for bucket in report.buckets
            for metric in ("auth_success", "auth_failure", "document_opens")
        ),
    ]
    for row in rows:
        # A title could start with = or +: spreadsheets would run it as a formula.
        writer.writerow([f"'{cell}" if isinstance(cell, str) and cell[:1] in "=+-@" else cell for cell in row])
    return out.getvalue()


def ops_report_context(report: OpsReport) -> dict:
    return {
        "report": report,
        "success_rate": percent(report.auth_success_rate),
        "failure_rate": percent(report.auth_failure_rate),
        "previous_failure_rate": percent(report.previous_auth_failure_rate),
        "trend": None if report.auth_failure_trend is None else f"{report.auth_failure_trend:+.1f}",
        "mtta": duration(report.mtta),
        "mttr": duration(report.mttr),
        "incident_rows": [
            {"row": row, "tta": duration(row.time_to_acknowledge), "ttr": duration(row.time_to_recover)}
            for row in report.incidents
        ],
        "logins_chart": report.chart("auth_success", "auth_failure"),
        "opens_chart": report.chart("document_opens"),
    }


# --- sending -------------------------------------------------------------------------------


def ops_report_send(*, report: OpsReport, recipients: list[str] | None = None) -> int:
    """Mail the report (text, HTML with charts, CSV attached); returns how many recipients it went to."""
    recipients = list(settings.DOCUID_OPS_EMAILS if recipients is None else recipients)
    if not recipients:
        logger.info("ops report not mailed: DOCUID_OPS_EMAILS is empty")
        return 0
    subject = f"DocuID {report.period} ops report {report.until:%Y-%m-%d}"
    message = EmailMultiAlternatives(
        subject=subject, body=ops_report_text(report), from_email=settings.DEFAULT_FROM_EMAIL, to=recipients
    )
    message.attach_alternative(
        render_to_string("operations/report_email.html", ops_report_context(report)), "text/html"
    )
    message.attach(f"docuid-ops-report-{report.period}-{report.until:%Y%m%d}.csv", ops_report_csv(report), "text/csv")
    message.send(fail_silently=False)
    logger.info("ops report mailed", extra={"period": report.period, "recipient_count": len(recipients)})
    return len(recipients)
