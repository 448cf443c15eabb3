"""A client's oversized or overfull form is its own mistake: a 400 logged at WARNING, never an ERROR with a traceback."""

import io
import json
import logging

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def security_log():
    handler = next(h for h in logging.getLogger("django.security").handlers if isinstance(h, logging.StreamHandler))
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


@pytest.mark.parametrize(
    "body",
    [
        {f"field{i}": "x" for i in range(1200)},  # TooManyFieldsSent
        {"phone": "1" * (3 * 1024 * 1024)},  # RequestDataTooBig
    ],
    ids=["too-many-fields", "too-big"],
)
def test_an_abusive_form_is_a_400_logged_as_a_warning_without_a_traceback(client, security_log, body):
    response = client.post("/login/", body)

    assert response.status_code == 400
    lines = [json.loads(line) for line in security_log.getvalue().splitlines()]
    assert lines, "the security logger said nothing"
    assert {line["level"] for line in lines} == {"WARNING"}
    assert "Traceback" not in security_log.getvalue()
