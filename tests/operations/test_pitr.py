"""Point-in-time recovery with the project's scripts (deploy/postgres/) on a private PostgreSQL cluster.

initdb refuses root, so the cluster belongs to the `postgres` OS user, in a fresh
directory on a free port; it is always stopped and removed, and every step has a timeout.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from django.conf import settings

from operations.crypto import generate_key
from tests.conftest import require

pytestmark = pytest.mark.slow

PGBIN = Path("/usr/lib/postgresql/15/bin")
SCRIPTS = Path(settings.BASE_DIR) / "deploy" / "postgres"
STEP_TIMEOUT = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    def __init__(self, root: Path, port: int, env: dict):
        self.root, self.port, self.env = root, port, env

    def as_postgres(self, *argv, check=True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", "env", *(f"{k}={v}" for k, v in self.env.items()), *map(str, argv)],
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            check=check,
        )

    def sql(self, query: str) -> str:
        result = subprocess.run(
            [
                PGBIN / "psql",
                "-h",
                self.root,
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-Atc",
                query,
            ],
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            check=True,
        )
        return result.stdout.strip()

    def start(self, datadir: Path) -> None:
        self.as_postgres(
            PGBIN / "pg_ctl", "-D", datadir, "-l", datadir.parent / f"{datadir.name}.log", "-w", "-t", "60", "start"
        )

    def stop(self, datadir: Path) -> None:
        if (datadir / "postmaster.pid").exists():
            self.as_postgres(PGBIN / "pg_ctl", "-D", datadir, "-m", "immediate", "-w", "-t", "30", "stop", check=False)

    def wait_for(self, query: str, expected: str, *, seconds: float = 45) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if self.sql(query) == expected:
                    return
            except subprocess.CalledProcessError:
                pass
            time.sleep(0.2)
        pytest.fail(f"timed out waiting for {query!r} to return {expected!r}")


@pytest.fixture
def cluster():
    require("PostgreSQL 15 server binaries", (PGBIN / "initdb").exists(), "apt-get install postgresql-15")
    require(
        "the postgres OS user", shutil.which("runuser") is not None and _user_exists("postgres"), "install postgresql"
    )
    root = Path(tempfile.mkdtemp(prefix="docuid-pitr-"))
    shutil.chown(root, "postgres", "postgres")
    env = {
        "DOCUID_PITR_DIR": root / "archive",
        "DOCUID_BACKUP_KEY": generate_key(),
        "DOCUID_PITR_ENV_FILE": "/nonexistent",
        "DOCUID_PYTHON": _python_for_postgres(),
        "PGBIN": PGBIN,
        "PGHOST": root,
        "PGUSER": "postgres",
    }
    port = _free_port()
    env["PGPORT"] = port
    instance = Cluster(root, port, env)
    data = root / "data"
    try:
        instance.as_postgres(PGBIN / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\ninclude '{SCRIPTS / 'docuid-pitr.conf'}'\n"
                f"archive_command = '{SCRIPTS / 'archive-wal.sh'} %p %f'\n"
                f"port = {port}\nlisten_addresses = ''\nunix_socket_directories = '{root}'\n"
                "fsync = off\narchive_timeout = 5\n"
            )
        instance.start(data)
        yield instance
    finally:
        instance.stop(root / "data")
        instance.stop(root / "restored")
        shutil.rmtree(root, ignore_errors=True)


def _python_for_postgres() -> str:
    """The scripts run as postgres: our venv's Python if that user may run it, else the system's."""
    for candidate in (os.sys.executable, "/usr/bin/python3"):
        probe = subprocess.run(
            ["runuser", "-u", "postgres", "--", candidate, "-c", "import cryptography.hazmat.primitives.ciphers.aead"],
            capture_output=True,
            timeout=STEP_TIMEOUT,
            check=False,
        )
        if probe.returncode == 0:
            return candidate
    require("a Python with `cryptography` runnable by the postgres user", False, "apt-get install python3-cryptography")
    return ""


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def test_point_in_time_recovery_restores_exactly_the_rows_committed_before_the_target_time(cluster):
    cluster.sql("CREATE TABLE ledger (id int PRIMARY KEY); CREATE TABLE doomed (x int); INSERT INTO doomed VALUES (1)")
    base = cluster.as_postgres(SCRIPTS / "base-backup.sh")
    assert "base backup" in base.stdout

    cluster.sql("INSERT INTO ledger SELECT generate_series(1, 50)")
    time.sleep(1.1)
    target = cluster.sql("SELECT clock_timestamp()")
    time.sleep(1.1)
    cluster.sql("INSERT INTO ledger SELECT generate_series(51, 80)")
    cluster.sql("DROP TABLE doomed")
    segment = cluster.sql("SELECT pg_walfile_name(pg_switch_wal())")
    cluster.wait_for(f"SELECT last_archived_wal >= '{segment}' FROM pg_stat_archiver", "t")
    archived = list((cluster.root / "archive" / "wal").iterdir())
    assert archived and all(b"ledger" not in p.read_bytes() for p in archived)  # encrypted at rest
    cluster.stop(cluster.root / "data")

    restored = cluster.root / "restored"
    cluster.as_postgres(SCRIPTS / "restore-to-time.sh", target, restored)
    cluster.start(restored)
    cluster.wait_for("SELECT pg_is_in_recovery()", "f")

    assert cluster.sql("SELECT count(*), min(id), max(id) FROM ledger") == "50|1|50"
    assert cluster.sql("SELECT count(*) FROM doomed") == "1"


def test_restore_to_time_refuses_a_target_before_the_first_base_backup(cluster):
    cluster.as_postgres(SCRIPTS / "base-backup.sh")

    result = cluster.as_postgres(
        SCRIPTS / "restore-to-time.sh", "2001-01-01 00:00:00+00", cluster.root / "restored", check=False
    )

    assert result.returncode != 0
    assert "no base backup" in result.stderr
