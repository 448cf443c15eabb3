"""/status: public, server-rendered, component states and ongoing public incidents with public updates."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from operations.models import Backup
from operations.selectors import status_snapshot_forget
from operations.services.incidents import (
    incident_mitigate,
    incident_open,
    incident_post_update,
    incident_resolve,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    status_snapshot_forget()
    yield
    status_snapshot_forget()


def state_of(response, component):
    html = response.content.decode()
    marker = f'data-component="{component}"'
    start = html.rindex('class="status-badge status-', 0, html.index(marker))
    return html[start:].split("status-badge status-", 1)[1].split('"', 1)[0]


def fresh_backup():
    now = timezone.now()
    Backup.objects.create(name="b1", status=Backup.Status.SUCCEEDED, started_at=now, finished_at=now)


def test_the_status_page_is_public_and_says_all_is_well_when_it_is(client):
    fresh_backup()
    response = client.get("/status")
    assert response.status_code == 200
    for component in ("web", "login", "documents", "backups"):
        assert state_of(response, component) == "operational"
    assert "No ongoing incidents." in response.content.decode()


def test_a_public_critical_incident_shows_as_an_outage_with_its_public_updates(client):
    incident = incident_open(title="Logins failing", severity="critical", component="login", public=True)
    incident_post_update(incident=incident, message="We are rolling back the release.", public=True)
    incident_post_update(incident=incident, message="Internal: suspect commit abc123", public=False)
    response = client.get("/status")
    html = response.content.decode()
    assert state_of(response, "login") == "outage"
    assert "Logins failing" in html
    assert "We are rolling back the release." in html
    assert "abc123" not in html


def test_an_internal_incident_stays_off_the_status_page(client):
    incident_open(title="Fraud report for a user", severity="warning", component="login", public=False)
    response = client.get("/status")
    assert "Fraud report" not in response.content.decode()
    assert state_of(response, "login") == "operational"


def test_a_mitigated_incident_shows_as_monitoring_and_a_resolved_one_disappears_at_once(
    client, django_capture_on_commit_callbacks
):
    incident = incident_open(title="Slow pages", severity="warning", component="web", public=True)
    incident_mitigate(incident=incident)
    assert state_of(client.get("/status"), "web") == "monitoring"
    # The change clears the cached page on commit: no 30-second wait.
    with django_capture_on_commit_callbacks(execute=True):
        incident_resolve(incident=incident)
    response = client.get("/status")
    assert state_of(response, "web") == "operational"
    assert "Slow pages" not in response.content.decode()


def test_backups_show_degraded_when_the_last_success_is_older_than_26_hours(client):
    old = timezone.now() - timedelta(hours=27)
    Backup.objects.create(name="old", status=Backup.Status.SUCCEEDED, started_at=old, finished_at=old)
    assert state_of(client.get("/status"), "backups") == "degraded"


def test_incident_titles_are_escaped(client):
    incident_open(title="<script>alert(1)</script>", severity="critical", component="web", public=True)
    html = client.get("/status").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_the_page_is_cached_briefly_and_uses_four_queries_or_fewer(client, django_assert_max_num_queries):
    fresh_backup()
    # incidents, their public updates, the last backup, recent document reads (one aggregate)
    with django_assert_max_num_queries(4):
        response = client.get("/status")
    assert response["Cache-Control"] == "public, max-age=30"
    with django_assert_max_num_queries(0):
        client.get("/status")


def test_the_page_does_not_depend_on_who_asks(client):
    from tests.factories import StaffFactory

    anonymous = client.get("/status").content
    client.force_login(StaffFactory())
    assert client.get("/status").content == anonymous


def test_the_page_has_no_inline_scripts_or_styles(client):
    html = client.get("/status").content.decode()
    assert "<script" not in html
    assert "style=" not in html


# --- Documents follow the audit trail's recent opens and downloads ---------------------


def read_failed_in_storage(action="document.open"):
    from audit.actions import Outcome
    from documents.services import document_access_record

    document_access_record(action=action, actor=None, document_id=1, outcome=Outcome.FAILURE, reason="storage_error")


def read_succeeded():
    from audit import record
    from audit.actions import Action

    record(Action.DOCUMENT_OPEN, outcome="success", data={"version": 1})


def test_documents_show_degraded_while_opens_and_downloads_fail_in_storage(client):
    fresh_backup()
    read_failed_in_storage()
    read_failed_in_storage("document.download")
    assert state_of(client.get("/status"), "documents") == "operational"  # two reads: no evidence yet
    read_failed_in_storage()
    status_snapshot_forget()
    assert state_of(client.get("/status"), "documents") == "degraded"


def test_a_fresh_install_with_no_reads_shows_documents_operational(client):
    fresh_backup()
    assert state_of(client.get("/status"), "documents") == "operational"


def test_a_few_storage_failures_among_many_good_reads_are_not_degradation():
    from operations.selectors import documents_failing

    for _ in range(3):
        read_failed_in_storage()
    for _ in range(4):
        read_succeeded()
    assert documents_failing(now=timezone.now()) is False


def test_failures_older_than_the_window_no_longer_count():
    from operations.selectors import DOCUMENTS_WINDOW_SECONDS, documents_failing

    for _ in range(3):
        read_failed_in_storage()
    assert documents_failing(now=timezone.now()) is True
    later = timezone.now() + timedelta(seconds=DOCUMENTS_WINDOW_SECONDS + 1)
    assert documents_failing(now=later) is False


def test_denied_and_not_found_opens_are_not_a_documents_fault():
    from audit.actions import Outcome
    from documents.services import document_access_record
    from operations.selectors import documents_failing

    for reason in ("denied", "not_found", "denied"):
        document_access_record(
            action="document.open", actor=None, document_id=1, outcome=Outcome.FAILURE, reason=reason
        )
    assert documents_failing(now=timezone.now()) is False


# --- a fresh install and the header (issue #13) -------------------------------------------


def installed(ago: timedelta):
    from django.db.migrations.recorder import MigrationRecorder

    MigrationRecorder.Migration.objects.filter(app="operations", name="0001_initial").update(
        applied=timezone.now() - ago
    )


def test_a_fresh_install_says_no_backup_yet_and_when_the_first_runs_not_degraded(client, settings):
    settings.DOCUID_BACKUP_HOUR, settings.DOCUID_BACKUP_MINUTE = 2, 0
    installed(timedelta(hours=1))
    response = client.get("/status")
    html = response.content.decode()
    assert state_of(response, "backups") == "operational"
    note = html.split('id="first-backup">', 1)[1].split("</p>", 1)[0]
    first = timezone.datetime.fromisoformat(re.search(r'<time datetime="([^"]+)"', note).group(1))
    assert "No backup yet" in note and f"{first:%H:%M} UTC</time>" in note
    assert (first.hour, first.minute) == (2, 0) and timedelta(0) < first - timezone.now() <= timedelta(days=1)


def test_an_install_older_than_a_day_with_no_backup_is_degraded(client):
    installed(timedelta(hours=27))
    response = client.get("/status")
    assert state_of(response, "backups") == "degraded"
    assert 'id="first-backup"' not in response.content.decode()


def test_once_a_backup_ran_the_first_backup_note_is_gone(client):
    installed(timedelta(hours=1))
    fresh_backup()
    response = client.get("/status")
    assert state_of(response, "backups") == "operational"
    assert "No backup yet" not in response.content.decode()


def test_the_header_has_the_same_navigation_for_everyone(client):
    html = client.get("/status").content.decode()
    nav = html.split('<nav class="nav" aria-label="Main">', 1)[1].split("</nav>", 1)[0]
    assert '<a href="/documents/">Documents</a>' in nav and '<a href="/profile/">Profile</a>' in nav
    assert 'aria-current="page">Status</a>' in nav
    assert "csrfmiddlewaretoken" not in html  # no sign-out form: the page stays cacheable by anyone


def test_an_unreachable_service_shows_web_login_and_documents_down(client):
    """DocuID unreachable (an alert with scope: service) is not a login problem only: every part people use is out."""
    from operations.services.incidents import Alert, incident_alerts_receive

    fresh_backup()
    incident_alerts_receive(
        alerts=[
            Alert(
                status="firing",
                fingerprint="0f1e2d3c4b5a6978",
                labels={
                    "alertname": "DocuIDAuthServiceDown",
                    "cause": "app_unreachable",
                    "component": "web",
                    "scope": "service",
                    "severity": "critical",
                },
                annotations={"summary": "DocuID is unreachable"},
                starts_at=timezone.now(),
                ends_at=None,
            )
        ]
    )
    response = client.get("/status")
    assert [state_of(response, c) for c in ("web", "login", "documents")] == ["outage"] * 3
    assert state_of(response, "backups") == "operational"
