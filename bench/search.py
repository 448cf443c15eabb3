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
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
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


def setup_django(url: str, *, reuse: bool) -> None:
    name = url.rsplit("/", 1)[1].split("?")[0]
    if "bench" not in name:
        raise SystemExit(f"Refusing to drop {name!r}: the benchmark database's name must contain 'bench'.")
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    if not reuse:
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


# The most frequent words of English prose: the head of the distribution (tsvector drops most as stop words).
STOP_WORDS = [
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "with",
    "was",
    "on",
    "be",
    "by",
    "at",
    "this",
    "are",
    "from",
    "or",
    "an",
    "have",
    "not",
    "which",
    "but",
    "all",
    "were",
    "they",
    "their",
    "has",
    "been",
    "one",
    "more",
    "will",
    "there",
    "can",
    "if",
    "would",
    "who",
    "other",
    "its",
    "also",
    "into",
    "only",
    "these",
    "some",
    "may",
    "than",
    "any",
    "such",
    "each",
    "shall",
    "under",
    "after",
    "before",
    "between",
    "within",
    "upon",
    "per",
    "our",
    "we",
    "you",
    "he",
    "she",
]
# The benchmark's words, placed at realistic ranks of the distribution (rank -> share of documents
# holding the word: ~60 -> most of the small ones, ~2,000 -> a few percent).
PLACED = {
    "budget": 60,
    "payment": 80,
    "terms": 90,
    "contract": 100,
    "forecast": 150,
    "invoice": 200,
    "draft": 300,
    "quarterly": 400,
    "clause": 500,
    "lease": 800,
    "renewal": 1500,
    "tenancy": 2000,
}
# Phrases real documents repeat: the phrase query must find them as phrases, not as scattered words.
PHRASES = ["payment terms", "budget forecast", "lease renewal", "quarterly invoice", "termination clause"]
SENTENCES = 40_000


def vocabulary(rng: random.Random) -> list[str]:
    """~50,000 words in rank order: stop words, then made-up words with the benchmark's words placed."""
    letters = "abcdefghijklmnoprstuvwy"
    made = sorted({"".join(rng.choice(letters) for _ in range(rng.randint(4, 11))) for _ in range(52_000)})
    rng.shuffle(made)
    words = list(STOP_WORDS) + [w for w in made if w not in PLACED and w != "zeppelin"][:50_000]
    for word, rank in sorted(PLACED.items(), key=lambda item: item[1]):
        words.insert(rank, word)
    return words


def sentence_pool(rng: random.Random, words: list[str]) -> list[str]:
    """Sentences of 6-24 words drawn from a Zipf distribution (s = 1), some with a known phrase."""
    weights = list(itertools.accumulate(1 / rank for rank in range(1, len(words) + 1)))
    pool = []
    for _ in range(SENTENCES):
        sentence = rng.choices(words, cum_weights=weights, k=rng.randint(6, 24))
        if rng.random() < 0.03:
            sentence.insert(rng.randrange(len(sentence)), rng.choice(PHRASES))
        pool.append(" ".join(sentence).capitalize() + ".")
    return pool


def text_size(rng: random.Random) -> int:
    """Characters of extracted text: most documents a few KB, a tail up to 1 MB (log-normal, capped)."""
    if rng.random() < 0.01:
        return rng.randint(500_000, 1_000_000)  # the long reports and exports
    return int(min(400_000, max(1_500, rng.lognormvariate(8.9, 1.1))))  # median ~7 KB


def text(rng: random.Random, pool: list[str], size: int) -> str:
    return " ".join(rng.choices(pool, k=max(1, size // 95)))


def seed(documents: int, rng: random.Random) -> None:
    """Users, documents, versions, tags, grants and extracted text; the text is written with COPY."""
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from documents.models import Document, DocumentVersion, Grant, Tag

    started = time.perf_counter()
    words = vocabulary(rng)
    pool = sentence_pool(rng, words)
    titles = [w for w in words[40:5000] if w not in STOP_WORDS]
    people = User.objects.bulk_create(
        User(phone_number=f"+1312556{i:04d}", name=f"Bench Person {i}", password="!") for i in range(OWNERS)
    )
    few, many = people[0], people[1]
    tag_rows = Tag.objects.bulk_create(Tag(name=n) for n in ["finance", "legal", "hr", "guide", "draft"])
    now = timezone.now()
    per_batch = 5000
    total_chars = 0
    granted = []
    for start in range(0, documents, per_batch):
        batch = []
        for i in range(start, min(start + per_batch, documents)):
            owner = few if rng.random() < 0.01 else people[2 + i % (OWNERS - 2)]
            updated = now - timedelta(minutes=documents - i)
            batch.append(
                Document(
                    owner_id=owner.pk,
                    title=" ".join(rng.choices(titles, k=rng.randint(2, 6))).capitalize(),
                    description=text(rng, pool, rng.choice([0, 0, 100, 300])) if rng.random() < 0.5 else "",
                    category=rng.choice(["Reports", "Contracts", "Invoices", "Minutes", "Plans"]),
                    family="text",
                    mime_type="text/plain",
                    size=0,
                    sha256=f"{rng.getrandbits(256):064x}",
                    security_level=rng.choice(["public", "internal", "internal", "confidential"]),
                    created_at=updated,
                    updated_at=updated,
                )
            )
        Document.objects.bulk_create(batch)
        sizes = [text_size(rng) for _ in batch]
        versions = DocumentVersion.objects.bulk_create(
            DocumentVersion(
                document_id=d.pk,
                number=1,
                file=f"bench/{d.pk}",
                original_name="x.txt",
                mime_type="text/plain",
                size=size,
                sha256=d.sha256,
                created_at=d.updated_at,
            )
            for d, size in zip(batch, sizes, strict=True)
        )
        with connection.cursor() as cursor:
            copy_sql = "COPY documents_versiontext (version_id, status, content, extractor, error, attempts) FROM STDIN"
            with cursor.cursor.copy(copy_sql) as copy:
                for version, size in zip(versions, sizes, strict=True):
                    content = text(rng, pool, size)
                    total_chars += len(content)
                    copy.write_row((version.pk, "done", content, "text", "", 1))
            cursor.execute(
                "UPDATE documents_document d SET current_version_id = v.id, size = v.size"
                " FROM documents_documentversion v WHERE v.document_id = d.id AND d.id BETWEEN %s AND %s",
                [batch[0].pk, batch[-1].pk],
            )
        Document.tags.through.objects.bulk_create(
            Document.tags.through(document_id=d.pk, tag_id=rng.choice(tag_rows).pk) for d in batch
        )
        granted += [d.pk for d in batch if d.owner_id != few.pk and rng.random() < 0.3]
        log(
            f"  {start + len(batch)} documents, {total_chars / 1e9:.2f} GB of text, {time.perf_counter() - started:.0f} s"
        )
    Grant.objects.bulk_create(
        Grant(document_id=pk, user_id=many.pk, permission="view", granted_by_id=people[2].pk) for pk in granted
    )
    log(f"seeded {documents} documents ({total_chars / 1e9:.2f} GB of text) in {time.perf_counter() - started:.0f} s")


def index() -> None:
    """Every document's search index, in SQL, in batches (documents.search.reindex_documents)."""
    from django.db import connection

    from documents import search
    from documents.models import Document

    started = time.perf_counter()
    last = Document.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    step = 2000
    with connection.cursor() as cursor:
        # Filling a GIN index row by row costs more than building it once (migration 0002's index).
        cursor.execute("DROP INDEX IF EXISTS doc_search_vector_gin")
    for first in range(0, last + 1, step):
        search.reindex_documents(first, first + step - 1)
        if first and first % 20_000 == 0:
            log(f"  indexed up to {first}, {time.perf_counter() - started:.0f} s")
    with connection.cursor() as cursor:
        cursor.execute("CREATE INDEX doc_search_vector_gin ON documents_document USING gin (search_vector)")
        log(f"  GIN index built, {time.perf_counter() - started:.0f} s")
        cursor.execute("VACUUM ANALYZE")
    log(f"indexed in {time.perf_counter() - started:.0f} s")


def people_of_bench() -> tuple:
    from accounts.models import User

    return User.objects.get(phone_number="+13125560000"), User.objects.get(phone_number="+13125560001")


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


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--reuse", action="store_true", help="keep a database seeded by an earlier run (migrated)")
    parser.add_argument("--reindex", action="store_true", help="with --reuse: rebuild every search index entry")
    parser.add_argument("--skip-index", action="store_true", help="seed without indexing (index later: --reindex)")
    parser.add_argument("--seed-only", action="store_true", help="seed and index, do not measure")
    parser.add_argument("--people", default="few,many", help="whom to measure: few, many or both")
    parser.add_argument("--queries", default="", help="comma-separated query kinds (default: all)")
    parser.add_argument("--single", action="store_true", help="also measure one client alone (queueing visible)")
    args = parser.parse_args()
    setup_django(os.environ.get("BENCH_SEARCH_DATABASE_URL", DEFAULT_DB), reuse=args.reuse)
    from documents.models import Document
    from documents.selectors import documents_visible_to

    if not args.reuse or not Document.objects.exists():
        seed(args.documents, random.Random(14))
        if not args.skip_index:
            index()
    elif args.reindex:
        index()
    if args.seed_only:
        return
    few, many = people_of_bench()
    documents = Document.objects.count()
    kinds = [k for k in QUERIES if not args.queries or k in args.queries.split(",")]
    report = {"documents": documents, "threads": args.threads, "load_average_before": load_average(), "people": {}}
    for label, user in (("few", few), ("many", many)):
        if label not in args.people.split(","):
            continue
        visible = documents_visible_to(user).count()
        log(f"{label}: sees {visible} of {documents} documents; load average {load_average()}")
        rows = {}
        for kind in kinds:
            query = QUERIES[kind]
            rows[kind] = measure(user, query, threads=args.threads, seconds=args.seconds)
            if args.single:
                rows[kind]["single"] = measure(user, query, threads=1, seconds=args.seconds)
            log(f"  {kind:<16} {query!r:<22} {rows[kind]}")
        report["people"][label] = {"visible": visible, "queries": rows}
    report["load_average_after"] = load_average()
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "search.json").write_text(json.dumps(report, indent=2))
    log(f"written to {out / 'search.json'}; load average {load_average()}")


if __name__ == "__main__":
    main()
