"""The suite-wide guard (tests/conftest.py::no_pii_in_logs) really fails a test that leaks.

The guard cannot be tripped inside this session without failing it, so the leaking
tests run in a nested pytest, in a subprocess, with the project's own conftest.py.
"""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _variants

ROOT = Path(__file__).resolve().parents[2]

NESTED_TESTS = """
import logging

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save


def arm(phone, email):
    # What saving a user does: the guard learns the values it must never see.
    User = get_user_model()
    post_save.send(sender=User, instance=User(phone_number=phone, email=email), created=True)


def test_a_phone_number_that_escaped_masking_is_caught(no_pii_in_logs):
    arm("+12025550123", "victim@example.com")
    # A line as a broken or bypassed filter would have written it.
    no_pii_in_logs.stream.write('{"message": "approved 202-555-0123"}\\n')


def test_an_email_that_escaped_masking_is_caught(no_pii_in_logs):
    arm("+12025550123", "victim@example.com")
    no_pii_in_logs.stream.write('{"message": "sent to victim@example.com"}\\n')


def test_a_leak_on_the_root_logger_of_a_bare_e164_number_is_caught(no_pii_in_logs):
    arm("+12025550123", "victim@example.com")
    no_pii_in_logs.stream.write('{"message": "user 12025550123"}\\n')


def test_the_same_values_logged_normally_pass_because_they_are_masked(no_pii_in_logs):
    arm("+12025550123", "victim@example.com")
    logging.getLogger("docuid.nested").warning("user %s <%s> from %s", "+12025550123", "victim@example.com", "10.1.2.3")
    logging.getLogger("django.request").error("lookup %s", "(202) 555-0123")
"""


@pytest.fixture(scope="module")
def nested_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pii_guard")
    (directory / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text())
    (directory / "test_nested_guard.py").write_text(NESTED_TESTS)
    (directory / "pytest.ini").write_text(
        "[pytest]\nDJANGO_SETTINGS_MODULE = tests.settings\ndjango_find_project = false\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "1000"}  # summary lines unabridged
    env.pop("PYTEST_ADDOPTS", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", str(directory)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "test_name",
    [
        "test_a_phone_number_that_escaped_masking_is_caught",
        "test_an_email_that_escaped_masking_is_caught",
        "test_a_leak_on_the_root_logger_of_a_bare_e164_number_is_caught",
    ],
)
def test_the_guard_fails_a_test_whose_logs_carry_a_users_phone_or_email(nested_run, test_name):
    # The guard fails the test in its fixture's teardown, which pytest reports as an ERROR.
    verdicts = [
        line for line in nested_run.splitlines() if line.startswith(f"ERROR test_nested_guard.py::{test_name} ")
    ]
    assert len(verdicts) == 1, nested_run
    assert "PII reached a log line unmasked" in verdicts[0]


@pytest.mark.slow
def test_the_guard_passes_a_test_whose_logs_carry_only_masked_values(nested_run):
    name = "test_the_same_values_logged_normally_pass_because_they_are_masked"
    assert f"PASSED test_nested_guard.py::{name}" in nested_run, nested_run
    assert f"ERROR test_nested_guard.py::{name}" not in nested_run, nested_run


def test_the_guard_knows_the_usual_spellings_of_a_number():
    assert _variants("+12025550123") >= {"+12025550123", "12025550123", "2025550123", "202-555-0123"}


def test_the_guard_is_armed_in_this_session_too(no_pii_in_logs):
    logging.getLogger("docuid.tests").warning("login from %s", "+12025550123")
    assert "+*******0123" in no_pii_in_logs.stream.getvalue()
