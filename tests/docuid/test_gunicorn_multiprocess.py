"""Under gunicorn with two workers, /metrics reports the totals of both (multiprocess mode)."""

import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
REQUESTS = 40

pytestmark = pytest.mark.slow


def get(port: int, path: str) -> tuple[int, str]:
    # A fresh connection each time, closed after the answer, so the kernel hands the
    # requests to whichever worker accepts first: both workers serve.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def healthz_count(metrics_text: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "api_latency_ms_count" and sample.labels.get("route") == "healthz":
                total += sample.value
    return total


@contextlib.contextmanager
def serve(tmp_path, **extra_env):
    port = free_port()
    var_dir = tmp_path / "var"
    (var_dir / "staticfiles").mkdir(parents=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "PROMETHEUS"))},
        "SECRET_KEY": "gunicorn-test-secret-key-not-for-deployment",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DOCUID_SECURE_SSL_REDIRECT": "0",
        "DOCUID_BIOMETRIC_PROVIDER": "simulator",
        "DOCUID_ALLOW_SIMULATOR": "1",
        "METRICS_ALLOWED_IPS": "127.0.0.1",
        "DOCUID_VAR_DIR": str(var_dir),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "DJANGO_SETTINGS_MODULE": "docuid.settings",
        **extra_env,
    }
    # migrate writes metrics into the directory too: gunicorn must start from an empty one.
    (tmp_path / "prometheus").mkdir()
    # As the Procfile's release does: /readyz is 503 until collectstatic has written the manifest.
    for command in (["migrate", "--noinput", "-v0"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run(
            [str(VENV_BIN / "python"), "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=120,
        )
    log = (tmp_path / "gunicorn.log").open("w+")
    process = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "docuid.wsgi", "-c", "deploy/gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()[-3000:]
            try:
                # /readyz, not /healthz: the readiness polls must not count towards the total.
                if get(port, "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not become ready in 60 s"
            time.sleep(0.3)
        yield {"port": port, "log": tmp_path / "gunicorn.log", "metrics_dir": tmp_path / "prometheus"}
    finally:
        # The whole process group (master and workers), whatever state the test left it in.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)  # gunicorn's quick shutdown
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    with serve(tmp_path_factory.mktemp("gunicorn")) as server:
        yield server


@pytest.fixture(scope="module")
def recycling_gunicorn(tmp_path_factory):
    """Workers that exit after ~20 requests, as GUNICORN_MAX_REQUESTS makes them in production."""
    with serve(tmp_path_factory.mktemp("recycling"), GUNICORN_MAX_REQUESTS="20") as server:
        yield server


def healthz_counts_per_worker(metrics_dir, tmp_path) -> list[float]:
    """Each worker's own healthz count, read from its histogram file alone."""
    counts = []
    for histogram_file in metrics_dir.glob("histogram_*.db"):
        single = tmp_path / f"single-{histogram_file.stem}-{time.monotonic_ns()}"
        single.mkdir()
        shutil.copy(histogram_file, single)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(single))
        count = sum(
            sample.value
            for family in registry.collect()
            for sample in family.samples
            if sample.name == "api_latency_ms_count" and sample.labels.get("route") == "healthz"
        )
        if count:
            counts.append(count)
    return counts


def test_metrics_sum_every_workers_requests(gunicorn, tmp_path):
    port = gunicorn["port"]
    before = healthz_count(get(port, "/metrics")[1])
    # Which worker accepts a connection is the kernel's choice: send waves of four
    # concurrent clients until both workers have served some (bounded), so the total
    # checked below really is a sum over processes.
    sent, per_worker, deadline = 0, [], time.monotonic() + 30
    while len(per_worker) < 2 and time.monotonic() < deadline:
        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(lambda _: get(port, "/healthz")[0], range(REQUESTS)))
        assert statuses == [200] * REQUESTS
        sent += REQUESTS
        per_worker = healthz_counts_per_worker(gunicorn["metrics_dir"], tmp_path)
    assert len(per_worker) == 2, "only one worker served in 30 s"

    # Several scrapes, answered by either worker, all report the same total.
    scrapes = [get(port, "/metrics") for _ in range(6)]
    assert all(status == 200 for status, _ in scrapes)
    assert [healthz_count(text) - before for _, text in scrapes] == [sent] * len(scrapes)
    assert all("django_http_responses_total_by_status_total" in text for _, text in scrapes)
    assert sum(healthz_counts_per_worker(gunicorn["metrics_dir"], tmp_path)) == before + sent


def test_gunicorn_and_the_app_log_json_lines_with_pii_masked(gunicorn):
    port = gunicorn["port"]
    get(port, "/healthz?mobile=%2B12025550123&email=victim%40example.com")
    time.sleep(0.5)
    lines = [line for line in gunicorn["log"].read_text().splitlines() if line.startswith("{")]
    entries = [json.loads(line) for line in lines]
    assert any(e["logger"] == "gunicorn.error" and "Booting worker" in e["message"] for e in entries)
    assert any(e["logger"] == "docuid.request" and e["route"] == "healthz" for e in entries)
    text = gunicorn["log"].read_text()
    assert "2025550123" not in text
    assert "victim" not in text
    # Every line gunicorn or the app wrote on stdout is JSON (warnings go to stderr, which is merged here).
    assert all(line.startswith("{") for line in text.splitlines() if "Warning" not in line and line.strip())


def test_recycled_workers_stay_in_the_totals_and_their_files_are_folded_into_archives(recycling_gunicorn):
    port, metrics_dir = recycling_gunicorn["port"], recycling_gunicorn["metrics_dir"]
    before = healthz_count(get(port, "/metrics")[1])
    sent = 120  # about six worker lifetimes
    assert [get(port, "/healthz")[0] for _ in range(sent)] == [200] * sent
    assert "Autorestarting worker" in recycling_gunicorn["log"].read_text()

    # Gunicorn's master folds an exited worker's files in child_exit: wait for it, bounded.
    deadline = time.monotonic() + 15
    while True:
        histograms = sorted(path.name for path in metrics_dir.glob("histogram_*.db"))
        if len(histograms) <= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "histogram_archive.db" in histograms
    assert len(histograms) <= 3, histograms  # two live workers and the archive, however many have exited
    assert healthz_count(get(port, "/metrics")[1]) - before == sent
