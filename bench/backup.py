"""Backup benchmark: DocuID's encrypted backup and restore next to pg_dump + tar / pg_restore + untar.

    make bench-backup                (or: .venv/bin/python bench/backup.py [--size-mb 1024])
    .venv/bin/python bench/backup.py --size-mb 64      (a smoke run in about a minute)

On PostgreSQL it creates its own databases (docuid_bench_backup, _raw, _restore;
dropped at the end), migrates, and seeds --size-mb of data: ~30% rows (users,
documents with search vectors, grants, and a hash-chained audit trail written
with a correct chain) and ~70% document files of 10 MB each. The files are random
bytes, so no compression flatters either side. In one run it then times, --repeat
times each (default 3; raw and DocuID interleaved so both share the background
load of a busy machine; medians reported):

  (a) raw backup:   pg_dump -Fc to a file, tar cf of the media dir, fsync of both;
  (b) DocuID:       `manage.py backup` (encrypted, checksummed, replicated once, fsynced);
  (c) raw restore:  pg_restore into a fresh database, tar xf into an empty dir, fsync;
  (d) DocuID:       `manage.py restore <name> --yes` into a fresh migrated database and
                    an empty media dir (the disaster-recovery case: the archive read by name);
  (e) `manage.py recovery_drill` and the RTO it achieves for that data.

Throughput is (database size + file bytes) / wall time, the same numerator for
both sides, so a ratio is raw seconds / DocuID seconds. Peak memory is sampled
from /proc every 20 ms: VmHWM of the Python process, and the sum of VmRSS over
its process tree (pg_dump, pg_restore and psql run as its children); the
PostgreSQL server's own processes are not counted on either side.
Results go to stdout and var/bench/backup.json; bench/README.md records them.
"""

import argparse
import hashlib
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/docuid_bench_backup"
MB = 1024 * 1024
FILE_BYTES = 10 * MB
ROW_SHARE = 0.3
USERS = 1000
DOCS_PER_ROUND = 4000
EVENTS_PER_ROUND = 6000
CHECKED_TABLES = ["audit_auditevent", "documents_document", "documents_grant", "accounts_user"]
TARGETS = {"backup_ratio": 0.8, "restore_ratio": 0.8, "peak_rss_mb": 150}


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# --- Environment and databases ---------------------------------------------------------


def db_url(base: str, name: str) -> str:
    return base.rsplit("/", 1)[0] + "/" + name


def db_name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


def project_env(database_url: str, var_dir: Path, key: str, replica: Path) -> dict:
    """The environment of every manage.py run: this bench's database, var dir, key and one replica."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DOCUID_", "PG", "DJANGO_")) and k not in {"REDIS_URL", "CELERY_BROKER_URL"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "docuid.settings",
            "DEBUG": "1",
            "SECRET_KEY": "bench-only-secret-key-not-for-any-deployment-0123456789",
            "DATABASE_URL": database_url,
            "DOCUID_VAR_DIR": str(var_dir),
            "DOCUID_BACKUP_KEY": key,
            "DOCUID_BACKUP_REPLICAS": "dr",
            "DOCUID_BACKUP_REPLICA_DR_PATH": str(replica),
            "DOCUID_LOG_FORMAT": "text",
            "DOCUID_LOG_LEVEL": "WARNING",
        }
    )
    return env


def psql_admin(base_url: str, sql: str) -> None:
    subprocess.run(["psql", db_url(base_url, "postgres"), "-qXc", sql], check=True, capture_output=True)


def create_database(base_url: str, name: str) -> None:
    psql_admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql_admin(base_url, f'CREATE DATABASE "{name}"')


def migrate(env: dict) -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)


def pg_env(url: str) -> dict:
    """libpq variables for the raw tools, from the same URL DocuID uses."""
    import dj_database_url

    parsed = dj_database_url.parse(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    for var, key in (("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGUSER", "USER"), ("PGPASSWORD", "PASSWORD")):
        if parsed.get(key):
            env[var] = str(parsed[key])
    env["PGDATABASE"] = parsed["NAME"]
    return env


# --- Seeding ----------------------------------------------------------------------------

WORDS = [
    "quarterly",
    "annual",
    "budget",
    "contract",
    "invoice",
    "minutes",
    "policy",
    "design",
    "letter",
    "plan",
    "review",
    "draft",
    "final",
    "signed",
    "summary",
    "forecast",
    "audit",
    "payroll",
    "vendor",
    "customer",
    "project",
    "roadmap",
    "meeting",
    "proposal",
    "renewal",
    "lease",
    "insurance",
    "compliance",
    "security",
    "incident",
    "report",
    "schedule",
    "appendix",
    "amendment",
    "agreement",
    "statement",
    "receipt",
    "tax",
]
CATEGORIES = ["Reports", "Contracts", "Invoices", "Minutes", "Policies", "Designs", "Letters", "Plans"]
KINDS = [
    ("pdf", "application/pdf"),
    ("word", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("powerpoint", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ("text", "text/plain"),
]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Word 16.0.17531; Pro) DocuID-addin/2.3",
]


def database_bytes() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        return cursor.fetchone()[0]


def seed_users(rng: random.Random) -> list:
    from accounts.models import User

    return User.objects.bulk_create(
        User(
            phone_number=f"+1312555{i:04d}",
            name=f"{rng.choice(['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Ken'])} Bench{i}",
            email=f"bench{i}@example.com",
            address=f"{rng.randint(1, 999)} Example Street, Springfield",
            password="!",
        )
        for i in range(USERS)
    )


def _sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(low, high)))


def seed_documents(rng: random.Random, users: list, now: datetime) -> list[int]:
    """One round of documents (search vectors built by PostgreSQL as they are inserted) and their grants."""
    from django.db import connection

    from documents.models import Grant

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS bench_stage (owner_id bigint, title text, description text, "
            "category text, family text, mime_type text, size bigint, sha256 text, security_level text, "
            "created_at timestamptz, updated_at timestamptz)"
        )
        cursor.execute("TRUNCATE bench_stage")
        with cursor.copy("COPY bench_stage FROM STDIN") as copy:
            for _ in range(DOCS_PER_ROUND):
                family, mime = rng.choice(KINDS)
                created = now - timedelta(days=rng.uniform(30, 700))
                copy.write_row(
                    (
                        rng.choice(users).pk,
                        _sentence(rng, 2, 6).capitalize(),
                        _sentence(rng, 20, 60),
                        rng.choice(CATEGORIES),
                        family,
                        mime,
                        rng.randint(1_000, 50_000_000),
                        f"{rng.getrandbits(256):064x}",
                        rng.choice(["public", "internal", "internal", "confidential"]),
                        created,
                        created + timedelta(days=rng.uniform(0, 29)),
                    )
                )
        cursor.execute(
            """
            INSERT INTO documents_document (owner_id, title, description, category, family, mime_type, size,
                sha256, security_level, created_at, updated_at, search_vector)
            SELECT owner_id, title, description, category, family, mime_type, size, sha256, security_level,
                created_at, updated_at,
                setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', category), 'B')
                || setweight(to_tsvector('english', description), 'C')
            FROM bench_stage RETURNING id
            """
        )
        ids = [row[0] for row in cursor.fetchall()]
    grants = []
    for pk in ids:
        for user in rng.sample(users, 2):
            grants.append(Grant(document_id=pk, user_id=user.pk, permission=rng.choice(["view", "download"])))
    Grant.objects.bulk_create(grants, batch_size=5000)
    return ids


class AuditSeeder:
    """Appends events to the audit trail with a correct hash chain (the chain a verifier walks)."""

    def __init__(self, rng: random.Random, users: list, start: datetime):
        from django.db import connection

        from audit.chain import GENESIS_HASH

        self.rng = rng
        self.users = users
        self.clock = start
        with connection.cursor() as cursor:
            cursor.execute("SELECT hash FROM audit_auditevent ORDER BY id DESC LIMIT 1")
            row = cursor.fetchone()
        self.head = row[0] if row else GENESIS_HASH
        self.count = 0

    def _event(self, document_ids: list[int]) -> SimpleNamespace:
        from accounts.phone import mask_phone

        rng = self.rng
        user = rng.choice(self.users)
        self.clock += timedelta(microseconds=rng.randint(1, 3_000_000))
        kind = rng.random()
        if kind < 0.55:
            action = rng.choice(["document.open", "document.download", "document.view"])
            pk = rng.choice(document_ids)
            target = ("documents.document", str(pk), _sentence(rng, 2, 5).capitalize())
            data = {"document_id": pk, "family": rng.choice(KINDS)[0], "size": rng.randint(1_000, 50_000_000)}
        elif kind < 0.9:
            action = rng.choice(["auth.request", "auth.approved", "auth.login", "auth.logout"])
            target = ("accounts.user", str(user.pk), f"{user.name} ({mask_phone(user.phone_number)})")
            data = {"provider": "webauthn", "channel": rng.choice(["web", "api"]), "match_code_ok": True}
        else:
            action = "share.create"
            pk = rng.choice(document_ids)
            target = ("documents.share", str(rng.randint(1, 10**6)), f"share of document {pk}")
            data = {"document_id": pk, "access": rng.choice(["view", "download"]), "requires_password": False}
        event = SimpleNamespace(
            time=self.clock,
            action=action,
            outcome="success" if rng.random() < 0.95 else "failure",
            actor_id=user.pk,
            actor_repr=f"{user.name} ({mask_phone(user.phone_number)})",
            target_type=target[0],
            target_id=target[1],
            target_repr=target[2],
            request_id=uuid.UUID(int=rng.getrandbits(128)).hex,
            masked_ip=f"203.0.{rng.randint(0, 255)}.x",
            user_agent=rng.choice(AGENTS),
            data=data,
            prev_hash=self.head,
        )
        return event

    def append(self, document_ids: list[int], count: int) -> None:
        from django.db import connection

        from audit.chain import compute_hash
        from audit.export import COLUMNS

        columns = [column for column in COLUMNS if column != "id"]  # ids come from the sequence, in row order
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY audit_auditevent ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            # One COPY stream: ids are assigned in row order, which is the chain's order.
            for _ in range(count):
                event = self._event(document_ids)
                event.hash = compute_hash(event)
                row = [getattr(event, c) for c in columns]
                row[columns.index("data")] = json.dumps(event.data)
                copy.write_row(row)
                self.head = event.hash
        self.count += count


def seed_files(rng: random.Random, users: list, total_bytes: int) -> tuple[int, int]:
    """Random (incompressible) files in the document storage, each with its document and version rows."""
    from django.core.files.storage import default_storage

    from documents.models import Document, DocumentVersion

    count = max(1, round(total_bytes / FILE_BYTES))
    size = total_bytes // count
    written = 0
    for index in range(count):
        key = f"documents/{datetime.now(UTC):%Y/%m}/{uuid.UUID(int=rng.getrandbits(128)).hex}"
        path = Path(default_storage.path(key))
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with path.open("wb") as out:
            left = size
            while left:
                block = rng.randbytes(min(MB, left))
                out.write(block)
                digest.update(block)
                left -= len(block)
        written += size
        owner = rng.choice(users)
        document = Document.objects.create(
            owner=owner,
            title=f"Scanned archive box {index + 1}",
            family="pdf",
            mime_type="application/pdf",
            size=size,
            sha256=digest.hexdigest(),
        )
        version = DocumentVersion.objects.create(
            document=document,
            number=1,
            file=key,
            original_name=f"archive-box-{index + 1}.pdf",
            mime_type="application/pdf",
            size=size,
            sha256=digest.hexdigest(),
            author=owner,
        )
        Document.objects.filter(pk=document.pk).update(current_version=version)
    return count, written


def seed(size_mb: int) -> dict:
    from django.db import connection
    from django.utils import timezone

    rng = random.Random(20260101)
    started = time.perf_counter()
    now = timezone.now()
    users = seed_users(rng)
    row_target = int(size_mb * MB * ROW_SHARE)
    audit = AuditSeeder(rng, users, start=now - timedelta(days=365))
    documents = 0
    while database_bytes() < row_target:
        ids = seed_documents(rng, users, now)
        documents += len(ids)
        audit.append(ids, EVENTS_PER_ROUND)
        log(f"  rows: {documents} documents, {audit.count} audit events, {database_bytes() / MB:.0f} MB")
    # The last seeded event is followed by the real service, so the chain continues exactly as in production.
    from audit import record
    from audit.actions import Action, Outcome

    record(Action.USER_CREATED, outcome=Outcome.SUCCESS, target=users[0], data={"source": "bench seed"})
    files, file_bytes = seed_files(rng, users, int(size_mb * MB * (1 - ROW_SHARE)))
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")
    connection.close()
    seconds = time.perf_counter() - started
    log(
        f"seeded in {seconds:.0f} s: {files} files ({file_bytes / MB:.0f} MB), {documents} documents, {audit.count} events"
    )
    return {"documents": documents, "audit_events": audit.count + 1, "files": files, "file_bytes": file_bytes}


# --- Measuring ----------------------------------------------------------------------------


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def _program(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except (FileNotFoundError, ProcessLookupError):
        return "?"


def _tree(pid: int) -> list[int]:
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                queue.extend(int(c) for c in Path(f"/proc/{current}/task/{task}/children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return pids


def measure(argv: list[str], *, env: dict, label: str, log_dir: Path) -> dict:
    """Run a command; its wall time, the peak VmHWM of the process and the peak RSS of its whole tree."""
    out_path = log_dir / f"{label}.log"
    with out_path.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        peak = {"hwm": 0, "tree": 0}
        by_program: dict[str, int] = {}
        root_program = _program(proc.pid)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak["hwm"] = max(peak["hwm"], _status_kb(proc.pid, "VmHWM"))
                tree = 0
                for pid in _tree(proc.pid):
                    program = _program(pid)
                    if pid != proc.pid and program == root_program:
                        continue  # forked but not yet exec'd (vfork): the parent's own pages, counted already
                    rss = _status_kb(pid, "VmRSS")
                    tree += rss
                    by_program[program] = max(by_program.get(program, 0), _status_kb(pid, "VmHWM"), rss)
                peak["tree"] = max(peak["tree"], tree)
                done.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # wait4 gives this child's own rusage: ru_maxrss is the largest single process of its tree.
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    output = out_path.read_text(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed (exit {proc.returncode}):\n{output[-3000:]}")
    return {
        "seconds": seconds,
        "python_peak_mb": max(peak["hwm"], 0) / 1024,
        "tree_peak_mb": peak["tree"] / 1024,
        "largest_process_mb": usage.ru_maxrss / 1024,
        "peak_by_program_mb": {name: round(kb / 1024, 1) for name, kb in sorted(by_program.items()) if kb},
        "output": output,
    }


def timed(steps: list[tuple[str, list[str]]], *, env: dict, log_dir: Path) -> dict:
    """Run raw-tool steps one after the other; the total and each step's time."""
    parts = {}
    for label, argv in steps:
        parts[label] = measure(argv, env=env, label=label, log_dir=log_dir)
    return {
        "seconds": sum(p["seconds"] for p in parts.values()),
        "steps": {label: round(p["seconds"], 2) for label, p in parts.items()},
        "largest_process_mb": max(p["largest_process_mb"] for p in parts.values()),
    }


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file())


def tree_summary(path: Path) -> tuple[int, int]:
    files = files_under(path)
    return len(files), sum(p.stat().st_size for p in files)


def row_counts(url: str, tables: list[str]) -> dict[str, int]:
    counts = {}
    for table in tables:
        result = subprocess.run(
            ["psql", url, "-XAtc", f"SELECT count(*) FROM {table}"], capture_output=True, text=True, check=True
        )
        counts[table] = int(result.stdout.strip())
    return counts


def sync_paths(paths: list[Path]) -> list[str]:
    """`sync FILE...` fsyncs just those files: the raw tools' output becomes as durable as DocuID's."""
    return ["sync", "--", *(str(p) for p in paths)]


def machine(base_url: str) -> dict:
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    disk = subprocess.run(["df", "-h", "--output=source,size,fstype", str(ROOT)], capture_output=True, text=True)
    server = subprocess.run(
        ["psql", db_url(base_url, "postgres"), "-XAtc", "SHOW server_version"], capture_output=True, text=True
    )
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu.group(1).strip() if cpu else platform.processor(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "disk": " ".join(disk.stdout.split()[3:]) if disk.returncode == 0 else "?",
        "postgresql": server.stdout.strip(),
        "python": platform.python_version(),
    }


# --- The run --------------------------------------------------------------------------------


def raw_backup(base_url: str, var_dir: Path, raw_dir: Path, logs: Path, rep: int) -> dict:
    dump, tarball = raw_dir / "database.dump", raw_dir / "media.tar"
    for path in (dump, tarball):
        path.unlink(missing_ok=True)
    result = timed(
        [
            (f"raw-pg_dump-{rep}", ["pg_dump", "--format=custom", "--no-password", f"--file={dump}"]),
            (f"raw-tar-{rep}", ["tar", "cf", str(tarball), "-C", str(var_dir), "media"]),
            (f"raw-sync-{rep}", sync_paths([dump, tarball])),
        ],
        env=pg_env(base_url),
        log_dir=logs,
    )
    result["output_bytes"] = dump.stat().st_size + tarball.stat().st_size
    return result


def docuid_backup(env: dict, logs: Path, rep: int) -> tuple[dict, str]:
    # INFO: the service logs how long its archive and replica stages took (kept in the run's log).
    env = {**env, "DOCUID_LOG_LEVEL": "INFO"}
    result = measure([sys.executable, "manage.py", "backup"], env=env, label=f"docuid-backup-{rep}", log_dir=logs)
    output = result.pop("output")
    match = re.search(r"Backup \d+ (\S+) succeeded: (\d+) bytes", output)
    if not match:
        raise SystemExit("manage.py backup did not report a backup name")
    result["output_bytes"] = int(match.group(2))
    service = re.search(r"succeeded: \d+ bytes, \d+ files, ([\d.]+)s", output)
    if service:  # the backup itself, as the command reports it; the rest of the wall time is manage.py
        result["service_seconds"] = float(service.group(1))
    stages = re.search(
        r"archive with the database dump ([\d.]+)s, of which waiting for the dump ([\d.]+)s after (\d+) files, "
        r"replicas ([\d.]+)s",
        output,
    )
    if stages:
        result["steps"] = {
            f"docuid-archive-{rep}": float(stages.group(1)),
            f"docuid-dumpwait-{rep}": float(stages.group(2)),
            f"docuid-filesbeforedump-{rep}": int(stages.group(3)),
            f"docuid-replicas-{rep}": float(stages.group(4)),
        }
    return result, match.group(1)


def raw_restore(base_url: str, raw_dir: Path, logs: Path, rep: int) -> dict:
    target = f"{db_name(base_url)}_raw"
    create_database(base_url, target)
    untar = raw_dir / "restored"
    shutil.rmtree(untar, ignore_errors=True)
    untar.mkdir()
    subprocess.run(["sync"], check=True)
    result = timed(
        [
            (
                f"raw-pg_restore-{rep}",
                ["pg_restore", "--no-password", f"--dbname={target}", str(raw_dir / "database.dump")],
            ),
            (f"raw-untar-{rep}", ["tar", "xf", str(raw_dir / "media.tar"), "-C", str(untar)]),
        ],
        env=pg_env(db_url(base_url, target)),
        log_dir=logs,
    )
    fsync = measure(sync_paths(files_under(untar)), env=pg_env(base_url), label=f"raw-sync-restore-{rep}", log_dir=logs)
    result["seconds"] += fsync["seconds"]
    result["steps"][f"raw-sync-{rep}"] = round(fsync["seconds"], 2)
    result["counts"] = row_counts(db_url(base_url, target), CHECKED_TABLES)
    result["files"] = tree_summary(untar / "media")
    shutil.rmtree(untar, ignore_errors=True)
    psql_admin(base_url, f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
    return result


def docuid_restore(base_url: str, work: Path, key: str, replica: Path, backup_name: str, logs: Path, rep: int) -> dict:
    """Into a fresh migrated database and an empty media dir, reading the archive by name (database lost)."""
    target_url = db_url(base_url, f"{db_name(base_url)}_restore")
    restore_var = work / "restore-var"
    shutil.rmtree(restore_var, ignore_errors=True)
    restore_var.mkdir()
    # The same backup storage as the site that made the archive; everything else new.
    (restore_var / "backups").symlink_to(work / "var" / "backups")
    env = project_env(target_url, restore_var, key, replica)
    create_database(base_url, db_name(target_url))
    migrate(env)
    subprocess.run(["sync"], check=True)
    result = measure(
        [sys.executable, "manage.py", "restore", backup_name, "--yes"],
        env=env,
        label=f"docuid-restore-{rep}",
        log_dir=logs,
    )
    service = re.search(r"Restored \S+ in ([\d.]+)s", result.pop("output"))
    if service:
        result["service_seconds"] = float(service.group(1))
    result["counts"] = row_counts(target_url, CHECKED_TABLES)
    result["files"] = tree_summary(restore_var / "media")
    shutil.rmtree(restore_var, ignore_errors=True)
    psql_admin(base_url, f'DROP DATABASE IF EXISTS "{db_name(target_url)}" WITH (FORCE)')
    return result


def summary(runs: list[dict], total_mb: float) -> dict:
    seconds = sorted(r["seconds"] for r in runs)
    median = statistics.median(seconds)
    merged = {
        "runs_seconds": [round(r["seconds"], 2) for r in runs],
        "seconds": median,
        "best_seconds": seconds[0],
        "mb_per_s": total_mb / median,
        "best_mb_per_s": total_mb / seconds[0],
    }
    for key in ("python_peak_mb", "tree_peak_mb", "largest_process_mb", "output_bytes"):
        if key in runs[0]:
            merged[key] = max(r[key] for r in runs)
    if all("service_seconds" in r for r in runs):
        merged["service_seconds"] = [r["service_seconds"] for r in runs]
    if "steps" in runs[0]:
        merged["steps"] = {}
        for r in runs:
            for label, value in r["steps"].items():
                merged["steps"].setdefault(label.split("-")[1], []).append(value)
    if runs[0].get("peak_by_program_mb"):
        programs: dict[str, float] = {}
        for r in runs:
            for name, value in r["peak_by_program_mb"].items():
                programs[name] = max(programs.get(name, 0), value)
        merged["peak_by_program_mb"] = programs
    return merged


def run(args, work: Path, key: str) -> dict:
    base_url = args.database_url
    main_name = db_name(base_url)
    var_dir, replica, raw_dir, logs = work / "var", work / "replica-dr", work / "raw", work / "logs"
    for path in (var_dir, replica, raw_dir, logs):
        path.mkdir(parents=True)
    env = project_env(base_url, var_dir, key, replica)

    log(f"creating {main_name} and migrating")
    create_database(base_url, main_name)
    migrate(env)
    os.environ.update(env)
    import django

    django.setup()
    log(f"seeding ~{args.size_mb} MB (30% rows, 70% random files)")
    data = seed(args.size_mb)
    data["database_bytes"] = int(
        subprocess.run(
            ["psql", base_url, "-XAtc", "SELECT pg_database_size(current_database())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    data["total_bytes"] = data["database_bytes"] + data["file_bytes"]
    total_mb = data["total_bytes"] / MB
    log(f"data: database {data['database_bytes'] / MB:.0f} MB + files {data['file_bytes'] / MB:.0f} MB")
    subprocess.run(["sync"], check=True)  # seeding's dirty pages must not be flushed on the first measurement's time

    # Interleaved repetitions: the machine is shared, so each side sees the same background load on average.
    runs: dict[str, list] = {"raw_backup": [], "docuid_backup": [], "raw_restore": [], "docuid_restore": []}
    backup_name = ""
    for rep in range(1, args.repeat + 1):
        log(f"backup {rep}/{args.repeat}: raw pg_dump -Fc + tar cf + fsync, then manage.py backup")
        runs["raw_backup"].append(raw_backup(base_url, var_dir, raw_dir, logs, rep))
        subprocess.run(["sync"], check=True)
        result, name = docuid_backup(env, logs, rep)
        runs["docuid_backup"].append(result)
        backup_name = name  # restored below: the newest, so its rows include the raw dump's
        subprocess.run(["sync"], check=True)
        log(
            f"  raw {runs['raw_backup'][-1]['seconds']:.1f}s, DocuID {result['seconds']:.1f}s "
            f"(peak {result['python_peak_mb']:.0f} MB)"
        )
    for rep in range(1, args.repeat + 1):
        log(f"restore {rep}/{args.repeat}: raw pg_restore + tar xf + fsync, then manage.py restore --yes")
        runs["raw_restore"].append(raw_restore(base_url, raw_dir, logs, rep))
        subprocess.run(["sync"], check=True)
        result = docuid_restore(base_url, work, key, replica, backup_name, logs, rep)
        runs["docuid_restore"].append(result)
        subprocess.run(["sync"], check=True)
        raw = runs["raw_restore"][-1]
        log(f"  raw {raw['seconds']:.1f}s, DocuID {result['seconds']:.1f}s (peak {result['python_peak_mb']:.0f} MB)")
        # Both restored every file; DocuID's database also holds its backup's and restore's own audit events.
        if result["files"] != (data["files"], data["file_bytes"]) or raw["files"] != result["files"]:
            raise SystemExit(f"a restore is incomplete: files raw {raw['files']}, DocuID {result['files']}")
        if any(result["counts"][t] < raw["counts"][t] for t in CHECKED_TABLES):
            raise SystemExit(f"DocuID's restore is incomplete: rows {result['counts']}, raw {raw['counts']}")
    data["restored_rows"] = runs["docuid_restore"][-1]["counts"]
    shutil.rmtree(raw_dir, ignore_errors=True)

    results = {name: summary(value, total_mb) for name, value in runs.items()}
    if not args.skip_drill:
        log("recovery drill: backup, then restore into scratch and verify (RTO)")
        drill = measure([sys.executable, "manage.py", "recovery_drill"], env=env, label="docuid-drill", log_dir=logs)
        output = drill.pop("output")
        rto = re.search(r"RTO achieved ([\d.]+)s\s+\(target (\d+)s\)", output)
        if not rto:
            raise SystemExit(f"recovery_drill did not report an RTO:\n{output[-2000:]}")
        drill["rto_seconds"] = float(rto.group(1))
        drill["rto_target_seconds"] = int(rto.group(2))
        drill["mb_per_s"] = total_mb / drill["seconds"]
        results["recovery_drill"] = drill
    return {
        "machine": machine(base_url),
        "size_mb": args.size_mb,
        "repeat": args.repeat,
        "data": data,
        "results": results,
    }


def report(outcome: dict) -> bool:
    r, data = outcome["results"], outcome["data"]
    print()
    print(
        f"Backup benchmark, {data['total_bytes'] / MB:.0f} MB: database {data['database_bytes'] / MB:.0f} MB "
        f"({data['documents']} documents, {data['audit_events']} audit events), "
        f"{data['files']} random files {data['file_bytes'] / MB:.0f} MB; median of {outcome['repeat']} runs"
    )
    print(f"{'run':<24} {'median s':>9} {'best s':>7} {'MB/s':>6} {'out MB':>7} {'py peak':>8} {'tree peak':>9}  runs")
    names = {
        "raw_backup": "raw pg_dump + tar",
        "docuid_backup": "DocuID backup",
        "raw_restore": "raw pg_restore + untar",
        "docuid_restore": "DocuID restore",
        "recovery_drill": "DocuID recovery_drill",
    }
    for key, label in names.items():
        if key not in r:
            continue
        row = r[key]
        out = f"{row['output_bytes'] / MB:.0f}" if "output_bytes" in row else "-"
        python = f"{row['python_peak_mb']:.0f} MB" if key.startswith(("docuid", "recovery")) else "-"
        tree = f"{row['tree_peak_mb']:.0f} MB" if key.startswith(("docuid", "recovery")) else "-"
        best = f"{row['best_seconds']:.1f}" if "best_seconds" in row else "-"
        runs = " ".join(f"{s:.1f}" for s in row.get("runs_seconds", []))
        print(
            f"{label:<24} {row['seconds']:>9.1f} {best:>7} {row['mb_per_s']:>6.1f} {out:>7} {python:>8} {tree:>9}  {runs}"
        )
        if "steps" in row:
            print(
                "    steps (s): "
                + "; ".join(f"{k} " + " ".join(f"{v:.1f}" for v in vs) for k, vs in row["steps"].items())
            )
        if "service_seconds" in row:
            print(
                "    in the service (s): "
                + " ".join(f"{v:.1f}" for v in row["service_seconds"])
                + "; the rest of each run is starting and stopping manage.py"
            )
        if row.get("peak_by_program_mb"):
            print("    peak per program: " + ", ".join(f"{k} {v:.0f} MB" for k, v in row["peak_by_program_mb"].items()))
    backup_ratio = r["raw_backup"]["seconds"] / r["docuid_backup"]["seconds"]
    restore_ratio = r["raw_restore"]["seconds"] / r["docuid_restore"]["seconds"]
    best_backup = r["raw_backup"]["best_seconds"] / r["docuid_backup"]["best_seconds"]
    best_restore = r["raw_restore"]["best_seconds"] / r["docuid_restore"]["best_seconds"]
    peak_python = max(r["docuid_backup"]["python_peak_mb"], r["docuid_restore"]["python_peak_mb"])
    peak_tree = max(r["docuid_backup"]["tree_peak_mb"], r["docuid_restore"]["tree_peak_mb"])
    checks = [
        ("backup throughput vs raw", f"{backup_ratio:.2f}x (best {best_backup:.2f}x)",
         f">= {TARGETS['backup_ratio']}x", backup_ratio >= TARGETS["backup_ratio"]),
        ("restore throughput vs raw", f"{restore_ratio:.2f}x (best {best_restore:.2f}x)",
         f">= {TARGETS['restore_ratio']}x", restore_ratio >= TARGETS["restore_ratio"]),
        ("peak RSS, Python process", f"{peak_python:.0f} MB", f"< {TARGETS['peak_rss_mb']} MB",
         peak_python < TARGETS["peak_rss_mb"]),
        ("peak RSS, with pg_* children", f"{peak_tree:.0f} MB", f"< {TARGETS['peak_rss_mb']} MB",
         peak_tree < TARGETS["peak_rss_mb"]),
    ]  # fmt: skip
    if "recovery_drill" in r:
        drill = r["recovery_drill"]
        checks.append(
            (
                f"RTO achieved for {data['total_bytes'] / MB:.0f} MB",
                f"{drill['rto_seconds']:.1f} s",
                f"<= {drill['rto_target_seconds']} s",
                drill["rto_seconds"] <= drill["rto_target_seconds"],
            )
        )
    print()
    for name, value, target, ok in checks:
        print(f"{name:<32} {value:>22}   target {target:<10} {'met' if ok else 'MISSED'}")
    outcome["checks"] = [{"name": n, "value": v, "target": t, "met": ok} for n, v, t, ok in checks]
    return all(ok for *_, ok in checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="data to seed, rows and files (default 1024)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=ROOT / "var",
        help="where the temporary var dirs, replica and raw copies go (on disk, not tmpfs; default var/)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs of each side (default 3)")
    parser.add_argument("--skip-drill", action="store_true", help="skip the recovery drill (and its RTO)")
    args = parser.parse_args()
    if args.size_mb < 16:
        parser.error("--size-mb must be at least 16")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if not args.database_url.startswith("postgres"):
        parser.error("the backup benchmark needs PostgreSQL: --database-url postgres://...")
    for tool in ("pg_dump", "pg_restore", "psql", "tar", "sync"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is needed on PATH")
    from operations.crypto import generate_key

    args.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-backup-", dir=args.work_dir))
    main_name = db_name(args.database_url)
    ok = False
    try:
        outcome = run(args, work, generate_key())
        ok = report(outcome)
        results_path = ROOT / "var" / "bench" / "backup.json"
        results_path.parent.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps(outcome, indent=1, default=str))
        log(f"results written to {results_path.relative_to(ROOT)}")
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:
            pass
        for suffix in ("", "_raw", "_restore"):
            subprocess.run(
                ["psql", db_url(args.database_url, "postgres"), "-qXc",
                 f'DROP DATABASE IF EXISTS "{main_name}{suffix}" WITH (FORCE)'],
                capture_output=True, check=False,
            )  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)
        log(f"dropped the bench databases and removed {work}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
