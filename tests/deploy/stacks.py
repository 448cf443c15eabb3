"""What the tests that bring up a whole DocuID stack share (the production drill's pattern): a
PostgreSQL database and a Redis database of their own beside the test run's, and an environment
for the stack's processes without the test run's own settings."""

import contextlib
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import yaml

from tests.conftest import require

# The test run's own settings must not leak into the stack's processes.
NOT_PASSED_PREFIXES = ("DJANGO_", "DOCUID_", "PROMETHEUS_", "PYTEST_", "CELERY_", "GUNICORN_")
NOT_PASSED = {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}


def database_url(suffix: str) -> str:
    """The test run's DATABASE_URL with `suffix` added to the database's name."""
    base = os.environ.get("DATABASE_URL", "")
    require("PostgreSQL", base.startswith("postgres"), "set DATABASE_URL=postgres://postgres@127.0.0.1:5432/docuid")
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}{suffix}"))


def redis_url(db: str) -> str:
    """The test run's REDIS_URL on database `db`: a stack's worker must not take the suite's tasks."""
    base = os.environ.get("REDIS_URL", "")
    require("Redis", base.startswith("redis"), "set REDIS_URL=redis://127.0.0.1:6379/0")
    return urlunsplit(urlsplit(base)._replace(path=f"/{db}"))


def drop_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def stack_env() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(NOT_PASSED_PREFIXES) and key not in NOT_PASSED
    }


@contextlib.contextmanager
def prometheus(directory: Path, rules: str, targets: dict[str, list[str]], every: str = "1s"):
    """A real Prometheus on a free port, scraping `targets` (job name -> addresses) and evaluating
    `rules` (a rule file's text) every `every`, its files and log in `directory`; yields its port
    once it is ready. Stopped on exit."""
    from tests.deploy.test_alerting_e2e import PROMETHEUS, ready, wait_for
    from tests.processes import free_port, process

    require(PROMETHEUS, shutil.which(PROMETHEUS) is not None, "apt-get install prometheus")
    (directory / "rules.yml").write_text(rules)
    config = {
        "global": {"scrape_interval": every, "scrape_timeout": every, "evaluation_interval": every},
        "rule_files": [str(directory / "rules.yml")],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": addresses}]} for job, addresses in targets.items()
        ],
    }
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    args = [
        PROMETHEUS,
        f"--config.file={directory / 'prometheus.yml'}",
        f"--storage.tsdb.path={directory / 'prometheus-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with process(args, directory / "prometheus.log"):
        wait_for("Prometheus to start", lambda: ready(port), 30)
        yield port
