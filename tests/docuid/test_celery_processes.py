"""A real `celery worker` (prefork) and `celery beat`, started as the Procfile starts them.

- A counter incremented in a pool child (auth.expired from the login sweep) shows on the
  worker's metrics port, which the parent serves (multiprocess mode for the worker).
- Beat's heartbeat reaches the worker through the broker and moves its gauge; beat logs
  each entry it sends; both write their schedule and metric files under the var dir.
- Every log line of both is JSON, with phone numbers masked.

They run on a throw-away SQLite database of their own (like the gunicorn test), so the
same test runs in CI's PostgreSQL and SQLite passes; the broker is the real Redis.
"""

import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from celery import Celery
from prometheus_client.parser import text_string_to_metric_families

from tests.processes import free_port, process

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
PHONE = "+12025550102"  # the simulator never answers it: the request stays pending
CELERY_TEXT_LINE = re.compile(r"^\[\d{4}-\d\d-\d\d [\d:,]+: (DEBUG|INFO|WARNING|ERROR|CRITICAL)/")

pytestmark = pytest.mark.slow


def samples(port: int) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def wait_for(condition, timeout: float, what: str, logs: list[Path]):
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError):
            value = condition()
            if value:
                return value
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs if log.exists())
            pytest.fail(f"{what} within {timeout} s\n{tails}")
        time.sleep(0.3)


def procfile_command(name: str, *extra: str) -> list[str]:
    """The Procfile's line for `name`, run through a shell as honcho / foreman run it."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            command = line.split(":", 1)[1].strip()
            assert command.startswith("celery "), line
            return ["/bin/sh", "-c", " ".join(["exec", command, *extra])]
    raise AssertionError(f"no {name} in the Procfile")


def json_log_lines(log: Path) -> list[dict]:
    """Every log line as JSON; the startup banner (plain print, not logging) is skipped."""
    parsed = []
    for line in log.read_text().splitlines():
        assert not CELERY_TEXT_LINE.match(line), f"a line in Celery's own format: {line!r}"
        if line.startswith("{"):
            parsed.append(json.loads(line))
    return parsed


@pytest.fixture
def stack(tmp_path, redis_url):
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "PROMETHEUS", "CELERY_"))},
        "SECRET_KEY": "celery-test-secret-key-not-for-deployment",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DOCUID_BIOMETRIC_PROVIDER": "simulator",
        "DOCUID_ALLOW_SIMULATOR": "1",
        "DOCUID_VAR_DIR": str(var_dir),
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_WORKER_METRICS_PORT": str(free_port()),
        "DOCUID_BEAT_HEARTBEAT_SECONDS": "1",
        "DJANGO_SETTINGS_MODULE": "docuid.settings",
        "PYTHONUNBUFFERED": "1",
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    python = str(VENV_BIN / "python")
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=180)
    setup = (
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from accounts import services\n"
        "from accounts.models import LoginRequest\n"
        "from tests.factories import UserFactory\n"
        f"UserFactory(phone_number={PHONE!r})\n"
        f"request, _ = services.login_request_start(phone_number={PHONE!r}, "
        "client_context=services.login.ClientContext())\n"
        "LoginRequest.objects.filter(pk=request.pk).update(expires_at=timezone.now() - timedelta(seconds=1))\n"
    )
    subprocess.run([python, "manage.py", "shell", "-c", setup], cwd=ROOT, env=env, check=True, timeout=120)
    # The web's directory, as a process manager handing everyone .env.example would set it.
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "web-prometheus")
    # Nothing left in this Redis database's queue from another run.
    Celery(broker=redis_url, set_as_current=False).connection_for_write().default_channel.client.delete("celery")
    return {"env": env, "var": var_dir, "tmp": tmp_path, "port": int(env["CELERY_WORKER_METRICS_PORT"])}


def test_worker_counters_liveness_beat_and_json_logs(stack):
    env, port, tmp = stack["env"], stack["port"], stack["tmp"]
    worker_log, beat_log = tmp / "worker.log", tmp / "beat.log"
    logs = [worker_log, beat_log]
    worker_args = procfile_command("worker", "--concurrency=1", "--without-mingle", "--without-gossip")
    with process(worker_args, worker_log, env=env):
        wait_for(lambda: samples(port).get(("docuid_worker_up", ())) == 1, 90, "the worker did not report up", logs)

        # The sweep runs in a pool child; the parent's metrics server must show its count.
        Celery(broker=env["CELERY_BROKER_URL"], set_as_current=False).send_task("accounts.tasks.login_requests_sweep")
        expired = ("docuid_auth_attempts_total", (("outcome", "expired"),))
        wait_for(lambda: samples(port).get(expired) == 1, 60, "auth.expired never reached the metrics port", logs)

        now = time.time()
        started = samples(port)[("docuid_scheduled_backup_last_start_timestamp_seconds", ())]
        assert now - 300 < started <= now  # a fresh install: seeded with the worker's start

        with process(procfile_command("beat"), beat_log, env=env):
            heartbeat = ("docuid_beat_heartbeat_timestamp_seconds", ())
            wait_for(lambda: samples(port).get(heartbeat, 0) > now, 60, "no beat heartbeat reached the worker", logs)
            wait_for(lambda: "beat sent" in beat_log.read_text(), 30, "beat logged no dispatch", logs)

    worker_lines, beat_lines = json_log_lines(worker_log), json_log_lines(beat_log)
    assert any(line["message"].endswith("ready.") for line in worker_lines)
    assert any("login_requests_sweep" in line["message"] for line in worker_lines)  # the task's own log line
    sent = [line for line in beat_lines if line["logger"] == "docuid.beat"]
    assert sent and sent[0]["entry"] == "docuid-beat-heartbeat" and sent[0]["task"] == "docuid.beat_heartbeat"
    output = worker_log.read_text() + beat_log.read_text()
    assert PHONE not in output and PHONE[1:] not in output

    # Beat's schedule and the worker's metric files live under the var dir, not the code or the web's dir.
    assert list(stack["var"].glob("celerybeat-schedule*"))
    assert list((stack["var"] / "prometheus-worker").glob("counter_*.db"))
    assert not (tmp / "web-prometheus").exists() or not list((tmp / "web-prometheus").glob("*.db"))
    assert not list(ROOT.glob("celerybeat-schedule*"))
