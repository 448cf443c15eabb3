"""The Jinja2 environment of the hot pages' fragments (docuid/jinja2.py) and the base page's shared parts."""

from datetime import UTC, datetime

import pytest
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.middleware import SessionMiddleware
from django.template import engines
from django.template.loader import render_to_string
from django.test import RequestFactory

from docuid.jinja2 import environment, utc_human, utc_iso


def test_the_environment_escapes_even_when_options_turn_autoescaping_off():
    env = environment(autoescape=False)
    assert env.from_string("{{ v }}").render(v="<script>") == "&lt;script&gt;"


def test_the_engine_offers_url_static_and_csrf():
    request = RequestFactory().get("/")
    html = (
        engines["jinja2"]
        .from_string('{{ url("documents:detail", 7) }} {{ static("css/docuid.css") }} {{ csrf_input }}')
        .render({}, request)
    )
    assert html.startswith("/documents/7/ /static/css/docuid.css ")
    assert 'name="csrfmiddlewaretoken"' in html


def test_times_are_printed_in_utc_with_the_zone_for_the_browser_to_localise():
    moment = datetime(2026, 12, 6, 10, 40, 5, tzinfo=UTC).astimezone()
    assert utc_iso(moment) == "2026-12-06T10:40:05+00:00"
    assert utc_human(moment) == "6 Dec 2026, 10:40 UTC"
    assert utc_human(moment, seconds=True) == "6 Dec 2026, 10:40:05 UTC"
    assert utc_iso(None) == utc_human(None) == ""


@pytest.mark.django_db
def test_the_base_page_announces_errors_as_alerts_and_the_rest_as_status():
    request = RequestFactory().get("/")
    SessionMiddleware(lambda r: None).process_request(request)
    request._messages = FallbackStorage(request)
    request.user = AnonymousUser()
    messages.error(request, "Could not save.")
    messages.success(request, "Saved.")
    html = render_to_string("base.html", request=request)
    assert '<li class="message message-error" role="alert">Could not save.</li>' in html
    assert '<li class="message message-success" role="status">Saved.</li>' in html
    assert 'href="/status"' in html  # the footer's way to the service status
