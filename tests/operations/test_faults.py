"""A backup killed mid-way, and memory while backing up a large file: real manage.py subprocesses."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.slow

ROOT = Path(settings.BASE_DIR)
BIG_FILE_MB = 96


def _big_file(var: Path) -> None:
    media = var / "media" / "big"
    media.mkdir(parents=True, exist_ok=True)
    block = os.urandom(1024 * 1024)
    with open(media / "scan.bin", "wb") as out:
        for _ in range(BIG_FILE_MB):
            out.write(block)


def _manage(env: dict, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        **kwargs,
    )


def _rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT name, status FROM operations_backup").fetchall()


def test_a_backup_killed_mid_way_leaves_no_successful_record_and_no_committed_archive(sqlite_project):
    var = Path(sqlite_project["DOCUID_VAR_DIR"])
    _big_file(var)
    backups = var / "backups"
    process = _manage(sqlite_project, "backup")
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            partial = list(backups.glob("*.partial")) if backups.exists() else []
            if partial and partial[0].stat().st_size > 4 * 1024 * 1024:
                break
            assert process.poll() is None, process.stdout.read().decode()[-2000:]
            time.sleep(0.005)
        else:
            pytest.fail("the backup never started writing its archive")
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)

    db = var / "db.sqlite3"
    assert [status for _, status in _rows(db)] == ["running"]
    assert [p.name for p in backups.iterdir() if not p.name.endswith(".partial")] == []

    # The next backup says what happened to the killed one and clears its debris.
    rerun = _manage(sqlite_project, "backup")
    output = rerun.communicate(timeout=120)[0].decode()
    assert rerun.returncode == 0, output[-2000:]
    assert sorted(status for _, status in _rows(db)) == ["failed", "succeeded"]
    assert not list(backups.glob("*.partial"))


def test_memory_stays_flat_while_backing_up_a_large_file(sqlite_project):
    var = Path(sqlite_project["DOCUID_VAR_DIR"])
    _big_file(var)
    script = (
        "import resource, django; django.setup();"
        "from django.core.management import call_command;"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss;"
        "call_command('backup', verbosity=0);"
        "from operations.models import Backup;"
        "call_command('backup_verify', Backup.objects.latest('started_at').name, verbosity=0);"
        "print('GROWTH_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, **sqlite_project},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    growth_mb = int(result.stdout.split("GROWTH_KB")[1].split()[0]) / 1024
    assert growth_mb < BIG_FILE_MB / 4, f"peak RSS grew by {growth_mb:.0f} MB for a {BIG_FILE_MB} MB file"
