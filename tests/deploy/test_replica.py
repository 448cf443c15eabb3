"""A real PostgreSQL streaming replica (deploy/postgres/make-replica.sh) behind DATABASE_REPLICA_URL.

A private primary and its replica run as the `postgres` OS user on free ports in a fresh
directory (initdb refuses root); both are always stopped and removed. DocuID runs
against them in a separate process (tests/deploy/replica_journey.py), because a replica
only sees committed transactions and pytest-django's tests never commit.
"""

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import require
from tests.processes import free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PGBIN = Path("/usr/lib/postgresql/15/bin")
ROOT = Path(settings.BASE_DIR)
TIMEOUT = 120


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _as_postgres(*argv, env: dict | None = None) -> subprocess.CompletedProcess:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    pairs = [f"{k}={v}" for k, v in (env or {}).items()]
    result = subprocess.run(
        [*prefix, "env", *pairs, *map(str, argv)], capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert result.returncode == 0, f"{argv[0]} failed: {result.stderr[-2000:]}"
    return result


def _configure(datadir: Path, port: int, socket_dir: Path) -> None:
    with open(datadir / "postgresql.conf", "a") as conf:
        conf.write(
            f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{socket_dir}'\n"
            "fsync = off\nwal_level = replica\nmax_wal_senders = 4\n"
        )


@pytest.fixture
def primary_and_replica():
    require("PostgreSQL 15 server binaries", (PGBIN / "initdb").exists(), "apt-get install postgresql-15")
    require(
        "the postgres OS user", shutil.which("runuser") is not None and _user_exists("postgres"), "install postgresql"
    )
    root = Path(tempfile.mkdtemp(prefix="docuid-replica-"))
    shutil.chown(root, "postgres", "postgres")
    primary, replica = root / "primary", root / "replica"
    ports = {"primary": free_port(), "replica": free_port()}
    started = []
    try:
        _as_postgres(PGBIN / "initdb", "-D", primary, "-A", "trust", "-U", "postgres", "--no-sync")
        _configure(primary, ports["primary"], root)
        _as_postgres(PGBIN / "pg_ctl", "-D", primary, "-l", root / "primary.log", "-w", "-t", "60", "start")
        started.append(primary)
        _as_postgres(PGBIN / "createdb", "-h", "127.0.0.1", "-p", ports["primary"], "-U", "postgres", "docuid")
        env = {"PGBIN": PGBIN, "PGHOST": "127.0.0.1", "PGPORT": ports["primary"], "PGUSER": "postgres"}
        made = _as_postgres(ROOT / "deploy" / "postgres" / "make-replica.sh", replica, "docuid_test_replica", env=env)
        assert "replica" in made.stdout
        assert (replica / "standby.signal").exists()
        _configure(replica, ports["replica"], root)
        _as_postgres(PGBIN / "pg_ctl", "-D", replica, "-l", root / "replica.log", "-w", "-t", "60", "start")
        started.append(replica)
        yield root, ports
    finally:
        for datadir in reversed(started):
            if (datadir / "postmaster.pid").exists():
                subprocess.run(
                    ["runuser", "-u", "postgres", "--", PGBIN / "pg_ctl", "-D", datadir, "-m", "immediate", "stop"],
                    capture_output=True,
                    timeout=60,
                    check=False,
                )
        shutil.rmtree(root, ignore_errors=True)


def test_replica_serves_reads_keeps_read_your_writes_never_serves_a_revoked_grant_and_falls_back(primary_and_replica):
    root, ports = primary_and_replica
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{ports['primary']}/docuid",
        "DATABASE_REPLICA_URL": f"postgres://postgres@127.0.0.1:{ports['replica']}/docuid",
        # Replay is paused on purpose below: the lag guard must not take the replica out meanwhile.
        "DOCUID_REPLICA_MAX_LAG_SECONDS": "3600",
        "DOCUID_REPLICA_LAG_CHECK_SECONDS": "0",
        "DOCUID_VAR_DIR": str(root / "var"),
        "REPLICA_STOP": f"runuser -u postgres -- {PGBIN / 'pg_ctl'} -D {root / 'replica'} -m immediate -w stop",
    }
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr[-2000:]

    run = subprocess.run(
        [sys.executable, ROOT / "tests" / "deploy" / "replica_journey.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    print("replica journey:", seen)  # timings for docs/DEPLOYMENT.md (pytest -s)

    assert seen["replica_in_recovery"] is True
    assert seen["replica_alias"] == "replica"
    # Routed to the (paused) replica: a document written since is not there yet.
    assert seen["owner_sees_old_doc"] is True
    assert seen["owner_sees_new_doc_from_replica"] is False
    # After the owner writes, their reads go to the primary (this browser by cookie, their other session
    # by the cache mark); someone who has not written still reads the replica.
    assert seen["revoke_status"] == 302
    assert seen["fresh_cookie"] is True
    assert seen["owner_sees_new_doc_after_writing"] is True
    assert seen["owner_elsewhere_sees_new_doc"] is True
    assert seen["viewer_sees_own_new_doc_from_replica"] is False
    # The lagging replica still holds the revoked grant, and the document is never shown from it.
    assert seen["viewer_sees_shared_before_revoke"] is True
    assert seen["replica_still_has_grant"] is True
    assert seen["viewer_sees_shared_after_revoke"] is False
    assert seen["viewer_detail_after_revoke"] == 404
    assert seen["lag_gauge"] >= 0
    # Replica down: pages still answer, from the primary.
    assert seen["down_viewer_sees_own_new_doc"] is True
    assert seen["down_viewer_sees_shared"] is False
    assert seen["down_usable"] is False
    assert seen["down_gauge"] == -1
