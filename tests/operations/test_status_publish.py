"""The status page published to disk for nginx's fallback when the app does not answer (issue 11)."""

import pytest
from django.core.management import call_command
from django.db import DatabaseError

from operations.models import Incident
from operations.services import status as status_service
from operations.services.incidents import incident_open
from operations.services.status import status_page_publish, status_published_path

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


def test_an_incident_change_publishes_the_page_with_the_not_answering_notice(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        incident_open(title="Logins are failing", severity="critical", component=Incident.Component.LOGIN, public=True)
    html = status_published_path().read_text()
    assert "Logins are failing" in html
    assert "DocuID is not answering right now" in html
    assert 'data-component="login">Outage' in html


def test_the_live_page_has_no_not_answering_notice(client):
    assert "not answering" not in client.get("/status").content.decode()


def test_without_the_database_the_last_published_page_stays(monkeypatch):
    status_page_publish()
    before = status_published_path().read_text()

    def broken():
        raise DatabaseError("connection refused")

    monkeypatch.setattr(status_service, "status_snapshot", broken)
    assert status_page_publish() is None
    assert status_published_path().read_text() == before


def test_the_command_publishes_at_release(capsys):
    call_command("status_publish")
    assert status_published_path().is_file()
    assert "published" in capsys.readouterr().out
