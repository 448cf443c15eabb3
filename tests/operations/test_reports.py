"""Ops reports: rates from the audit trail, incidents with MTTA/MTTR, backups; text, CSV, admin page, email."""

import csv
import io
from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit import record
from audit.actions import Action, Outcome
from operations.models import Backup, Incident
from operations.services.incidents import incident_open
from operations.services.reports import ops_report_build, ops_report_csv, ops_report_send, ops_report_text
from operations.tasks import ops_report_scheduled
from tests.audit.test_admin import verified_client
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def logins():
    """6 approved, 2 denied, 1 expired, 1 wrong match code, 1 fraud report; 3 document opens (1 denied)."""
    for _ in range(6):
        record(Action.AUTH_APPROVED, outcome=Outcome.SUCCESS)
    for _ in range(2):
        record(Action.AUTH_DENIED, outcome=Outcome.FAILURE)
    record(Action.AUTH_EXPIRED, outcome=Outcome.FAILURE)
    record(Action.AUTH_FAILED, outcome=Outcome.FAILURE, data={"reason": "wrong_match_code"})
    record(Action.AUTH_FRAUD_REPORTED, outcome=Outcome.FAILURE)
    record(Action.AUTH_REQUEST, outcome=Outcome.SUCCESS)  # a request is not a finished attempt
    record(Action.DOCUMENT_OPEN, outcome=Outcome.SUCCESS)
    record(Action.DOCUMENT_OPEN, outcome=Outcome.SUCCESS)
    record(Action.DOCUMENT_OPEN, outcome=Outcome.FAILURE, data={"reason": "denied"})


def test_the_report_counts_authentication_success_and_failure_rates(logins):
    report = ops_report_build(period="daily")
    assert report.auth_success == 6
    assert report.auth_failure == 5
    assert report.auth_success_rate == pytest.approx(6 / 11)
    assert report.auth_failure_rate == pytest.approx(5 / 11)


def test_the_report_names_the_top_failure_reasons_and_fraud_reports(logins):
    report = ops_report_build(period="daily")
    assert report.failure_reasons[0] == ("denied", 2)
    assert dict(report.failure_reasons) == {"denied": 2, "expired": 1, "wrong_match_code": 1, "fraud_reported": 1}
    assert report.fraud_reports == 1


def test_the_report_counts_successful_document_opens_only(logins):
    assert ops_report_build(period="daily").document_opens == 2


def test_the_buckets_add_up_to_the_totals(logins):
    report = ops_report_build(period="daily")
    assert len(report.buckets) in (24, 25)
    assert sum(b.auth_success for b in report.buckets) == 6
    assert sum(b.auth_failure for b in report.buckets) == 5
    assert sum(b.document_opens for b in report.buckets) == 2


def test_the_trend_compares_with_the_previous_period(logins):
    report = ops_report_build(period="daily", until=timezone.now() + timedelta(days=1))
    assert report.previous_auth_failure_rate == pytest.approx(5 / 11)
    assert report.auth_failure_rate is None  # nobody logged in: no rate, not 0 %
    assert report.auth_failure_trend is None


def test_mtta_and_mttr_are_means_over_the_periods_incidents():
    start = timezone.now() - timedelta(hours=2)
    for ack, recovered in ((5, 30), (15, 50)):
        incident = incident_open(title="x", severity="warning", component="web")
        Incident.objects.filter(pk=incident.pk).update(
            started_at=start,
            acknowledged_at=start + timedelta(minutes=ack),
            mitigated_at=start + timedelta(minutes=recovered),
        )
    incident_open(title="not yet acknowledged", severity="warning", component="web")
    report = ops_report_build(period="daily")
    assert len(report.incidents) == 3
    assert report.mtta == timedelta(minutes=10)
    assert report.mttr == timedelta(minutes=40)


def test_backups_and_their_failures_are_counted():
    now = timezone.now()
    Backup.objects.create(name="ok", status=Backup.Status.SUCCEEDED, started_at=now, finished_at=now)
    Backup.objects.create(name="bad", status=Backup.Status.FAILED, started_at=now, finished_at=now)
    report = ops_report_build(period="daily")
    assert (report.backups_succeeded, report.backups_failed) == (1, 1)
    assert report.last_backup_at == now


def test_the_text_report_prints_the_guides_rate_names(logins):
    text = ops_report_text(ops_report_build(period="weekly"))
    assert "auth_success_rate   54.5%" in text
    assert "auth_failure_rate   45.5%" in text
    assert "MTTA" in text and "MTTR" in text


def test_an_empty_period_prints_no_rates_rather_than_zero():
    text = ops_report_text(ops_report_build(period="daily"))
    assert "n/a (no logins)" in text


def test_the_csv_has_one_metric_per_row_and_defuses_formulas(logins):
    incident_open(title="=HYPERLINK(evil)", severity="warning", component="web")
    rows = list(csv.reader(io.StringIO(ops_report_csv(ops_report_build(period="daily")))))
    assert rows[0] == ["section", "metric", "value"]
    assert ["auth", "auth_success_rate", "0.5455"] in rows
    assert not any(cell.startswith("=") for row in rows for cell in row)


def test_ops_report_command_prints_the_report(logins):
    out = StringIO()
    call_command("ops_report", "--period", "weekly", stdout=out)
    assert "auth_success_rate" in out.getvalue()
    assert "weekly ops report" in out.getvalue()


def test_ops_report_email_without_recipients_is_a_clear_error(settings):
    settings.DOCUID_OPS_EMAILS = []
    with pytest.raises(CommandError, match="DOCUID_OPS_EMAILS"):
        call_command("ops_report", "--email", stdout=StringIO(), stderr=StringIO())


def test_the_report_is_mailed_with_html_charts_and_the_csv(settings, logins):
    settings.DOCUID_OPS_EMAILS = ["oncall@example.com", "lead@example.com"]
    assert ops_report_send(report=ops_report_build(period="daily")) == 2
    message = mail.outbox[0]
    assert message.to == ["oncall@example.com", "lead@example.com"]
    assert "auth_failure_rate" in message.body
    html = message.alternatives[0][0]
    assert "<svg" in html and "<rect" in html
    assert message.attachments[0][0].endswith(".csv")


def test_the_scheduled_task_mails_the_report(settings):
    settings.DOCUID_OPS_EMAILS = ["oncall@example.com"]
    assert ops_report_scheduled.delay(period="weekly").get() == {"period": "weekly", "recipients": 1}
    assert "weekly" in mail.outbox[0].subject


def test_beat_schedules_a_daily_and_a_weekly_report(settings):
    tasks = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "operations.tasks.ops_report_scheduled" in tasks
    periods = {
        entry["kwargs"]["period"]
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "operations.tasks.ops_report_scheduled"
    }
    assert periods == {"daily", "weekly"}


def test_the_admin_report_page_shows_rates_and_svg_charts(client, logins):
    oncall = verified_client(client, StaffFactory(is_superuser=True))
    response = oncall.get("/admin/operations/incident/report/?period=weekly")
    html = response.content.decode()
    assert response.status_code == 200
    assert "54.5%" in html
    assert "<svg" in html
    assert "style=" not in html.split('id="content-main"', 1)[1]


def test_the_admin_report_downloads_as_csv(client, logins):
    oncall = verified_client(client, StaffFactory(is_superuser=True))
    response = oncall.get("/admin/operations/incident/report/?period=daily&format=csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert b"auth_success_rate" in response.content


def test_an_unknown_report_period_falls_back_to_daily(client):
    oncall = verified_client(client, StaffFactory(is_superuser=True))
    response = oncall.get("/admin/operations/incident/report/?period=<script>")
    assert response.status_code == 200
    assert "<script>" not in response.content.decode()


def test_the_report_page_needs_staff(client):
    assert client.get("/admin/operations/incident/report/").status_code == 302


# --- charts people can read -----------------------------------------------------------------


def _one_busy_hour(successes: int, failures: int):
    from operations.services.reports import Bucket

    report = ops_report_build(period="daily", until=timezone.now().replace(minute=30))
    busy = report.buckets[-1]
    report.buckets[-1] = Bucket(start=busy.start, auth_success=successes, auth_failure=failures)
    return report, busy.start


def test_successes_and_failures_share_one_scale_so_one_failure_is_drawn_a_fifteenth_as_tall():
    report, _ = _one_busy_hour(15, 1)

    bars = {bar["fill"]: bar for bar in report.chart("auth_success", "auth_failure")["bars"] if bar["value"]}

    success, failure = bars["#1a7f37"], bars["#b42318"]
    assert failure["height"] == pytest.approx(success["height"] / 15, abs=0.1)
    assert success["y"] + success["height"] == failure["y"] + failure["height"]  # one baseline


def test_a_chart_has_a_value_axis_time_labels_and_each_bars_value():
    report, busy_start = _one_busy_hour(15, 1)

    chart = report.chart("auth_success", "auth_failure")

    assert [tick["label"] for tick in chart["y_ticks"]] == [0, 5, 10, 15]
    assert all(tick["label"].endswith(":00") for tick in chart["x_ticks"]) and 3 <= len(chart["x_ticks"]) <= 8
    assert f"{report.buckets[0].start:%H}:00" == chart["x_ticks"][0]["label"]
    assert chart["x_title"] == "Hour starting (UTC)"
    assert f"{busy_start:%H}:00 UTC: 15" in next(bar["title"] for bar in chart["bars"] if bar["value"] == 15)


def test_the_rendered_report_shows_axes_time_labels_and_values(logins):
    from django.template.loader import render_to_string

    from operations.services.reports import ops_report_context

    report = ops_report_build(period="daily")
    html = render_to_string("operations/report_email.html", ops_report_context(report))

    logins_svg = html.split('aria-label="Succeeded and failed logins per bucket, one scale"', 1)[1].split("</svg>")[0]
    assert ">Succeeded</text>" in logins_svg and ">Failed</text>" in logins_svg  # legend
    values = [text.split("</text>")[0] for text in logins_svg.split('font-size="9" fill="#24292f">')[1:]]
    assert sorted(values) == ["5", "6"]  # each bar's value above it: 6 approved, 5 failed
    assert f">{report.buckets[0].start:%H}:00</text>" in logins_svg  # time axis
    assert "Hour starting (UTC)" in logins_svg
    assert "style=" not in html.split("<h2>Authentication</h2>", 1)[1]  # the CSP allows no inline style


def test_nice_ceiling_gives_round_axis_tops():
    from operations.services.reports import nice_ceiling

    assert [nice_ceiling(v) for v in (0, 1, 4, 7, 15, 31, 156, 999)] == [
        (1, 1),
        (1, 1),
        (4, 1),
        (8, 2),
        (15, 5),
        (40, 10),
        (200, 50),
        (1000, 200),
    ]
