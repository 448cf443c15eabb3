"""The extraction zygote in the real processes that extract: a prefork `celery worker` and `manage.py search_reindex`.

Each pool child that extracts spawns its own zygote (never inherited from the worker's parent,
which holds Django and the broker connection); every zygote goes when the worker stops; and
`search_reindex` leaves none behind. A throw-away SQLite database of their own (like
tests/docuid/test_celery_processes.py), so the test runs the same in both CI passes.
"""

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery

from tests.processes import free_port, process

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
PYTHON = str(VENV_BIN / "python")
ZYGOTE_MARK = b"documents.extraction.zygote import main"

pytestmark = pytest.mark.slow


def zygotes() -> dict[int, int]:
    """Every running extraction zygote on this machine: pid -> parent pid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if ZYGOTE_MARK in (entry / "cmdline").read_bytes():
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if stat[0] != "Z":
                    found[int(entry.name)] = int(stat[1])
    return found


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def shell(env: dict, code: str) -> str:
    done = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True, timeout=120, capture_output=True
    )
    return done.stdout.decode().strip().splitlines()[-1]  # the last line: log lines may come before


@pytest.fixture
def worker_env(tmp_path, redis_url):
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "PROMETHEUS", "CELERY_"))},
        "SECRET_KEY": "extraction-worker-test-secret-key-not-for-deployment",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DOCUID_VAR_DIR": str(var_dir),
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_WORKER_METRICS_PORT": str(free_port()),
        "DJANGO_SETTINGS_MODULE": "docuid.settings",
        "PYTHONUNBUFFERED": "1",
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=180)
    Celery(broker=redis_url, set_as_current=False).connection_for_write().default_channel.client.delete("celery")
    return env


MAKE_DOCUMENTS = (
    "from tests.factories import UserFactory, make_document\n"
    "owner = UserFactory()\n"
    "ids = [make_document(owner, name=f'note{n}.txt', data=f'quokka number {n}\\n'.encode()).current_version_id"
    " for n in range(COUNT)]\n"
    "print(' '.join(map(str, ids)))\n"
)
STATUSES = (
    "from documents.models import VersionText\n"
    "print(' '.join(sorted(f'{t.version_id}:{t.status}' for t in VersionText.objects.all())))\n"
)


def test_a_prefork_worker_extracts_with_one_zygote_per_pool_child_and_leaves_none(worker_env, tmp_path):
    before = set(zygotes())
    ids = shell(worker_env, MAKE_DOCUMENTS.replace("COUNT", "6")).split()
    app = Celery(broker=worker_env["CELERY_BROKER_URL"], set_as_current=False)
    args = [PYTHON, "-m", "celery", "-A", "docuid", "worker", "-l", "INFO", "--concurrency=2", "--pool=prefork"]
    args += ["--without-mingle", "--without-gossip"]
    log = tmp_path / "worker.log"
    with process(args, log, env=worker_env) as worker:
        for version_id in ids:
            app.send_task("documents.tasks.extract_version_text", args=[int(version_id)])
        deadline = time.monotonic() + 240  # a loaded CI box: the worker itself takes a while to start
        while True:
            statuses = shell(worker_env, STATUSES).split()
            if len(statuses) == len(ids) and all(s.endswith(":done") for s in statuses):
                break
            assert time.monotonic() < deadline, f"{statuses}\n{log.read_text()[-3000:]}"
            time.sleep(1)
        family = descendants(worker.pid)
        ours = {pid: parent for pid, parent in zygotes().items() if pid in family}
        # Each zygote's parent is a pool child, never the worker's main process; no pool child has two.
        assert ours, log.read_text()[-3000:]
        pool_children = {pid for pid in family if pid not in ours}
        assert all(parent in pool_children and parent != worker.pid for parent in ours.values())
        assert len(set(ours.values())) == len(ours) <= 2
    # The worker stopped: its pool children went, and their zygotes with them.
    deadline = time.monotonic() + 60
    while set(ours) & set(zygotes()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not set(ours) & set(zygotes())
    assert not set(ours) & before


def test_search_reindex_extracts_through_its_zygote_and_leaves_none(worker_env):
    ids = shell(worker_env, MAKE_DOCUMENTS.replace("COUNT", "3")).split()
    before = set(zygotes())
    done = subprocess.run(
        [PYTHON, "manage.py", "search_reindex"], cwd=ROOT, env=worker_env, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert f"{len(ids)} version(s) processed: {len(ids)} done" in done.stdout.decode()
    # The command has exited, so a zygote it left behind has lost its parent. A new zygote
    # whose parent is alive belongs to some other live process (another job on this machine),
    # not to the command. A zygote notices its owner is gone on its next poll: allow a loaded
    # machine some seconds.
    deadline = time.monotonic() + 15
    while True:
        orphans = {pid for pid, parent in zygotes().items() if pid not in before and not _alive_owner(parent)}
        if not orphans or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert orphans == set()


def _alive_owner(pid: int) -> bool:
    return pid > 1 and Path(f"/proc/{pid}").exists()
