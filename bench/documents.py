"""Documents benchmark: list, search, filtered list, detail, inline open and a 1 GB download.

    make bench-documents            (or: .venv/bin/python bench/documents.py)

On PostgreSQL (BENCH_DOCUMENTS_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/docuid_bench, dropped and re-created), it
seeds 100,000 documents for 1,000 users with direct and group grants, starts
gunicorn with 2 sync workers, and drives each page with wrk (16 connections)
right after two baseline runs of the same bare Django JSON view: one behind
DocuID's own middleware (the same gunicorn), one behind Django's standard
middleware only (a second gunicorn on the next port, bench/documents_settings_plain.py),
printing requests per second, p50 / p99 and the ratio to both adjacent baseline
runs; the API list and search (bearer token) are compared with the web list too.
Then it downloads a 1 GB file while sampling the workers' RSS.
`--spine` measures only the middleware's cost, in-process (no database, no wrk).
Results go to stdout and var/bench/documents.json; bench/README.md records them.
"""

import argparse
import hashlib
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/docuid_bench"
USERS = 1000
DOCS_PER_USER = 100
GROUPS = 40
GROUP_GRANTS = 400
MAX_DIRECT_GRANTS = 600
SEARCH_WORD = "quarterly"
# Issue #16 item 2: a second person who sees ~30,000 documents through an "everyone"-style
# group grant, measured beside the median person (whose visible set this does not change).
MANY_VISIBLE = 30_000
MANY_GROUP = "bench-everyone"
MANY_TARGET = 1.5  # list and search for the many person within 1.5x the median person's time
DOWNLOAD_BYTES = 1024**3
TARGETS = {"list": 0.5, "search": 0.35, "filtered": 0.5, "detail": 0.6, "open": 0.6}
# The API's list and search are held to the web list's throughput (issue #16), not to the baseline.
API_TARGETS = {"api_list": 0.9, "api_search": 0.9}
PLAIN_MIDDLEWARE_SETTINGS = "bench.documents_settings_plain"


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def start_gunicorn(environ: dict) -> subprocess.Popen:
    """gunicorn with the production config (deploy/gunicorn.conf.py) under `environ` (see environment)."""
    return subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "docuid.wsgi", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_ready(base: str) -> None:
    """Until the bench's baseline view answers at `base` (30 s at most)."""
    for _ in range(150):
        try:
            urllib.request.urlopen(base + "/bench/baseline", timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer at {base}")


def _database_url() -> str:
    return os.environ.get("BENCH_DOCUMENTS_DATABASE_URL", DEFAULT_DB)


def var_dir() -> Path:
    """This database's own var dir (targets, storage, metrics): several people may bench
    from one working tree, each with their own database."""
    name = _database_url().rsplit("/", 1)[1].split("?")[0]
    base = ROOT / "var" / "bench-documents"
    return base if name == "docuid_bench" else base / name


def environment(port: int, settings_module: str = "bench.documents_settings") -> dict:
    var_dir_ = var_dir()
    plain = settings_module == PLAIN_MIDDLEWARE_SETTINGS
    return {
        **os.environ,
        # Never DATABASE_URL: this database is dropped and re-created on every run.
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": settings_module,
        # Each gunicorn wipes its metrics directory at start: the second baseline keeps its own.
        "PROMETHEUS_MULTIPROC_DIR": str(var_dir_ / ("prometheus-multiproc-plain" if plain else "prometheus-multiproc")),
        # The API's rate limit is still counted on every call (that cost is measured), never refused.
        "DOCUID_API_RATE_LIST": "100000000/min",
        "SECRET_KEY": "bench-only-secret-key-not-for-any-deployment-0123456789",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DOCUID_SECURE_SSL_REDIRECT": "0",
        "DOCUID_VAR_DIR": str(var_dir_),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        # No recycling mid-measurement: a worker boot costs ~1.8 s of CPU here, and with the
        # production default (1000) each worker would restart several times per run. The
        # README's Documents section gives the cost of that default.
        "GUNICORN_MAX_REQUESTS": "0",
        "GUNICORN_TIMEOUT": "600",
        "PYTHONPATH": str(ROOT),
    }


def reset_database(env: dict) -> None:
    url = env["DATABASE_URL"]
    if not url.startswith("postgres"):
        raise SystemExit("The documents benchmark needs PostgreSQL: set DATABASE_URL=postgres://...")
    name = url.rsplit("/", 1)[1].split("?")[0]
    if "bench" not in name:
        raise SystemExit(f"Refusing to drop {name!r}: the benchmark database's name must contain 'bench'.")
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", admin_url, "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=True)
    subprocess.run(["psql", admin_url, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)


def seed(rng: random.Random) -> dict:
    """Bulk-insert the archive; returns the bench user, their session and the target documents."""
    from django.contrib.auth.models import Group
    from django.core.files.base import ContentFile
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from documents import samples, search, services
    from documents.models import Document, DocumentVersion, Family, Grant, SecurityLevel, Tag

    started = time.perf_counter()
    words = sorted(
        {"".join(rng.choice("abcdefghijklmnoprstuvw") for _ in range(rng.randint(4, 9))) for _ in range(3000)}
    )
    categories = ["Reports", "Contracts", "Invoices", "Minutes", "Policies", "Designs", "Letters", "Plans"]
    kinds = [
        (Family.PDF, "application/pdf"),
        (Family.WORD, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (Family.EXCEL, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (Family.POWERPOINT, "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
        (Family.TEXT, "text/plain"),
        (Family.IMAGE, "image/png"),
    ]
    levels = [SecurityLevel.PUBLIC, SecurityLevel.INTERNAL, SecurityLevel.INTERNAL, SecurityLevel.CONFIDENTIAL]
    users = User.objects.bulk_create(
        User(phone_number=f"+1312555{i:04d}", name=f"Bench User {i}", password="!") for i in range(USERS)
    )
    groups = Group.objects.bulk_create(Group(name=f"bench-team-{g}") for g in range(GROUPS))
    memberships = []
    for i, user in enumerate(users):
        mine = {i % GROUPS} | ({(i * 7 + 3) % GROUPS} if i % 3 == 0 else set())
        memberships += [User.groups.through(user_id=user.pk, group_id=groups[g].pk) for g in mine]
    User.groups.through.objects.bulk_create(memberships)
    now = timezone.now()
    documents = []
    for user in users:
        for _ in range(DOCS_PER_USER):
            family, mime = rng.choice(kinds)
            title_words = rng.sample(words, rng.randint(2, 5))
            if rng.random() < 0.02:
                title_words.insert(rng.randint(0, len(title_words)), SEARCH_WORD)
            documents.append(
                Document(
                    owner_id=user.pk,
                    title=" ".join(title_words).capitalize(),
                    description=" ".join(rng.sample(words, rng.randint(0, 12))),
                    category=rng.choice(categories),
                    family=family,
                    mime_type=mime,
                    size=rng.randint(1_000, 50_000_000),
                    sha256=f"{rng.getrandbits(256):064x}",
                    security_level=rng.choice(levels),
                    created_at=now - timedelta(days=rng.randint(30, 700)),
                    updated_at=now - timedelta(minutes=rng.randint(0, 700 * 24 * 60)),
                )
            )
    Document.objects.bulk_create(documents, batch_size=5000)
    log(f"inserted {len(documents)} documents in {time.perf_counter() - started:.0f} s")
    ids = [d.pk for d in documents]
    tags = Tag.objects.bulk_create(Tag(name=f"tag{t}") for t in range(30))
    through = Document.tags.through
    through.objects.bulk_create(
        (through(document_id=pk, tag_id=tag.pk) for pk in ids for tag in rng.sample(tags, rng.randint(0, 2))),
        batch_size=10000,
    )
    grants = []
    for group in groups:
        grants += [
            Grant(document_id=pk, group_id=group.pk, permission="view", created_at=now)
            for pk in rng.sample(ids, GROUP_GRANTS)
        ]
    for index, user in enumerate(users):
        own = set(ids[index * DOCS_PER_USER : (index + 1) * DOCS_PER_USER])
        count = int(MAX_DIRECT_GRANTS * rng.random() ** 2)  # most people have few direct grants, some many
        picked = [pk for pk in rng.sample(ids, count + 10) if pk not in own][:count]
        grants += [Grant(document_id=pk, user_id=user.pk, permission="download", created_at=now) for pk in picked]
    Grant.objects.bulk_create(grants, batch_size=10000)
    log(f"{len(grants)} grants; building search vectors")
    with connection.cursor() as cursor:
        # The production index entry (documents.search.reindex_documents): both vectors, the ranked
        # one too, and the vocabulary. Seeding only the matching vector left every rank NULL, which
        # made ranking free and the search rows cheaper than any deployment's.
        first, last = min(ids), max(ids)
        for start in range(first, last + 1, 10_000):
            search.reindex_documents(start, min(start + 9_999, last))
        cursor.execute("VACUUM ANALYZE")
    # The person measured: the one whose visible count is nearest the median.
    from documents.selectors import documents_visible_to

    sample = [users[i] for i in range(0, USERS, 50)]
    counts = sorted((documents_visible_to(u).count(), u.pk) for u in sample)
    visible, user_pk = counts[len(counts) // 2]
    user = User.objects.get(pk=user_pk)
    pdf = services.document_upload(
        acting_user=user,
        file=ContentFile(samples.pdf_bytes("Bench quarterly report", pages=3), name="bench.pdf"),
        name="bench.pdf",
        category="Reports",
    )
    big = _big_document(user, DocumentVersion, Document, Family, now)
    log(f"seeded in {time.perf_counter() - started:.0f} s; measured user sees {visible} documents")
    return {
        "session": signed_in_session(user),
        "pdf": pdf.pk,
        "big": big.pk,
        "visible": visible,
        "visible_range": [counts[0][0], counts[-1][0]],
        "grants": len(grants),
    }


def many_person(targets: dict) -> dict:
    """The person who sees ~MANY_VISIBLE documents: created once (a seeded database without
    them gains them), a member of one ordinary team and of MANY_GROUP, which holds a view
    grant on MANY_VISIBLE documents. Only they are in MANY_GROUP, so nobody else's visible
    set changes. Returns targets with "many_user" and "many_visible" set."""
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from documents.models import Document, Grant
    from documents.selectors import documents_visible_to

    user = User.objects.filter(phone_number="+13125559999").first()
    if user is None:
        rng = random.Random(16)
        user = User.objects.create(phone_number="+13125559999", name="Bench Many", password="!")
        everyone = Group.objects.create(name=MANY_GROUP)
        user.groups.add(everyone, Group.objects.get(name="bench-team-7"))
        ids = sorted(Document.objects.values_list("pk", flat=True))
        now = timezone.now()
        Grant.objects.bulk_create(
            (
                Grant(document_id=pk, group_id=everyone.pk, permission="view", created_at=now)
                for pk in rng.sample(ids, MANY_VISIBLE)
            ),
            batch_size=10000,
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE documents_grant")
    visible = documents_visible_to(user).count()
    log(f"the many person sees {visible} documents")
    return {**targets, "many_user": user.pk, "many_visible": visible}


def signed_in_session(user) -> str:
    """A fresh session key for `user` (a seeded one may have passed the idle timeout since)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def api_token(user) -> str:
    """A fresh API access token for `user` (the API rows call as the same person as the web rows)."""
    from accounts.context import ClientContext
    from accounts.services.api_tokens import api_token_issue

    return api_token_issue(user=user, client=None, client_context=ClientContext(), method="bench").access_token


def require_ok(url: str, cookie: str, *, token: str = "", body: str = "") -> None:
    """wrk counts only 4xx/5xx as errors: a page redirecting to the login would be measured as served."""
    headers = {"Authorization": f"Bearer {token}"} if token else {"Cookie": f"sessionid={cookie}"}
    data = None
    if body:
        data, headers["Content-Type"] = body.encode(), "application/json"
    request = urllib.request.Request(url, data=data, headers=headers)
    opener = urllib.request.build_opener(NoRedirect)
    status = opener.open(request, timeout=30).status
    if status != 200:
        raise SystemExit(f"{url} answered {status}, not 200: the bench would measure the wrong page")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _big_document(user, DocumentVersion, Document, Family, now):
    """A 1 GB text file written straight to storage (the upload path is not what is measured)."""
    from django.core.files.storage import default_storage

    key = "documents/bench/one-gigabyte.txt"
    path = Path(default_storage.path(key))
    path.parent.mkdir(parents=True, exist_ok=True)
    block = (b"0123456789abcdef" * 64 + b"\n") * 1024  # ~1 MB of text
    digest = hashlib.sha256()
    written = 0
    with path.open("wb") as out:
        while written < DOWNLOAD_BYTES:
            chunk = block[: DOWNLOAD_BYTES - written]
            out.write(chunk)
            digest.update(chunk)
            written += len(chunk)
    document = Document.objects.create(
        owner=user,
        title="One gigabyte",
        family=Family.TEXT,
        mime_type="text/plain",
        size=written,
        sha256=digest.hexdigest(),
        created_at=now,
        updated_at=now,
    )
    version = DocumentVersion.objects.create(
        document=document,
        number=1,
        file=key,
        original_name="one-gigabyte.txt",
        mime_type="text/plain",
        size=written,
        sha256=digest.hexdigest(),
        author=user,
    )
    Document.objects.filter(pk=document.pk).update(current_version=version)
    return document


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s)", text)
    return float(match.group(1)) * UNITS[match.group(2)]


def wrk(url: str, cookie: str, seconds: int, connections: int = 16, *, token: str = "", body: str = "") -> dict:
    """Drive `url` with wrk: with the session cookie, or with a bearer token (and a JSON POST body)."""
    command = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency"]
    command += ["-H", f"Authorization: Bearer {token}"] if token else ["-H", f"Cookie: sessionid={cookie}"]
    if body:
        script = var_dir() / "post.lua"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\nwrk.headers["Content-Type"] = "application/json"\n'
        )
        command += ["-s", str(script)]
    result = subprocess.run([*command, url], capture_output=True, text=True, check=True)
    out = result.stdout
    if "Non-2xx or 3xx responses" in out:
        raise SystemExit(f"{url} answered errors under load:\n{out}")
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _ms(latency["50"]),
        "p99_ms": _ms(latency["99"]),
    }


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def download(base: str, document_id: int, cookie: str, master: int) -> dict:
    pids = worker_pids(master)
    before = {pid: rss_mb(pid) for pid in pids}
    peak = dict(before)
    done = threading.Event()

    def sample():
        while not done.is_set():
            for pid in pids:
                peak[pid] = max(peak[pid], rss_mb(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    result = subprocess.run(
        [
            "curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
            "-H", f"Cookie: sessionid={cookie}", f"{base}/documents/{document_id}/download/",
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    status, size = result.stdout.split()
    if status != "200" or int(size) != DOWNLOAD_BYTES:
        raise SystemExit(f"The download failed: HTTP {status}, {size} bytes")
    growth = max(peak[pid] - before[pid] for pid in pids)
    return {
        "seconds": round(elapsed, 2),
        "mb_per_s": round(DOWNLOAD_BYTES / 1024**2 / elapsed),
        "rss_growth_mb": round(growth, 1),
    }


def spine_in_process(requests: int = 1000, rounds: int = 7, profile: bool = False) -> dict:
    """The spine's own cost: `requests` calls of /bench/baseline through the test client behind
    DocuID's middleware, then behind Django's standard middleware only (the second baseline's
    settings), alternating for `rounds` rounds in one process so that both see the same load;
    the best round of each is kept (CPU milliseconds per request). No database is touched (no
    session cookie is sent)."""
    import importlib
    import io
    import logging

    from django.test import Client
    from django.test.utils import override_settings

    plain = importlib.import_module(PLAIN_MIDDLEWARE_SETTINGS).MIDDLEWARE
    # The access log is written as in production (JSON, masked) but into memory, not the terminal.
    sink = io.StringIO()
    for handler in logging.getLogger().handlers + logging.getLogger("docuid.request").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sink)

    def run(client: Client) -> float:
        # CPU time of this process, not wall time: on a shared machine the wall clock mostly
        # measures the wait for a core, which neither middleware stack controls.
        started = time.process_time()
        for _ in range(requests):
            client.get("/bench/baseline")
        return (time.process_time() - started) / requests * 1000

    spine, standard = Client(), None
    with override_settings(MIDDLEWARE=plain):
        standard = Client()
        run(standard)  # builds its middleware chain under the plain settings, then keeps it
    for client in (spine, standard):
        response = client.get("/bench/baseline")
        if response.status_code != 200:
            raise SystemExit(f"/bench/baseline answered {response.status_code}")
    spine_ms, plain_ms = [], []
    for _ in range(rounds):
        spine_ms.append(run(spine))
        plain_ms.append(run(standard))
    result = {
        "requests_per_round": requests,
        "rounds": rounds,
        "spine_ms": round(min(spine_ms), 3),
        "plain_ms": round(min(plain_ms), 3),
        "ratio": round(min(spine_ms) / min(plain_ms), 2),
        "load_average": os.getloadavg(),
    }
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(run, spine)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    return result


def pages_in_process(targets: dict, requests: int = 60, rounds: int = 5) -> dict:
    """Each page through the test client against the seeded database, rounds interleaved, best
    round kept (ms per request): on a loaded machine the CPU a request needs is steadier than
    wrk's req/s, which mostly measures the queue for the machine's two cores.

    The list and search pages are measured for the median person ("few", ~800 visible) and
    for the person who sees ~30,000 ("many", issue #16 item 2), wall and this process's CPU
    time (PostgreSQL's share of the work is in the wall time only)."""
    import importlib

    from django.test import Client
    from django.test.utils import override_settings

    from accounts.models import User
    from documents.models import Document

    owner = Document.objects.get(pk=targets["pdf"]).owner
    many = User.objects.get(pk=targets["many_user"])
    web, api = Client(), Client(headers={"Authorization": f"Bearer {api_token(owner)}"})
    web.cookies["sessionid"] = signed_in_session(owner)
    web_many, api_many = Client(), Client(headers={"Authorization": f"Bearer {api_token(many)}"})
    web_many.cookies["sessionid"] = signed_in_session(many)
    with override_settings(MIDDLEWARE=importlib.import_module(PLAIN_MIDDLEWARE_SETTINGS).MIDDLEWARE):
        plain = Client()
        plain.cookies["sessionid"] = web.cookies["sessionid"].value
        plain.get("/bench/baseline")  # its middleware chain is built now, under the plain settings
    body = json.dumps({"query": SEARCH_WORD})
    calls = {
        "baseline": lambda: web.get("/bench/baseline"),
        "plain_baseline": lambda: plain.get("/bench/baseline"),
        "list": lambda: web.get("/documents/"),
        "list_many": lambda: web_many.get("/documents/"),
        "api_list": lambda: api.get("/api/v1/documents"),
        "api_list_many": lambda: api_many.get("/api/v1/documents"),
        "search": lambda: web.get(f"/documents/?q={SEARCH_WORD}"),
        "search_many": lambda: web_many.get(f"/documents/?q={SEARCH_WORD}"),
        "api_search": lambda: api.post("/api/v1/documents/search", body, content_type="application/json"),
        "api_search_many": lambda: api_many.post("/api/v1/documents/search", body, content_type="application/json"),
    }
    for name, call in calls.items():
        status = call().status_code
        if status != 200:
            raise SystemExit(f"{name} answered {status} in-process")
    best = dict.fromkeys(calls, float("inf"))
    best_cpu = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for name, call in calls.items():
            # This process's CPU plus PostgreSQL's wall time would mix two clocks; wall time it
            # is, and the rounds are interleaved so that every page sees the same load.
            started, cpu = time.perf_counter(), time.process_time()
            for _ in range(requests):
                call()
            best[name] = min(best[name], (time.perf_counter() - started) / requests * 1000)
            best_cpu[name] = min(best_cpu[name], (time.process_time() - cpu) / requests * 1000)
    result = {name: round(ms, 2) for name, ms in best.items()}
    result["cpu_ms"] = {name: round(ms, 2) for name, ms in best_cpu.items()}
    result["visible"] = {"few": targets["visible"], "many": targets["many_visible"]}
    result["api_list_x_web_list"] = round(best["list"] / best["api_list"], 2)
    result["api_search_x_web_list"] = round(best["list"] / best["api_search"], 2)
    for page in ("list", "search", "api_list", "api_search"):
        result[f"{page}_many_over_few"] = round(best[f"{page}_many"] / best[page], 2)
    result["spine_x_plain"] = round(best["baseline"] / best["plain_baseline"], 2)
    result["load_average"] = os.getloadavg()
    return result


def print_many_over_few(result: dict) -> None:
    """The many person's time over the median person's, page by page (target <= MANY_TARGET)."""
    for page in ("list", "search", "api_list", "api_search"):
        ratio = result[f"{page}_many_over_few"]
        verdict = "ok" if ratio <= MANY_TARGET else "MISS"
        print(
            f"{page}: many {result[page + '_many']:.2f} ms / few {result[page]:.2f} ms = {ratio:.2f}x"
            f" ({verdict} <= {MANY_TARGET})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per page (default 10)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--skip-seed", action="store_true", help="reuse the last run's database and targets")
    parser.add_argument(
        "--spine", action="store_true", help="only the in-process spine cost (test client, no database, no wrk)"
    )
    parser.add_argument("--profile", action="store_true", help="with --spine: profile 1,000 spine requests")
    parser.add_argument("--seed-only", action="store_true", help="seed the database and stop (no measurement)")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="with --skip-seed: the list, search and API rows through the test client (ms per request), no wrk",
    )
    args = parser.parse_args()
    if args.spine:
        os.environ.update({k: v for k, v in environment(args.port).items() if k not in {"PYTHONPATH", "DATABASE_URL"}})
        os.environ["ALLOWED_HOSTS"] = "testserver"
        import django

        django.setup()
        result = spine_in_process(profile=args.profile)
        print(json.dumps(result))
        return
    if not (args.seed_only or args.in_process) and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    env = environment(args.port)
    os.environ.update({k: v for k, v in env.items() if k not in {"PYTHONPATH"}})
    targets_file = Path(env["DOCUID_VAR_DIR"]) / "targets.json"
    if not args.skip_seed:
        log("re-creating the database and migrating")
        reset_database(env)
    import django

    django.setup()
    from documents.models import Document

    if args.skip_seed:
        targets = json.loads(targets_file.read_text())
        if args.in_process:
            os.environ["ALLOWED_HOSTS"] = "testserver"
            from django.conf import settings

            settings.ALLOWED_HOSTS = ["testserver"]
            # DEBUG=0 serves hashed static names from the manifest (this database's var dir).
            subprocess.run(
                [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
            )
            if "many_user" not in targets:
                targets = many_person(targets)
                targets_file.write_text(json.dumps(targets))
            result = pages_in_process(targets)
            print(json.dumps(result))
            print_many_over_few(result)
            return
        targets["session"] = signed_in_session(Document.objects.get(pk=targets["pdf"]).owner)
        if "many_user" not in targets:
            targets = many_person(targets)
    else:
        targets = many_person(seed(random.Random(2026)))
        targets_file.parent.mkdir(parents=True, exist_ok=True)
        targets_file.write_text(json.dumps(targets))
        if args.seed_only:
            return
    # DEBUG=0 serves hashed static names from the manifest, as in production.
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    base, plain_base = f"http://127.0.0.1:{args.port}", f"http://127.0.0.1:{args.port + 1}"

    gunicorn = start_gunicorn(env)
    # The second baseline: the same view, the same gunicorn settings, Django's standard middleware only.
    plain_gunicorn = start_gunicorn(environment(args.port + 1, PLAIN_MIDDLEWARE_SETTINGS))
    try:
        for url in (base, plain_base):
            wait_ready(url)
        from accounts.models import User

        session = targets["session"]
        token = api_token(Document.objects.get(pk=targets["pdf"]).owner)
        many = User.objects.get(pk=targets["many_user"])
        many_session, many_token = signed_in_session(many), api_token(many)
        search_body = json.dumps({"query": SEARCH_WORD})
        # name: (path, bearer token?, JSON body for a POST); the *_many pages as the person who sees ~30,000
        pages = {
            "baseline": ("/bench/baseline", False, ""),
            "list": ("/documents/", False, ""),
            "api_list": ("/api/v1/documents", True, ""),
            "api_search": ("/api/v1/documents/search", True, search_body),
            "search": (f"/documents/?q={SEARCH_WORD}", False, ""),
            "filtered": ("/documents/?family=pdf&category=Reports&sort=title", False, ""),
            "detail": (f"/documents/{targets['pdf']}/", False, ""),
            "open": (f"/documents/{targets['pdf']}/open/", False, ""),
            "list_many": ("/documents/", False, ""),
            "search_many": (f"/documents/?q={SEARCH_WORD}", False, ""),
            "api_list_many": ("/api/v1/documents", True, ""),
            "api_search_many": ("/api/v1/documents/search", True, search_body),
        }

        def who(name: str) -> tuple[str, str]:
            return (many_session, many_token) if name.endswith("_many") else (session, token)

        def drive(name: str, seconds: int, connections: int = 16) -> dict:
            path, bearer, body = pages[name]
            cookie, bearer_token = who(name)
            return wrk(base + path, cookie, seconds, connections, token=bearer_token if bearer else "", body=body)

        require_ok(plain_base + "/bench/baseline", session)
        wrk(plain_base + "/bench/baseline", session, 1)
        for name, (path, bearer, body) in pages.items():  # warm every worker's caches and connections
            require_ok(base + path, who(name)[0], token=who(name)[1] if bearer else "", body=body)
            drive(name, 1)
        # Each page is measured right after a run of each baseline and compared with those: on a
        # shared machine the load drifts within a minute, and one baseline at the start made
        # the later pages' ratios depend on what else ran then.
        results, baselines, plains = {}, [], []
        for name in pages:
            if name == "baseline":
                continue
            baselines.append(drive("baseline", args.seconds))
            plains.append(wrk(plain_base + "/bench/baseline", session, args.seconds))
            results[name] = drive(name, args.seconds)
            results[name]["baseline_rps"] = baselines[-1]["rps"]
            results[name]["plain_rps"] = plains[-1]["rps"]
        results["baseline"] = sorted(baselines, key=lambda row: row["rps"])[len(baselines) // 2]
        results["baseline"]["runs_rps"] = [row["rps"] for row in baselines]
        results["baseline"]["plain_rps"] = sorted(row["rps"] for row in plains)[len(plains) // 2]
        results["plain_baseline"] = sorted(plains, key=lambda row: row["rps"])[len(plains) // 2]
        results["plain_baseline"]["runs_rps"] = [row["rps"] for row in plains]
        # The list's own latency, without the queue that 16 connections on 2 workers build.
        results["list_one_client"] = drive("list", args.seconds, connections=1)
        results["download"] = download(base, targets["big"], session, gunicorn.pid)
    finally:
        for process in (gunicorn, plain_gunicorn):
            process.terminate()
            process.wait(timeout=30)
    results["load_average_after"] = os.getloadavg()
    print()
    print(
        f"{'page':<12}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'x baseline':>12}  {'target':<9}"
        f"{'x plain':>9}{'baseline req/s':>16}{'plain req/s':>13}"
    )
    for name in pages:
        row = results[name]
        ratio = row["rps"] / row.get("baseline_rps", row["rps"])
        row["ratio"] = round(ratio, 2)
        row["ratio_plain"] = round(row["rps"] / row["plain_rps"], 2)
        target = TARGETS.get(name)
        mark = "" if target is None else (f"{'ok' if ratio >= target else 'MISS'} {target}")
        adjacent = row.get("baseline_rps", row["rps"])
        print(
            f"{name:<12}{row['rps']:>9.0f}{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}{ratio:>12.2f}  {mark:<9}"
            f"{row['ratio_plain']:>9.2f}{adjacent:>16.0f}{row['plain_rps']:>13.0f}"
        )
    for name, target in API_TARGETS.items():
        versus = results[name]["rps"] / results["list"]["rps"]
        results[name]["x_web_list"] = round(versus, 2)
        print(f"{name}: {versus:.2f}x the web list ({'ok' if versus >= target else 'MISS'} >= {target})")
    for name in ("list", "search", "api_list", "api_search"):
        # Throughput few/many = latency many/few: the many person's cost over the median person's.
        many_over_few = results[name]["rps"] / results[name + "_many"]["rps"]
        results[name + "_many"]["many_over_few"] = round(many_over_few, 2)
        p50 = results[name + "_many"]["p50_ms"] / results[name]["p50_ms"]
        verdict = "ok" if many_over_few <= MANY_TARGET else "MISS"
        print(
            f"{name}: the many person ({targets['many_visible']} visible) costs {many_over_few:.2f}x the median"
            f" person's ({targets['visible']}) by req/s, p50 {p50:.2f}x ({verdict} <= {MANY_TARGET})"
        )
    spine_cost = results["plain_baseline"]["rps"] / results["baseline"]["rps"]
    print(f"the spine: the baseline behind DocuID's middleware serves 1/{spine_cost:.2f} of the plain one's req/s")
    dl = results["download"]
    print(
        f"download 1 GB: {dl['seconds']} s ({dl['mb_per_s']} MB/s), worker RSS growth {dl['rss_growth_mb']} MB "
        f"({'ok' if dl['rss_growth_mb'] < 64 else 'MISS'} < 64 MB)"
    )
    print(f"list p99 {results['list']['p99_ms']:.1f} ms ({'ok' if results['list']['p99_ms'] < 50 else 'MISS'} < 50 ms)")
    single = results["list_one_client"]
    print(
        f"list with one client (no queueing): {single['rps']:.0f} req/s, p50 {single['p50_ms']:.1f} ms, "
        f"p99 {single['p99_ms']:.1f} ms"
    )
    print(f"load average after the run: {results['load_average_after']}")
    report = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "data": {
            "documents": USERS * DOCS_PER_USER,
            "users": USERS,
            "grants": targets["grants"],
            "measured_user_visible": targets["visible"],
            "many_user_visible": targets.get("many_visible"),
            "sampled_visible_range": targets["visible_range"],
        },
        "results": results,
    }
    out = ROOT / "var" / "bench" / "documents.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    log(f"written to {out}")


if __name__ == "__main__":
    main()
