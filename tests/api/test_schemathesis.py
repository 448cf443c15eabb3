"""Property-based run against /api/schema/: generated requests never get a 5xx, responses match the schema.

Bounded for CI: a few deterministic examples per operation (derandomized), through the WSGI app.
Every operation is driven from one test, so the database and credentials are set up once.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from docuid.wsgi import application
from tests.api.conftest import issue_token, office_documents

pytestmark = pytest.mark.django_db
EXAMPLES = 12


@pytest.fixture
def keep_test_connection():
    """Calling the WSGI app directly (not through Django's test client) would close the test's
    database connection at each request's end; detach that handler as the test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def generous_limits(settings):
    # The run should reach the views rather than stop at 429 (which the schema documents anyway).
    settings.DOCUID_API_RATES = dict.fromkeys(settings.DOCUID_API_RATES, "100000/min")
    settings.DOCUID_RATE_LIMIT_PHONE = settings.DOCUID_LOGIN_PROMPTS_PER_HOUR = settings.DOCUID_RATE_LIMIT_IP = 100000


def test_the_schema_is_valid_openapi_3(client):
    response = client.get("/api/schema/", headers={"Accept": "application/json"})
    assert response.status_code == 200
    loaded = schemathesis.openapi.from_dict(response.json())
    assert len(list(loaded.get_all_operations())) >= 18


def test_generated_requests_get_no_5xx_and_conforming_responses(keep_test_connection, generous_limits, owner, api_key):
    office_documents(owner)
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    failures, statuses = [], []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case):
            # A fresh token per case: the generated calls include logout, which revokes the token it uses.
            credentials = {"Authorization": f"Bearer {issue_token(owner).access_token}", "x-api-key": api_key}
            case.headers = {**(case.headers or {}), **credentials}
            response = case.call()
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, response.status_code, response.text[:300]))
                return
            try:
                case.validate_response(response, checks=(response_schema_conformance, content_type_conformance))
            except Exception as exc:  # collect every failure, not just the first
                failures.append((case.method, case.formatted_path, response.status_code, str(exc)[:500]))

        run()
    assert not failures, failures[:5]
    assert statuses.count(200) >= len(operations) // 2  # the run reached the views, not just the gates
