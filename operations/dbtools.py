"""Dumping and restoring the database: pg_dump/psql on PostgreSQL, the online backup API on SQLite.

A dump and the facts the manifest states about it (row counts, audit chain
head, applied migrations) come from the same snapshot, so verification can
demand exact equality.
"""

import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import load_backend
from django.utils import timezone

from operations.errors import OperationsError, RestoreError

AUDIT_TABLE = "audit_auditevent"
SCRATCH_ALIAS = "operations_scratch"
PG_TIMEOUT_SECONDS = 6 * 3600
# pg_dump's zlib level. The default (6) makes pg_dump's own compression most of a backup's time
# (1 GB bench: 6.5 s of CPU for a 41 MB dump); level 1 takes a third of that for a 51 MB dump.
PG_DUMP_COMPRESSION = 1


@dataclass
class Snapshot:
    vendor: str
    server_version: str
    snapshot_at: datetime
    row_counts: dict[str, int] = field(default_factory=dict)
    migrations: list[list[str]] = field(default_factory=list)
    audit_head: str = ""
    newest_audit_event_at: str | None = None


def vendor() -> str:
    return connections[DEFAULT_DB_ALIAS].vendor


# --- PostgreSQL -------------------------------------------------------------------


def _pg_settings(alias: str = DEFAULT_DB_ALIAS) -> dict:
    return connections[alias].settings_dict


def pg_env(settings_dict: dict, dbname: str | None = None) -> dict[str, str]:
    """libpq environment for the client tools: the password never appears on a command line."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    values = {
        "PGHOST": settings_dict.get("HOST") or "",
        "PGPORT": str(settings_dict.get("PORT") or ""),
        "PGUSER": settings_dict.get("USER") or "",
        "PGPASSWORD": settings_dict.get("PASSWORD") or "",
        "PGDATABASE": dbname or settings_dict["NAME"],
        "PGOPTIONS": (settings_dict.get("OPTIONS") or {}).get("options", ""),
        "PGSSLMODE": (settings_dict.get("OPTIONS") or {}).get("sslmode", ""),
        "PGCONNECT_TIMEOUT": "10",
    }
    env.update({key: value for key, value in values.items() if value})
    return env


def pg_connect(settings_dict: dict, *, dbname: str | None = None, autocommit: bool = False) -> psycopg.Connection:
    options = settings_dict.get("OPTIONS") or {}
    kwargs = {
        "dbname": dbname or settings_dict["NAME"],
        "user": settings_dict.get("USER") or None,
        "password": settings_dict.get("PASSWORD") or None,
        "host": settings_dict.get("HOST") or None,
        "port": settings_dict.get("PORT") or None,
        "options": options.get("options") or None,
        "sslmode": options.get("sslmode") or None,
        "connect_timeout": 10,
    }
    return psycopg.connect(**{k: v for k, v in kwargs.items() if v is not None}, autocommit=autocommit)


def _server_major(settings_dict: dict) -> int:
    with pg_connect(settings_dict, autocommit=True) as conn:
        return conn.info.server_version // 10000


def _tool_major(path: str) -> int:
    output = subprocess.run([path, "--version"], capture_output=True, text=True, check=True, timeout=30).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", output)
    if not match:
        raise OperationsError(f"cannot read the version of {path}: {output!r}")
    return int(match.group(1))


def pg_tool(name: str, settings_dict: dict | None = None) -> str:
    """A client tool at least as new as the server (pg_dump refuses older servers' peers otherwise)."""
    settings_dict = settings_dict or _pg_settings()
    server = _server_major(settings_dict)
    candidates = []
    if settings.DOCUID_PG_BIN_DIR:
        candidates.append(os.path.join(settings.DOCUID_PG_BIN_DIR, name))
    else:
        if found := shutil.which(name):
            candidates.append(found)
        candidates.append(f"/usr/lib/postgresql/{server}/bin/{name}")
    for candidate in candidates:
        if os.access(candidate, os.X_OK) and _tool_major(candidate) >= server:
            return candidate
    raise OperationsError(
        f"{name} for PostgreSQL {server} or newer was not found (tried {', '.join(candidates)}); install "
        f"postgresql-client-{server} or set DOCUID_PG_BIN_DIR."
    )


def _audit_head_sql(tables: list[str]) -> str:
    """The audit trail's head (audit.selectors.audit_trail_head): the newest sealed batch's hash, else the
    newest event of the per-event chain written before audit migration 0005 (unsealed events are not in it)."""
    legacy = f"SELECT hash FROM {AUDIT_TABLE} ORDER BY id DESC LIMIT 1"  # noqa: S608
    if "audit_batch" not in tables:
        return legacy
    return (
        f"SELECT hash FROM (SELECT hash, 1 AS rank, seq AS n FROM audit_batch "  # noqa: S608
        f"UNION ALL SELECT hash, 2, id FROM {AUDIT_TABLE} WHERE prev_hash IS NOT NULL) AS heads "
        "ORDER BY rank, n DESC LIMIT 1"
    )


def _pg_facts(cursor, snapshot: Snapshot) -> None:
    cursor.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
        "AND table_type = 'BASE TABLE' ORDER BY table_name"
    )
    tables = [row[0] for row in cursor.fetchall()]
    for table in tables:
        cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 — names from the catalogue
        snapshot.row_counts[table] = cursor.fetchone()[0]
    if "django_migrations" in tables:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        snapshot.migrations = [list(row) for row in cursor.fetchall()]
    if AUDIT_TABLE in tables:
        cursor.execute(f"SELECT hash, time FROM {AUDIT_TABLE} ORDER BY id DESC LIMIT 1")  # noqa: S608
        row = cursor.fetchone()
        if row:
            snapshot.newest_audit_event_at = row[1].astimezone(UTC).isoformat()
            cursor.execute(_audit_head_sql(tables))
            snapshot.audit_head = (cursor.fetchone() or [""])[0]


@dataclass
class DumpJob:
    """A database dump running while the caller does other work."""

    ready: Callable[[], bool]  # finished (successfully or not): wait() will not block
    wait: Callable[[], Snapshot]  # the snapshot's facts; OperationsError if the dump failed


@contextmanager
def pg_dump_started(path: Path):
    """Start `pg_dump -Fc` of the whole database to `path` in the background; yield a DumpJob.

    Our own transaction exports the snapshot pg_dump reads and counts the rows in it
    while pg_dump runs, so the manifest's facts describe exactly the dumped data. The
    caller archives the files meanwhile (pg_dump's time is the server and zlib, the
    archive's is this process) and calls wait() inside the block; leaving the block
    any other way kills pg_dump.
    """
    settings_dict = _pg_settings()
    tool = pg_tool("pg_dump", settings_dict)
    with pg_connect(settings_dict) as conn, tempfile.TemporaryFile() as errors:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot(), clock_timestamp(), current_setting('server_version')")
            snapshot_id, snapshot_at, version = cursor.fetchone()
            snapshot = Snapshot(vendor="postgresql", server_version=version, snapshot_at=snapshot_at)
            # The exporting transaction stays open until pg_dump has imported the snapshot and finished.
            process = subprocess.Popen(
                [
                    tool,
                    "--format=custom",
                    f"--compress={PG_DUMP_COMPRESSION}",
                    f"--snapshot={snapshot_id}",
                    "--no-password",
                    f"--file={path}",
                ],
                env=pg_env(settings_dict),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
            try:
                _pg_facts(cursor, snapshot)

                def wait() -> Snapshot:
                    try:
                        returncode = process.wait(timeout=PG_TIMEOUT_SECONDS)
                    except subprocess.TimeoutExpired:
                        raise OperationsError(f"pg_dump did not finish in {PG_TIMEOUT_SECONDS} s") from None
                    if returncode != 0:
                        errors.seek(0)
                        detail = errors.read().decode(errors="replace").strip().splitlines()
                        raise OperationsError(f"pg_dump failed (exit {returncode}): {' | '.join(detail[-3:])}")
                    return snapshot

                yield DumpJob(ready=lambda: process.poll() is not None, wait=wait)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        conn.rollback()


def _psql_restore(dump: Path, settings_dict: dict, dbname: str, *, replace_schema: bool) -> None:
    """pg_restore's SQL piped into one psql transaction, committed at once: `dbname` gets the dump whole or not at all."""
    with pg_restore_started(dump, settings_dict=settings_dict, dbname=dbname, replace_schema=replace_schema) as commit:
        commit()


# `pg_restore -l` entries for large objects: BLOB / BLOB METADATA (definitions), BLOBS (their data),
# COMMENT / ACL / SECURITY LABEL - LARGE OBJECT.
_LARGE_OBJECT_ENTRY = re.compile(
    r"^\s*\d+;\s+\d+\s+\d+\s+(?:BLOBS?|BLOB METADATA|(?:[A-Z]+ )*(?:- )?LARGE OBJECT)\b.*", re.M
)


def large_object_entries(toc: str) -> list[str]:
    """The lines of a `pg_restore -l` listing that are large objects (none for a DocuID database)."""
    return [match.group(0).strip() for match in _LARGE_OBJECT_ENTRY.finditer(toc)]


def _refuse_large_objects(pg_restore: str, dump: Path, env: dict[str, str]) -> None:
    """RestoreError if the dump holds large objects: pg_restore wraps their data in its own BEGIN/COMMIT,
    which would commit pg_restore_started's transaction before the archive is fully checked."""
    try:
        listing = subprocess.run(
            [pg_restore, "--list", str(dump)], capture_output=True, env=env, timeout=600, check=False
        )
    except subprocess.TimeoutExpired:
        raise OperationsError("pg_restore --list did not finish in 600 s") from None
    if listing.returncode != 0:
        detail = listing.stderr.decode(errors="replace").strip()
        raise OperationsError(f"pg_restore --list failed (exit {listing.returncode}): {detail[-300:]}")
    if entries := large_object_entries(listing.stdout.decode(errors="replace")):
        raise RestoreError(
            f"the database dump holds {len(entries)} large object entr{'y' if len(entries) == 1 else 'ies'} "
            f"(e.g. {entries[0]!r}). DocuID never creates large objects, so this dump is not a plain DocuID "
            "database; and pg_restore commits large objects in transactions of its own, which would make the "
            "restore final before the archive is fully checked. Refused, the database is untouched"
        )


@contextmanager
def pg_restore_started(
    dump: Path, *, settings_dict: dict | None = None, dbname: str | None = None, replace_schema: bool = True
):
    """Restore `dump` in one transaction that commits only when told: yields commit().

    psql runs BEGIN, drops and recreates the schema (`replace_schema`), executes
    pg_restore's SQL, then waits on its standard input. commit() checks that pg_restore
    succeeded, sends COMMIT and waits; leaving the block without it ends psql's session
    with the transaction open, so PostgreSQL rolls all of it back. The caller can thus
    restore the database while it is still checking the rest of the archive.

    Without `dbname`, the live database: Django's connections are closed first, and a
    dump holding large objects is refused (pg_restore would commit them on its own).
    """
    live = dbname is None
    if live:
        connections.close_all()
    settings_dict = settings_dict or _pg_settings()
    pg_restore = pg_tool("pg_restore", settings_dict)
    psql = pg_tool("psql", settings_dict)
    env = pg_env(settings_dict, dbname or settings_dict["NAME"])
    if live:
        _refuse_large_objects(pg_restore, dump, env)
    schema = b"DROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n" if replace_schema else b""
    with tempfile.TemporaryFile() as producer_errors, tempfile.TemporaryFile() as consumer_output:
        read_end, write_end = os.pipe()
        producer = None
        try:
            producer = subprocess.Popen(
                [pg_restore, "--no-owner", "--no-acl", "--file=-", str(dump)],
                stdin=subprocess.DEVNULL,
                stdout=write_end,
                stderr=producer_errors,
                env=env,
            )
            consumer = subprocess.Popen(
                [psql, "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", "--no-password", "-f", "-"],
                stdin=subprocess.PIPE,
                stdout=consumer_output,
                stderr=subprocess.STDOUT,
                env=env,
                pass_fds=(read_end,),
            )
        except BaseException:
            if producer is not None:  # psql did not start: pg_restore must not outlive this call
                producer.kill()
                producer.wait()
            raise
        finally:
            os.close(read_end)
            os.close(write_end)
        try:
            with suppress(BrokenPipeError):  # psql could not start or connect: commit() reports its error
                consumer.stdin.write(b"BEGIN;\n" + schema + f"\\i /dev/fd/{read_end}\n".encode())
                consumer.stdin.flush()

            def psql_failed(code: int) -> OperationsError:
                consumer_output.seek(0)
                detail = consumer_output.read().decode(errors="replace").strip()
                return OperationsError(f"psql restore failed (exit {code}): {detail[-300:]}")

            def commit() -> None:
                try:
                    producer_code = producer.wait(timeout=PG_TIMEOUT_SECONDS)
                    if producer_code == -signal.SIGPIPE:
                        # psql stopped reading pg_restore's SQL (could not connect, or stopped on an error):
                        # its error is the cause. Its input ends without COMMIT: nothing is committed.
                        with suppress(OSError):
                            consumer.stdin.close()
                        if (consumer_code := consumer.wait(timeout=PG_TIMEOUT_SECONDS)) != 0:
                            raise psql_failed(consumer_code)
                    if producer_code != 0:
                        producer_errors.seek(0)
                        detail = producer_errors.read().decode(errors="replace").strip()
                        raise OperationsError(f"pg_restore failed (exit {producer_code}): {detail[-300:]}")
                    with suppress(BrokenPipeError):  # psql stopped on an error: its exit code says so
                        consumer.stdin.write(b"COMMIT;\n")
                        consumer.stdin.close()
                    consumer_code = consumer.wait(timeout=PG_TIMEOUT_SECONDS)
                except subprocess.TimeoutExpired:
                    raise OperationsError(f"the database restore did not finish in {PG_TIMEOUT_SECONDS} s") from None
                if consumer_code != 0:
                    raise psql_failed(consumer_code)

            yield commit
        finally:
            for process in (producer, consumer):
                if process.poll() is None:
                    process.kill()  # before COMMIT: the server rolls the transaction back
                    process.wait()
            with suppress(OSError):
                consumer.stdin.close()


@contextmanager
def pg_scratch(dump: Path):
    """A temporary database holding the dump, as Django alias SCRATCH_ALIAS; dropped afterwards."""
    settings_dict = _pg_settings()
    name = f"docuid_scratch_{secrets.token_hex(4)}"
    with pg_connect(settings_dict, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        _psql_restore(dump, settings_dict, name, replace_schema=False)
        with _alias({**settings_dict, "NAME": name}):
            yield SCRATCH_ALIAS
    finally:
        with pg_connect(settings_dict, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wal_last_archived_at() -> datetime | None:
    """When PostgreSQL last archived a WAL segment (PITR's newest restorable point), or None without archiving."""
    if vendor() != "postgresql":
        return None
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT current_setting('archive_mode'), last_archived_time FROM pg_stat_archiver")
        mode, last_archived = cursor.fetchone()
    if mode == "off":
        return None
    return last_archived


def wal_archive_lag_seconds() -> float | None:
    """Seconds since PostgreSQL last archived a WAL segment (PITR's data at risk), or None without archiving."""
    if vendor() != "postgresql":
        return None
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT current_setting('archive_mode'), last_archived_time, now() FROM pg_stat_archiver")
        mode, last_archived, now = cursor.fetchone()
    if mode == "off" or last_archived is None:
        return None
    return max(0.0, (now - last_archived).total_seconds())


# --- SQLite ---------------------------------------------------------------------------


def _sqlite_facts(conn: sqlite3.Connection, snapshot: Snapshot) -> None:
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    for table in tables:
        snapshot.row_counts[table] = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608
    if "django_migrations" in tables:
        snapshot.migrations = [list(r) for r in conn.execute("SELECT app, name FROM django_migrations ORDER BY 1, 2")]
    if AUDIT_TABLE in tables:
        row = conn.execute(f"SELECT hash, time FROM {AUDIT_TABLE} ORDER BY id DESC LIMIT 1").fetchone()  # noqa: S608
        if row:
            snapshot.audit_head = (conn.execute(_audit_head_sql(tables)).fetchone() or [""])[0]
            when = row[1] if isinstance(row[1], datetime) else datetime.fromisoformat(row[1])
            snapshot.newest_audit_event_at = (when if when.tzinfo else when.replace(tzinfo=UTC)).isoformat()


def _raw_sqlite() -> sqlite3.Connection:
    connection = connections[DEFAULT_DB_ALIAS]
    connection.ensure_connection()
    return connection.connection


def sqlite_dump(path: Path) -> Snapshot:
    """The online backup API: a consistent copy while the site keeps writing; facts read from the copy."""
    snapshot_at = timezone.now()
    target = sqlite3.connect(path)
    try:
        _raw_sqlite().backup(target)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        snapshot = Snapshot(vendor="sqlite", server_version=sqlite3.sqlite_version, snapshot_at=snapshot_at)
        _sqlite_facts(target, snapshot)
    finally:
        target.close()
    return snapshot


def sqlite_restore_live(dump: Path) -> None:
    source = sqlite3.connect(dump)
    try:
        source.backup(_raw_sqlite())
    finally:
        source.close()
    connections[DEFAULT_DB_ALIAS].close()


@contextmanager
def sqlite_scratch(dump: Path):
    with _alias({**connections[DEFAULT_DB_ALIAS].settings_dict, "NAME": str(dump), "OPTIONS": {}}):
        yield SCRATCH_ALIAS


# --- Either ----------------------------------------------------------------------------


@contextmanager
def _alias(settings_dict: dict):
    """Register a connection under SCRATCH_ALIAS for `.using()`, without adding it to settings.DATABASES.

    Only the connection object is registered (not a settings entry), so nothing else
    (migrate, test runner, routers) ever treats the scratch database as configured.
    """
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(
        {**settings_dict, "CONN_MAX_AGE": 0, "TEST": {}}, SCRATCH_ALIAS
    )
    setattr(connections._connections, SCRATCH_ALIAS, wrapper)
    try:
        yield
    finally:
        wrapper.close()
        if hasattr(connections._connections, SCRATCH_ALIAS):
            delattr(connections._connections, SCRATCH_ALIAS)


@contextmanager
def dump_started(path: Path):
    """The database dump to `path`, running while the caller does other work: yields a DumpJob.

    PostgreSQL: pg_dump in the background. SQLite: the online backup API, done before
    the block starts (it is a fast page copy).
    """
    if vendor() == "postgresql":
        with pg_dump_started(path) as job:
            yield job
        return
    if vendor() != "sqlite":
        raise OperationsError(f"backups support PostgreSQL and SQLite, not {vendor()}")
    snapshot = sqlite_dump(path)
    yield DumpJob(ready=lambda: True, wait=lambda: snapshot)


@contextmanager
def restore_started(dump: Path):
    """Start replacing the live database with `dump`; yields commit(), which finishes and makes it final.

    PostgreSQL: restored in one open transaction (see pg_restore_started), rolled back
    unless commit() is called. SQLite: nothing happens before commit().
    """
    if vendor() == "postgresql":
        with pg_restore_started(dump) as commit:
            yield commit
        return
    yield lambda: sqlite_restore_live(dump)


def scratch_database(dump: Path):
    return pg_scratch(dump) if vendor() == "postgresql" else sqlite_scratch(dump)


def facts_of(alias: str) -> Snapshot:
    """Row counts, migrations and audit head of a database reached through a Django alias."""
    connection = connections[alias]
    snapshot = Snapshot(vendor=connection.vendor, server_version="", snapshot_at=timezone.now())
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            _pg_facts(cursor, snapshot)
    else:
        connection.ensure_connection()
        _sqlite_facts(connection.connection, snapshot)
    return snapshot
