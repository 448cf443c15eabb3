"""Audited opens at 16 clients against the same view with its audit insert into a plain table (issue #16).

    make bench-audit-open                     (or: .venv/bin/python bench/audit_open.py)
    make bench-audit-open BENCH_ARGS="--seed --rounds 5"

The real inline PDF open (`/documents/<pk>/open/`, documents.views.document_open) under
gunicorn with DEBUG=0 and 2 sync workers (deploy/gunicorn.conf.py), driven by
`wrk -c16`, signed in by a session cookie, on the documents bench's seeded database
(bench/documents.py: its seeding, environment, session and wrk helpers are imported,
BENCH_DOCUMENTS_DATABASE_URL picks the database; `--seed` re-creates and seeds it),
synchronous commit on. Against it, the same view through a bench-only URL
(bench/documents_urls.py, served only under the bench settings) whose audit event goes
to a plain table with the audit table's columns and indexes (bench/audit_plain.py):

- audit:  the shipped path: audit.record(), the trail's trigger, the sealer running
          beside the server every AUDIT_SEAL_INTERVAL seconds as the beat task does;
- insert: one plain INSERT of the same columns (the issue's comparison; the target);
- record: audit.record() itself into the plain table (validation, hash, metrics and the
          log line kept; no trigger, no sealer), which splits audit's cost in two.

Variants take turns in each round (the order rotates), so a change in the machine's
load hits each alike. Each run reports requests/s, p50/p99, and CPU ms per request:
the gunicorn workers' and their PostgreSQL backends' user + system time (/proc), with
the sealer's CPU shared out over the audit runs' requests. On a shared machine the CPU
figure is the steadier one. Target: audit >= 0.9x insert. Results: stdout and
var/bench/audit_open.json.

`--in-process` drives the same three views through Django's test client instead (no
gunicorn, no wrk), rounds of `--requests` opens per variant, and reports CPU ms per
open: this process's and its backend's, plus, for audit, its share of the CPU of
sealing (audit_seal in this process every SEAL_EVERY audited opens). Per-round pairs
give the ratio (the load drifts between rounds far more than within one).
Steadier still: it needs no free core for a server and a load generator.
"""

import argparse
import json
import logging
import multiprocessing
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import documents as documents_bench  # noqa: E402
from bench.audit_plain import (  # noqa: E402
    PLAIN_TABLE,
    backend_pid,
    create_plain_table,
    process_cpu_seconds,
    seal_loop,
    write_result,
)

VARIANTS = ("audit", "insert", "record")
TARGET = 0.9
# The sealer counts its own CPU (shared out over the audited opens); its backend is told apart by name.
SEALER_APPLICATION = "docuid-bench-sealer"
# In-process, the sealer runs after this many audited opens: ~5 s of them at ~100/s, as the beat task would.
SEAL_EVERY = 500


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def server_pids(master: int, own_backend: int) -> set[tuple[str, int]]:
    """The gunicorn workers and the PostgreSQL backends serving them (not this process's, not the sealer's)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> %s "
            "AND application_name <> %s",
            [own_backend, SEALER_APPLICATION],
        )
        backends = {("db", row[0]) for row in cursor.fetchall()}
    return {("web", pid) for pid in documents_bench.worker_pids(master)} | backends


def cpu_of(pids) -> dict:
    return {pid: process_cpu_seconds(pid[1]) for pid in pids}


def rows_in(cursor, table: str) -> int:
    cursor.execute(f"SELECT count(*) FROM {table}")
    return cursor.fetchone()[0]


def check_routes(urls: dict, session: str) -> None:
    """Each variant answers 200 and writes its event where it should: a wrong table would measure nothing."""
    from django.db import connection

    expected = {"audit": "audit_auditevent", "insert": PLAIN_TABLE, "record": PLAIN_TABLE}
    with connection.cursor() as cursor:
        for name, url in urls.items():
            before = {table: rows_in(cursor, table) for table in set(expected.values())}
            documents_bench.require_ok(url, session)
            after = {table: rows_in(cursor, table) for table in before}
            grown = {table for table in before if after[table] == before[table] + 1}
            if grown != {expected[name]}:
                raise SystemExit(f"{name}: one open should add one row to {expected[name]} only; grew: {grown}")


def in_process(paths: dict, owner, rounds: int, requests: int) -> dict:
    """CPU ms per open of each variant through the test client (client + backend; audit: + sealing)."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from audit.sealer import audit_seal

    settings.ALLOWED_HOSTS = ["testserver"]
    # The audit log line is part of what an open costs (gunicorn writes it too): written, to /dev/null.
    devnull = open(os.devnull, "w")  # noqa: SIM115 - for the rest of this process
    loggers = [
        logging.getLogger(),
        *(v for v in logging.Logger.manager.loggerDict.values() if isinstance(v, logging.Logger)),
    ]
    for handler in {handler for logger in loggers for handler in logger.handlers}:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)
    client = Client()
    client.force_login(owner)
    with connection.cursor() as cursor:
        backend = backend_pid(cursor)

    def cpu() -> float:
        return time.process_time() + process_cpu_seconds(backend)

    def drive(path: str, count: int) -> None:
        for _ in range(count):
            response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code}")
            b"".join(response.streaming_content) if response.streaming else response.content

    while audit_seal().events:
        pass
    for path in paths.values():
        drive(path, 20)
    costs = {name: [] for name in paths}
    sealing = {"cpu": 0.0, "audited": 0, "pending": 0}

    def seal() -> None:
        began = cpu()
        while audit_seal().events:
            pass
        sealing["cpu"] += cpu() - began
        sealing["pending"] = 0

    for round_ in range(rounds):
        order = list(paths)[round_ % len(paths) :] + list(paths)[: round_ % len(paths)]
        for name in order:
            began = cpu()
            drive(paths[name], requests)
            costs[name].append((cpu() - began) / requests * 1000)
            if name == "audit":
                sealing["audited"] += requests
                sealing["pending"] += requests
                if sealing["pending"] >= SEAL_EVERY:
                    seal()
        log(f"round {round_ + 1}: " + ", ".join(f"{name} {costs[name][-1]:.3f} ms" for name in paths))
    seal()
    if "audit" in costs:
        # Sealing, shared out over the audited opens, is part of each audited open's cost.
        share = sealing["cpu"] / max(sealing["audited"], 1) * 1000
        costs["audit"] = [cost + share for cost in costs["audit"]]
        log(f"of audit's CPU per open, sealing (every {SEAL_EVERY} opens): {share:.3f} ms")
    result = {
        name: {"best_ms": round(min(v), 3), "median_ms": round(statistics.median(v), 3), "rounds_ms": v}
        for name, v in costs.items()
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per run (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of one run per variant (default 3)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--port", type=int, default=8785)
    parser.add_argument("--seed", action="store_true", help="re-create and seed the database first (~2 min)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated (default audit,insert,record)")
    parser.add_argument("--in-process", action="store_true", help="the test client, CPU per open; no gunicorn, no wrk")
    parser.add_argument("--requests", type=int, default=40, help="with --in-process: opens per variant per round")
    args = parser.parse_args()
    variants = [name for name in args.variants.split(",") if name in VARIANTS]
    env = documents_bench.environment(args.port)
    # The workers keep their database connections for the whole run, so their backends' CPU can be read.
    env["DATABASE_CONN_MAX_AGE"] = "3600"
    os.environ.update({k: v for k, v in env.items() if k != "PYTHONPATH"})
    targets_file = Path(env["DOCUID_VAR_DIR"]) / "targets.json"
    if args.seed:
        log("re-creating the database and migrating")
        documents_bench.reset_database(env)
    import django

    django.setup()
    if not args.in_process:
        logging.disable(logging.INFO)
    from django.conf import settings
    from django.db import connection

    from documents.models import Document

    if args.seed:
        targets = documents_bench.seed(random.Random(2026))
        targets_file.parent.mkdir(parents=True, exist_ok=True)
        targets_file.write_text(json.dumps(targets))
    elif not targets_file.exists():
        raise SystemExit(f"No seeded database ({targets_file} is missing): run with --seed")
    else:
        targets = json.loads(targets_file.read_text())
    with connection.cursor() as cursor:
        create_plain_table(cursor)
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on", "the benchmark measures with synchronous commit on"
        own_backend = backend_pid(cursor)
    pdf = Document.objects.select_related("owner").get(pk=targets["pdf"])
    session = documents_bench.signed_in_session(pdf.owner)
    base = f"http://127.0.0.1:{args.port}"
    urls = {
        "audit": f"{base}/documents/{pdf.pk}/open/",
        "insert": f"{base}/bench/open-plain/insert/{pdf.pk}/",
        "record": f"{base}/bench/open-plain/record/{pdf.pk}/",
    }
    urls = {name: urls[name] for name in variants}
    if args.in_process:
        load = os.getloadavg()
        log(f"in-process, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        costs = in_process(
            {name: url.removeprefix(base) for name, url in urls.items()}, pdf.owner, args.rounds, args.requests
        )
        for name in (v for v in variants if v != "audit" and "audit" in costs):
            # Each round's pair: the load drifts between rounds, far less within one.
            paired = [b / a for a, b in zip(costs["audit"]["rounds_ms"], costs[name]["rounds_ms"], strict=True)]
            costs[name]["paired_ratio_median"] = round(statistics.median(paired), 3)
            log(
                f"audit / {name}: CPU per open median {costs['audit']['median_ms']:.3f} vs {costs[name]['median_ms']:.3f} "
                f"ms; paired per round {name}/audit median {statistics.median(paired):.3f}x (quartiles "
                f"{', '.join(f'{q:.3f}' for q in statistics.quantiles(paired, n=4)) if len(paired) > 1 else '-'})"
            )
        out = write_result(ROOT, "audit_open_in_process", {"load_average_start": load, "costs": costs})
        log(f"written to {out.relative_to(ROOT)}")
        return
    context = multiprocessing.get_context("spawn")
    stop, sealed = context.Event(), context.Queue()
    sealer = context.Process(
        target=seal_loop,
        args=({**env, "PGAPPNAME": SEALER_APPLICATION}, settings.AUDIT_SEAL_INTERVAL, None, stop, sealed),
    )
    gunicorn = documents_bench.start_gunicorn(env)
    try:
        documents_bench.wait_ready(base)
        check_routes(urls, session)
        sealer.start()
        for url in urls.values():  # warm every worker's caches and connections
            documents_bench.wrk(url, session, 1, args.connections)
        load = os.getloadavg()
        log(
            f"{platform.node()}: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
            f"{args.rounds} rounds x {len(variants)} variants x {args.seconds} s, wrk -c{args.connections}"
        )
        runs = []
        for round_ in range(args.rounds):
            order = variants[round_ % len(variants) :] + variants[: round_ % len(variants)]
            for name in order:
                pids = server_pids(gunicorn.pid, own_backend)
                before, load_before = cpu_of(pids), os.getloadavg()[0]
                result = documents_bench.wrk(urls[name], session, args.seconds, args.connections)
                pids |= server_pids(gunicorn.pid, own_backend)
                after = cpu_of(pids)
                requests = result["rps"] * args.seconds
                web = sum(after[p] - before.get(p, 0.0) for p in pids if p[0] == "web")
                db = sum(after[p] - before.get(p, 0.0) for p in pids if p[0] == "db")
                run = {
                    "round": round_ + 1,
                    "variant": name,
                    **result,
                    "requests": round(requests),
                    "web_cpu_ms": round(web / requests * 1000, 3),
                    "db_cpu_ms": round(db / requests * 1000, 3),
                    "load": round(load_before, 2),
                }
                runs.append(run)
                log(
                    f"round {round_ + 1} {name:6}: {result['rps']:7.1f} req/s, p50 {result['p50_ms']:.1f} ms, "
                    f"p99 {result['p99_ms']:.1f} ms, CPU/request web {run['web_cpu_ms']:.2f} ms + "
                    f"db {run['db_cpu_ms']:.2f} ms (load {load_before:.1f})"
                )
        stop.set()
        seal = sealed.get(timeout=120)
        sealer.join()
    finally:
        stop.set()
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        if sealer.is_alive():
            sealer.join(timeout=30)
    audited = sum(r["requests"] for r in runs if r["variant"] == "audit")
    seal_ms = seal["cpu_s"] / audited * 1000 if audited else 0.0
    summary = {}
    for name in variants:
        mine = [r for r in runs if r["variant"] == name]
        cpu = [r["web_cpu_ms"] + r["db_cpu_ms"] + (seal_ms if name == "audit" else 0.0) for r in mine]
        summary[name] = {
            "rps_median": statistics.median(r["rps"] for r in mine),
            "p50_ms_median": statistics.median(r["p50_ms"] for r in mine),
            "p99_ms_median": statistics.median(r["p99_ms"] for r in mine),
            "cpu_ms_median": round(statistics.median(cpu), 3),
        }
    log(
        f"sealer: {seal['cpu_s']:.2f} s of CPU over {audited} audited opens ({seal_ms:.3f} ms each), "
        f"oldest unsealed event seen {seal['worst_lag_s']:.1f} s"
    )
    ratios = {}
    if "audit" in variants:
        for name in (v for v in variants if v != "audit"):
            # Each round's audit run against the same round's run of the other variant.
            pairs = [
                (a, b)
                for a in runs
                if a["variant"] == "audit"
                for b in runs
                if b["variant"] == name and b["round"] == a["round"]
            ]
            per_round = [a["rps"] / b["rps"] for a, b in pairs]
            ratios[name] = {
                "rps_per_round": [round(x, 3) for x in per_round],
                "rps_median": round(statistics.median(per_round), 3),
                "cpu": round(summary[name]["cpu_ms_median"] / summary["audit"]["cpu_ms_median"], 3),
                "cpu_paired_median": round(
                    statistics.median(
                        (b["web_cpu_ms"] + b["db_cpu_ms"]) / (a["web_cpu_ms"] + a["db_cpu_ms"] + seal_ms)
                        for a, b in pairs
                    ),
                    3,
                ),
            }
            log(
                f"audit / {name}: req/s {ratios[name]['rps_median']:.2f}x (rounds "
                f"{', '.join(f'{x:.2f}' for x in per_round)}); CPU per request "
                f"{summary['audit']['cpu_ms_median']:.2f} vs {summary[name]['cpu_ms_median']:.2f} ms: "
                f"{ratios[name]['cpu']:.2f}x (paired per round {ratios[name]['cpu_paired_median']:.2f}x)"
            )
        if "insert" in ratios:
            met = ratios["insert"]["rps_median"] >= TARGET
            log(
                f"target audited opens >= {TARGET}x the plain insert: {'met' if met else 'MISSED'} "
                f"(req/s {ratios['insert']['rps_median']:.2f}x, CPU {ratios['insert']['cpu_paired_median']:.2f}x)"
            )
    out = write_result(
        ROOT,
        "audit_open",
        {
            "load_average_start": load,
            "seconds": args.seconds,
            "connections": args.connections,
            "runs": runs,
            "summary": summary,
            "sealer": {**seal, "ms_per_audited_open": round(seal_ms, 3)},
            "ratios": ratios,
        },
    )
    log(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
