"""Audit-append scaling benchmark (issue #16): audited transactions from 1 and 8 concurrent writers.

    make bench-audit                          (or: .venv/bin/python bench/audit.py)
    make bench-audit BENCH_ARGS="--seconds 6 --repeat 3"   (modes take turns; medians)

On PostgreSQL (BENCH_AUDIT_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/docuid_bench_audit, dropped and re-created) with
synchronous commit on, each writer process (one person each) runs transactions that
record one audit event and then do 2 ms of other work (a sleep: I/O the request would
wait for), as a document view does. Three ways of recording, each with 1 and 8 writers:

- audit:  audit.record() as it is now: a plain INSERT, sealed later. The sealer runs
          beside the writers every AUDIT_SEAL_INTERVAL seconds, as the beat task does.
- plain:  the same audit.record() call writing into a plain table of the same shape,
          indexes and foreign key (no triggers, no sealer).
- insert: one plain INSERT of the same columns into that table, without audit.record()
          (no validation, no hash, no metrics or log line): bench/audit_plain.py.
- locked: audit.record() behind one transaction-scoped advisory lock, as every
          append was before audit migration 0005 (the issue's "global lock").

It prints transactions per second, p50/p99 latency, CPU ms per transaction (the writer
processes' and their PostgreSQL backends' user + system time from /proc, plus the
sealer's shared out over the events: steadier than throughput on a shared machine, and
a lock, contention or a costly trigger shows up as CPU per transaction growing with the
writers), the 8-writer / 1-writer ratio of each, how far sealing lagged behind and
whether audit_verify passes afterwards; the figures are written to var/bench/audit.json.
Targets: audit 8 writers >= 4x one writer.
"""

import argparse
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.audit_plain import (  # noqa: E402
    backend_pid,
    create_plain_table,
    plain_insert,
    process_cpu_seconds,
    record_into_plain_table,
    seal_loop,
    write_result,
)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/docuid_bench_audit"
WORK_SECONDS = 0.002
LOCK_KEY = 4242_1616
MODES = ("audit", "plain", "insert", "locked")


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def bench_environ(url: str) -> dict:
    return {
        # Never DATABASE_URL from the caller: this database is dropped and re-created.
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "docuid.settings",
        "SECRET_KEY": "bench-only-secret-key-not-for-any-deployment-0123456789",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DOCUID_VAR_DIR": str(ROOT / "var" / "bench-audit"),
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
    }


def setup_django(url: str, *, create: bool) -> None:
    name = url.rsplit("/", 1)[1].split("?")[0]
    if "bench" not in name:
        raise SystemExit(f"Refusing to drop {name!r}: the benchmark database's name must contain 'bench'.")
    if create:
        admin_url = url.rsplit("/", 1)[0] + "/postgres"
        subprocess.run(["psql", admin_url, "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=True)
        subprocess.run(["psql", admin_url, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    os.environ.update(bench_environ(url))
    import logging

    import django

    logging.disable(logging.INFO)  # one JSON line per event would measure the log handler
    django.setup()
    if create:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def prepare(writers: int) -> list[int]:
    """One person per writer (different people act at once, as in production); the plain table.

    The plain table has the audit table's shape, indexes and foreign key (created
    DEFERRABLE INITIALLY DEFERRED, as Django does), but no triggers and no sealer.
    """
    from django.db import connection

    from accounts.models import User

    users = [
        User.objects.create_user(phone_number=f"+1312555{2000 + n:04d}", name=f"Bench {n}") for n in range(writers)
    ]
    with connection.cursor() as cursor:
        create_plain_table(cursor)
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on", "the benchmark measures with synchronous commit on"
    return [user.pk for user in users]


def _transaction(mode: str, user, cursor) -> None:
    """One audited action: audit.record() (the same call in every mode), then 2 ms of other work."""
    from django.db import transaction

    from audit import record
    from audit.actions import Action

    append = {"insert": plain_insert, "plain": record_into_plain_table}.get(mode, record)
    with transaction.atomic():
        if mode == "locked":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        append(Action.DOCUMENT_VIEW, actor=user, target=user, data={"via": "bench"})
        time.sleep(WORK_SECONDS)


def writer(url: str, mode: str, user_id: int, seconds: float, start, results) -> None:
    setup_django(url, create=False)
    from django.db import connection

    from accounts.models import User

    user = User.objects.get(pk=user_id)
    latencies = []
    with connection.cursor() as cursor:
        _transaction(mode, user, cursor)  # warm: connection, caches
        backend = backend_pid(cursor)
        start.wait()
        cpu = time.process_time(), process_cpu_seconds(backend)
        deadline = time.perf_counter() + seconds
        while (began := time.perf_counter()) < deadline:
            _transaction(mode, user, cursor)
            latencies.append(time.perf_counter() - began)
        used = time.process_time() - cpu[0], process_cpu_seconds(backend) - cpu[1]
    connection.close()
    results.put((latencies, used))


def run(url: str, mode: str, writers: int, seconds: float, users: list[int], interval: float) -> dict:
    from audit.sealer import audit_seal

    while audit_seal().events:  # nothing left over from the previous run
        pass
    context = multiprocessing.get_context("spawn")
    sealing = mode == "audit"
    start, results = context.Barrier(writers + 1 + sealing), context.Queue()
    stop, sealed = context.Event(), context.Queue()
    seal = (
        context.Process(target=seal_loop, args=(bench_environ(url), interval, start, stop, sealed)) if sealing else None
    )
    if seal:
        seal.start()
    processes = [
        context.Process(target=writer, args=(url, mode, users[n], seconds, start, results)) for n in range(writers)
    ]
    for process in processes:
        process.start()
    start.wait()
    began = time.perf_counter()
    reports = [results.get() for _ in processes]
    elapsed = time.perf_counter() - began
    for process in processes:
        process.join()
    worst_lag, seal_cpu = None, 0.0
    if seal:
        stop.set()
        report = sealed.get()
        worst_lag, seal_cpu = report["worst_lag_s"], report["cpu_s"]
        seal.join()
    latencies = sorted(value for values, _ in reports for value in values)
    client_cpu = sum(used[0] for _, used in reports)
    server_cpu = sum(used[1] for _, used in reports)
    return {
        "mode": mode,
        "writers": writers,
        "transactions": len(latencies),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "worst_seal_lag_s": None if worst_lag is None else round(worst_lag, 2),
        # CPU ms per transaction: the writers' Python, their backends, the sealer's share.
        "client_cpu_ms": round(client_cpu / len(latencies) * 1000, 3),
        "server_cpu_ms": round(server_cpu / len(latencies) * 1000, 3),
        "sealer_cpu_ms": round(seal_cpu / len(latencies) * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run (default 10)")
    parser.add_argument("--writers", type=int, default=8, help="the concurrent run's writer processes (default 8)")
    parser.add_argument(
        "--modes", default=",".join(MODES), help="comma-separated, in the order to run (default audit,plain,locked)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="run the modes in turn this many times; figures are medians (default 1)"
    )
    args = parser.parse_args()
    url = os.environ.get("BENCH_AUDIT_DATABASE_URL", DEFAULT_DB)
    setup_django(url, create=True)
    from django.conf import settings
    from django.db import connection

    from audit.sealer import audit_seal
    from audit.selectors import audit_chain_verify

    users = prepare(args.writers)
    connection.close()
    load = os.getloadavg()
    log(f"{platform.node()}: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    rows = []
    modes = [mode for mode in args.modes.split(",") if mode in MODES]
    # Modes take turns, so a change in the machine's load (other jobs) hits each of them alike.
    for _ in range(args.repeat):
        for mode in modes:
            for writers in (1, args.writers):
                row = run(url, mode, writers, args.seconds, users, settings.AUDIT_SEAL_INTERVAL)
                rows.append(row)
                lag = f", worst seal lag {row['worst_seal_lag_s']} s" if row["worst_seal_lag_s"] is not None else ""
                log(
                    f"{mode:6} {writers} writer(s): {row['per_second']:7.1f} tx/s, "
                    f"p50 {row['p50_ms']:.2f} ms, p99 {row['p99_ms']:.2f} ms, CPU/tx client "
                    f"{row['client_cpu_ms']:.3f} + server {row['server_cpu_ms']:.3f} + sealer "
                    f"{row['sealer_cpu_ms']:.3f} ms{lag}"
                )
    ratios, medians, cpu = {}, {}, {}
    for mode in modes:
        for writers in (1, args.writers):
            mine = [r for r in rows if r["mode"] == mode and r["writers"] == writers]
            medians[f"{mode} x{writers}"] = statistics.median(r["per_second"] for r in mine)
            cpu[f"{mode} x{writers}"] = round(
                statistics.median(r["client_cpu_ms"] + r["server_cpu_ms"] + r["sealer_cpu_ms"] for r in mine), 3
            )
        ratios[mode] = round(medians[f"{mode} x{args.writers}"] / medians[f"{mode} x1"], 2)
        log(
            f"{mode:6} median {medians[f'{mode} x1']:.1f} -> {medians[f'{mode} x{args.writers}']:.1f} tx/s: "
            f"{args.writers} writers / 1 writer = {ratios[mode]:.2f}x; CPU/tx {cpu[f'{mode} x1']:.3f} -> "
            f"{cpu[f'{mode} x{args.writers}']:.3f} ms"
        )
    while audit_seal().events:
        pass
    result = audit_chain_verify()
    log(f"audit_verify: intact={result.intact}, {result.checked} events in {result.batches} batches")
    if "audit" in ratios:
        met = ratios["audit"] >= 4
        log(f"target audit {args.writers} writers >= 4x one writer: {'met' if met else 'MISSED'} ({ratios['audit']}x)")
    out = write_result(
        ROOT,
        "audit",
        {
            "load_average": load,
            "seconds": args.seconds,
            "rows": rows,
            "medians": medians,
            "cpu_ms_per_tx": cpu,
            "ratios": ratios,
            "verified": {"intact": result.intact, "events": result.checked, "batches": result.batches},
        },
    )
    log(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
