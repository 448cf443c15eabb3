"""docuid.multiproc_metrics against prometheus_client on real multi-process metric files.

Several real processes write counters, histograms, summaries and gauges of every
multiprocess mode into one directory; the fast exposition must say exactly what
prometheus_client's MultiProcessCollector + generate_latest say, before and after a
dead process's files are folded into the archives.
"""

import os
import subprocess
import sys
import textwrap

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.parser import text_string_to_metric_families

from docuid import multiproc_metrics

WRITER = textwrap.dedent(
    """
    import sys, time
    from prometheus_client import Counter, Gauge, Histogram, Summary

    seed = int(sys.argv[1])
    requests = Counter("t_requests", "Requests.", ["route", "status"])
    plain = Counter("t_plain", "No labels, help with a back\\\\slash\\nand a newline.")
    latency = Histogram("t_latency_ms", "Latency.", ["route"], buckets=(5, 10, 50, 100))
    sizes = Summary("t_size_bytes", "Sizes.")
    for mode in ("all", "liveall", "min", "max", "sum", "mostrecent", "livesum", "livemostrecent"):
        gauge = Gauge(f"t_gauge_{mode}", f"A {mode} gauge.", ["kind"], multiprocess_mode=mode)
        gauge.labels(kind="a").set(seed * 10 + 1)
        gauge.labels(kind="b").set(100 - seed)
        time.sleep(0.002)  # distinct timestamps for mostrecent
    for i in range(20 + seed):
        route = ["home", 'odd "quoted" \\\\ route', "ünïcode", "line\\nbreak"][i % 4]
        requests.labels(route=route, status=f"{2 + i % 3}xx").inc()
        latency.labels(route=route).observe((i * 7 + seed) % 130)
        sizes.observe(i * 1.5)
    plain.inc(seed + 0.25)
    """
)


def families(text: str) -> dict:
    return {
        family.name: (
            family.type,
            family.documentation,
            sorted((s.name, tuple(sorted(s.labels.items())), s.value) for s in family.samples),
        )
        for family in text_string_to_metric_families(text)
    }


def library_exposition(path) -> dict:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(path))
    return families(generate_latest(registry).decode())


@pytest.fixture
def metrics_dir(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    pids = []
    for seed in (1, 2, 3):
        process = subprocess.run(
            [sys.executable, "-c", WRITER + "\nprint(__import__('os').getpid())", str(seed)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        pids.append(int(process.stdout.strip()))
    return tmp_path, pids


def test_the_fast_exposition_says_what_prometheus_client_says(metrics_dir):
    path, _ = metrics_dir
    expected = library_exposition(path)
    assert {"t_requests", "t_plain", "t_latency_ms", "t_size_bytes", "t_gauge_all", "t_gauge_mostrecent"} <= set(
        expected
    )
    assert families(multiproc_metrics.render(str(path)).decode()) == expected


def test_folding_dead_processes_changes_no_value_and_leaves_one_file_per_type(metrics_dir):
    path, pids = metrics_dir
    for pid in pids[:2]:  # as gunicorn's child_exit does
        mark_process_dead(pid, str(path))
    before = library_exposition(path)
    for pid in pids[:2]:
        assert multiproc_metrics.compact_worker_files(str(path), pid) > 0
    assert library_exposition(path) == before
    assert families(multiproc_metrics.render(str(path)).decode()) == before
    names = sorted(p.name for p in path.glob("*.db"))
    assert "counter_archive.db" in names and "histogram_archive.db" in names and "gauge_max_archive.db" in names
    # Only the per-process gauges keep their files (their samples carry the pid).
    dead_files = [n for n in names if n.endswith((f"_{pids[0]}.db", f"_{pids[1]}.db"))]
    assert sorted(dead_files) == sorted(f"gauge_all_{pid}.db" for pid in pids[:2])
    # Folding again (the third process) still agrees.
    multiproc_metrics.compact_worker_files(str(path), pids[2])
    assert families(multiproc_metrics.render(str(path)).decode()) == before
    assert library_exposition(path) == before


def test_a_process_with_no_files_is_nothing_to_fold(tmp_path):
    assert multiproc_metrics.compact_worker_files(str(tmp_path), 999999) == 0
    assert multiproc_metrics.render(str(tmp_path)) == b""
