"""Search benchmark: documents_list with a query (ranking, snippets, did-you-mean) at scale.

    make bench-search                          (or: .venv/bin/python bench/search.py)
    make bench-search BENCH_ARGS="--documents 20000"   (a smaller run)

On PostgreSQL (BENCH_SEARCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/docuid_bench_search, dropped and re-created) it
seeds N documents (default 100,000) with extracted text of 2-32 KB each drawn from a
Zipf-like vocabulary, owned by 100 people; "few" owns ~1 % of them and "many" is
granted ~30 % more. Then, per person and query kind, 16 threads call
documents.selectors.documents_list (the web list's and the API's one call: visible
set, match, rank, page rows, tags, snippets; did-you-mean when nothing matches) for
a few seconds, and p50 / p99 latencies are printed and written to
var/bench/search.json. It measures the search itself, not HTTP (bench-documents
drives the pages through gunicorn).
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/docuid_bench_search"
OWNERS = 100
QUERIES = {
    "common word": "budget",
    "two words": "budget forecast",
    "phrase": '"payment terms"',
    "prefix (typing)": "invoice quart",
    "exclusion": "contract -draft",
    "or": "lease OR tenancy",
    "rare word": "zeppelin",
    "typo (no match)": "budgte forcast",
}


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def setup_django(url: str) -> None:
    name = url.rsplit("/", 1)[1].split("?")[0]
    if "bench" not in name:
        raise SystemExit(f"Refusing to drop {name!r}: the benchmark database's name must contain 'bench'.")
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", admin_url, "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=True)
    subprocess.run(["psql", admin_url, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    os.environ.update(
        {
            # Never DATABASE_URL from the caller: this database is dropped and re-created.
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "docuid.settings",
            "SECRET_KEY": "bench-only-secret-key-not-for-any-deployment-0123456789",
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "DOCUID_VAR_DIR": str(ROOT / "var" / "bench-search"),
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def vocabulary(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnoprstuvw"
    made = {"".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(20_000)}
    real = [
        "budget",
        "forecast",
        "payment",
        "terms",
        "invoice",
        "quarterly",
        "contract",
        "draft",
        "lease",
        "tenancy",
        "renewal",
        "clause",
    ]
    return real + sorted(made - set(real))


def text(rng: random.Random, words: list[str], size: int) -> str:
    # Zipf-like: a few words are everywhere, most are rare (as in real prose).
    out, length = [], 0
    while length < size:
        word = words[min(int(rng.paretovariate(1.1)) - 1, len(words) - 1)]
        out.append(word)
        length += len(word) + 1
    return " ".join(out)


def seed(documents: int, rng: random.Random) -> tuple:
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from documents.models import Document, DocumentVersion, Grant, Tag, VersionText

    started = time.perf_counter()
    words = vocabulary(rng)
    people = User.objects.bulk_create(
        User(phone_number=f"+1312556{i:04d}", name=f"Bench Person {i}", password="!") for i in range(OWNERS)
    )
    few, many = people[0], people[1]
    now = timezone.now()
    per_batch = 2000
    ids = []
    for start in range(0, documents, per_batch):
        batch = []
        for i in range(start, min(start + per_batch, documents)):
            owner = few if rng.random() < 0.01 else people[2 + i % (OWNERS - 2)]
            batch.append(
                Document(
                    owner_id=owner.pk,
                    title=text(rng, words, rng.randint(10, 40)).capitalize(),
                    description=text(rng, words, rng.randint(0, 120)),
                    category=rng.choice(["Reports", "Contracts", "Invoices", "Minutes", "Plans"]),
                    family="text",
                    mime_type="text/plain",
                    size=rng.randint(1000, 10**6),
                    sha256=f"{rng.getrandbits(256):064x}",
                    security_level=rng.choice(["public", "internal", "internal", "confidential"]),
                    created_at=now,
                    updated_at=now,
                )
            )
        Document.objects.bulk_create(batch)
        versions = DocumentVersion.objects.bulk_create(
            DocumentVersion(
                document_id=d.pk,
                number=1,
                file=f"bench/{d.pk}",
                original_name="x.txt",
                mime_type="text/plain",
                size=d.size,
                sha256=d.sha256,
            )
            for d in batch
        )
        VersionText.objects.bulk_create(
            VersionText(version_id=v.pk, status="done", content=text(rng, words, rng.randint(2_000, 32_000)))
            for v in versions
        )
        for d, v in zip(batch, versions, strict=True):
            d.current_version_id = v.pk
        Document.objects.bulk_update(batch, ["current_version_id"])
        ids += [d.pk for d in batch]
        log(f"  {len(ids)} documents")
    tag_rows = Tag.objects.bulk_create(Tag(name=n) for n in ["finance", "legal", "hr", "guide", "draft"])
    Document.tags.through.objects.bulk_create(
        Document.tags.through(document_id=pk, tag_id=rng.choice(tag_rows).pk) for pk in ids
    )
    Grant.objects.bulk_create(
        Grant(document_id=pk, user_id=many.pk, permission="view", granted_by_id=people[2].pk)
        for pk in rng.sample(ids, int(len(ids) * 0.3))
    )
    log(f"seeded in {time.perf_counter() - started:.0f} s; indexing…")
    started = time.perf_counter()
    separators = r"$r$[^\w\s'-]|_$r$"
    with connection.cursor() as cursor:
        # documents.search.refresh_search_vector's weights, for every document in one statement.
        cursor.execute(
            f"""
            UPDATE documents_document d SET search_vector =
                setweight(to_tsvector('docuid', regexp_replace(d.title, {separators}, ' ', 'g')), 'A')
                || setweight(to_tsvector('docuid', concat_ws(' ', (SELECT string_agg(t.name, ' ')
                    FROM documents_document_tags dt JOIN documents_tag t ON t.id = dt.tag_id
                    WHERE dt.document_id = d.id), d.category, d.security_level)), 'B')
                || setweight(to_tsvector('docuid', concat_ws(' ', d.description, u.name)), 'C')
                || setweight(to_tsvector('docuid', regexp_replace(left(vt.content, 300000), {separators}, ' ', 'g')),
                   'D')
            FROM accounts_user u, documents_versiontext vt
            WHERE u.id = d.owner_id AND vt.version_id = d.current_version_id
            """
        )
        cursor.execute(
            "INSERT INTO documents_searchterm (document_id, term)"
            " SELECT DISTINCT d.id, lower(w) FROM documents_document d,"
            " regexp_split_to_table(d.title || ' ' || d.category, '\\W+') w WHERE length(w) >= 3"
        )
        cursor.execute("VACUUM ANALYZE")
    log(f"indexed in {time.perf_counter() - started:.0f} s")
    return few, many


def measure(user, query: str, *, threads: int, seconds: float) -> dict:
    from django.db import connection

    from documents.selectors import DocumentFilters, documents_list

    latencies: list[float] = []
    results: list[int] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def run():
        mine = []
        found = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            page = documents_list(user, filters=DocumentFilters(query=query))
            mine.append((time.perf_counter() - started) * 1000)
            found = len(page.documents) or (1 if page.did_you_mean else 0)
        connection.close()
        with lock:
            latencies.extend(mine)
            results.append(found)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    latencies.sort()
    return {
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
        "rows": max(results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    setup_django(os.environ.get("BENCH_SEARCH_DATABASE_URL", DEFAULT_DB))
    from documents.selectors import documents_visible_to

    few, many = seed(args.documents, random.Random(14))
    report = {"documents": args.documents, "threads": args.threads, "people": {}}
    for label, user in (("few", few), ("many", many)):
        visible = documents_visible_to(user).count()
        log(f"{label}: sees {visible} documents")
        rows = {}
        for kind, query in QUERIES.items():
            rows[kind] = measure(user, query, threads=args.threads, seconds=args.seconds)
            log(f"  {kind:<16} {query!r:<22} {rows[kind]}")
        report["people"][label] = {"visible": visible, "queries": rows}
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "search.json").write_text(json.dumps(report, indent=2))
    log(f"written to {out / 'search.json'}")


if __name__ == "__main__":
    main()
