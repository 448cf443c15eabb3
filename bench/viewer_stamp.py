"""Viewer bench, stamping half (issue #15): leak-tracing stamps on confidential PDFs.

    .venv/bin/python bench/viewer_stamp.py [--pages 100] [--requests 40] [--big-mb 500]

1. Open throughput, through gunicorn as deployed (deploy/gunicorn.conf.py, 2 sync workers,
   SQLite in a temporary directory, no nginx): the same 100-page PDF (text and a 48 KB
   image on every page, about 5 MB) stored twice, once internal (sent as stored, by
   sendfile) and once confidential (stamped per request), each opened N times by two
   client threads over keep-alive connections, whole body read. Target: the stamped open
   >= 0.5x the requests per second of the unstamped one. The first stamped open of a file
   builds its template (a one-time rewrite); its time is printed separately.
2. Memory: a generated PDF of about 500 MB (large uncompressed image streams) gets its
   template built and one stamped copy streamed, in a child process whose RSS a thread
   samples every 5 ms. Target: peak RSS growth < 64 MB.

Prints a summary and writes var/bench/viewer_stamp.json; bench/README.md "Viewer" records it.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

IMAGE_W, IMAGE_H = 1024, 1707  # 5.2 MB of raw RGB per page in the big file


def log(message: str) -> None:
    print(f"[bench-stamp] {message}", flush=True)


# --- Files --------------------------------------------------------------------------------


def write_pdf(path: Path, pages: int, image_bytes: int, *, random_image: bool, text: str = "Quarterly plan") -> int:
    """A PDF written object by object straight to disk (never whole in memory); its size in bytes.

    Each page: a line of text (Helvetica) and one DeviceRGB image XObject of `image_bytes`.
    """
    width = 256
    height = max(1, image_bytes // (width * 3))
    image_len = width * height * 3
    offsets: list[int] = []
    with open(path, "wb") as out:

        def obj(body: bytes, stream: bytes | None = None, stream_len: int = 0, fill=None) -> None:
            offsets.append(out.tell())
            out.write(b"%d 0 obj\n" % len(offsets) + body)
            if stream is not None or fill is not None:
                out.write(b"\nstream\n")
                if fill is not None:
                    fill(out, stream_len)
                else:
                    out.write(stream)
                out.write(b"\nendstream")
            out.write(b"\nendobj\n")

        out.write(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
        # 1 catalog, 2 pages, 3 font, then per page: image, content, page
        obj(b"<< /Type /Catalog /Pages 2 0 R >>")
        kids = [4 + 3 * n + 2 for n in range(pages)]
        obj(b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids) + b"] /Count %d >>" % pages)
        obj(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
        pattern = bytes(range(256)) * (1 + image_len // 256)

        def image_fill(stream, length):
            remaining = length
            while remaining:
                chunk = min(remaining, 1 << 20)
                stream.write(os.urandom(chunk) if random_image else pattern[:chunk])
                remaining -= chunk

        for n in range(pages):
            obj(
                b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
                b"/BitsPerComponent 8 /Length %d >>" % (width, height, image_len),
                stream_len=image_len,
                fill=image_fill,
            )
            content = b"BT /F1 14 Tf 50 780 Td (%s page %d) Tj ET q 495 0 0 600 50 120 cm /Im1 Do Q" % (
                text.encode(),
                n + 1,
            )
            obj(b"<< /Length %d >>" % len(content), stream=content)
            obj(
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> "
                b"/XObject << /Im1 %d 0 R >> >> /Contents %d 0 R >>" % (len(offsets) - 1, len(offsets))
            )
        xref = out.tell()
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
        for offset in offsets:
            out.write(b"%010d 00000 n \n" % offset)
        out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, xref))
        return out.tell()


# --- 2. Memory (child process) --------------------------------------------------------------


def rss_kb(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def memory_child(source: str) -> None:
    """Build the template of `source` and stream one stamped copy, sampling RSS; prints one JSON line."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from types import SimpleNamespace

    from django.core.files.storage import FileSystemStorage

    from documents import watermark

    storage = FileSystemStorage(location=os.path.dirname(source))
    # Warm up imports and qpdf on a tiny file so the baseline includes the libraries.
    write_pdf(Path(os.path.dirname(source)) / "tiny.pdf", 1, 1024, random_image=False)
    chunks, _ = watermark.stamped_stream(SimpleNamespace(name="tiny.pdf", storage=storage), "warm-up")
    for _ in chunks:
        pass
    baseline, baseline_anon = rss_kb(), rss_kb("RssAnon")
    peak = {"rss": baseline, "anon": baseline_anon}
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak["rss"] = max(peak["rss"], rss_kb())
            peak["anon"] = max(peak["anon"], rss_kb("RssAnon"))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    big = SimpleNamespace(name=os.path.basename(source), storage=storage)
    started = time.perf_counter()
    meta = watermark.template_for(big)
    built = time.perf_counter() - started
    started = time.perf_counter()
    chunks, size = watermark.stamped_stream(big, "Olive Owner (+1******0100) · 2026-12-06 · request bench · ref 0")
    sent = sum(len(chunk) for chunk in chunks)
    streamed = time.perf_counter() - started
    done.set()
    sampler.join()
    print(
        json.dumps(
            {
                "source_bytes": os.path.getsize(source),
                "stamped_bytes": size,
                "sent_bytes": sent,
                "slots": len(meta["slots"]),
                "template_build_seconds": round(built, 2),
                "stamped_stream_seconds": round(streamed, 2),
                "baseline_rss_mb": round(baseline / 1024, 1),
                "peak_rss_growth_mb": round((peak["rss"] - baseline) / 1024, 1),
                "peak_anon_growth_mb": round((peak["anon"] - baseline_anon) / 1024, 1),
            }
        )
    )


def memory_bench(workdir: Path, big_mb: int) -> dict:
    source = workdir / "big.pdf"
    pages = max(1, big_mb * 1024 * 1024 // (IMAGE_W * IMAGE_H * 3))
    log(f"writing a {big_mb} MB PDF ({pages} pages, one {IMAGE_W * IMAGE_H * 3 / 1e6:.1f} MB image each)")
    write_pdf(source, pages, IMAGE_W * IMAGE_H * 3, random_image=True)
    env = {**os.environ, "DOCUID_WATERMARK_TMP_DIR": str(workdir), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(source)], capture_output=True, text=True, env=env, check=True
    )
    line = [row for row in result.stdout.splitlines() if row.startswith("{")][-1]
    data = json.loads(line)
    source.unlink()
    data["pages"] = pages
    return data


# --- 1. Open throughput ---------------------------------------------------------------------


SEED = """
import json, os, sys
import django
django.setup()
from django.conf import settings
from django.core.files.base import File
from django.test import Client
from documents import services
from tests.factories import UserFactory
path = sys.argv[1]
owner = UserFactory(name="Olive Owner")
ids = {}
for level in ("internal", "confidential"):
    with open(path, "rb") as handle:
        ids[level] = services.document_upload(
            acting_user=owner, file=File(handle, name=level + ".pdf"), name=level + ".pdf", security_level=level
        ).pk
    with open(path, "ab") as handle:  # the same bytes twice would be refused as a duplicate
        handle.write(b"%bench\\n")
client = Client()
client.force_login(type(owner).objects.get(pk=owner.pk))
print(json.dumps({"ids": ids, "session": client.cookies[settings.SESSION_COOKIE_NAME].value}))
"""


def fetch_all(port: int, path: str, cookie: str, count: int) -> int:
    """GET `path` `count` times on one keep-alive connection, reading every body; bytes of the last."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    size = 0
    for _ in range(count):
        connection.request("GET", path, headers={"Cookie": f"sessionid={cookie}"})
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"{path}: HTTP {response.status}")
        size = len(body)
    connection.close()
    return size


def run_clients(port: int, path: str, cookie: str, requests: int, clients: int = 2) -> tuple[float, int]:
    sizes: list[int] = []
    per_client = requests // clients

    def client():
        sizes.append(fetch_all(port, path, cookie, per_client))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return per_client * clients / (time.perf_counter() - started), sizes[0]


def throughput_bench(workdir: Path, pages: int, requests: int) -> dict:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
        "DJANGO_SETTINGS_MODULE": "docuid.settings",
        "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3",
        "SECRET_KEY": "bench-only-secret-key-not-for-any-deployment-0123456789",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DOCUID_SECURE_SSL_REDIRECT": "0",
        "DOCUID_VAR_DIR": str(workdir / "var"),
        "DOCUID_WATERMARK_TMP_DIR": str(workdir),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_MAX_REQUESTS": "0",
        "GUNICORN_TIMEOUT": "600",
        "PYTHONPATH": str(ROOT),
    }
    log("migrating a fresh SQLite database")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    path = workdir / "hundred.pdf"
    size = write_pdf(path, pages, 48 * 1024, random_image=True)
    seeded = subprocess.run(
        [sys.executable, "-c", SEED, str(path)], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    target = json.loads([row for row in seeded.stdout.splitlines() if row.startswith('{"ids"')][-1])
    ids, cookie = target["ids"], target["session"]
    gunicorn = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "docuid.wsgi", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        import urllib.request

        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        plain_path = f"/documents/{ids['internal']}/open/"
        stamped_path = f"/documents/{ids['confidential']}/open/"
        started = time.perf_counter()
        fetch_all(port, stamped_path, cookie, 1)  # builds the template
        first_open = time.perf_counter() - started
        run_clients(port, plain_path, cookie, 4), run_clients(port, stamped_path, cookie, 4)  # warm-up
        results: dict = {"internal": [], "confidential": []}
        for level, url in (("internal", plain_path), ("confidential", stamped_path)) * 2:
            rps, body = run_clients(port, url, cookie, requests)
            results[level].append(rps)
            results[f"{level}_bytes"] = body
    finally:
        os.killpg(gunicorn.pid, 15)
        gunicorn.wait(timeout=30)
    plain, stamped = max(results["internal"]), max(results["confidential"])
    return {
        "pages": pages,
        "file_bytes": size,
        "requests_per_run": requests,
        "server": "gunicorn, 2 sync workers, 2 client threads, keep-alive",
        "open_unstamped_rps": round(plain, 1),
        "open_stamped_rps": round(stamped, 1),
        "ratio": round(stamped / plain, 2),
        "target_ratio": 0.5,
        "runs_unstamped_rps": [round(v, 1) for v in results["internal"]],
        "runs_stamped_rps": [round(v, 1) for v in results["confidential"]],
        "first_stamped_open_seconds (template build)": round(first_open, 3),
        "stamped_body_bytes": results["confidential_bytes"],
        "unstamped_body_bytes": results["internal_bytes"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--big-mb", type=int, default=500)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-child")
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_before": [round(v, 2) for v in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory(prefix="docuid-bench-stamp-") as tmp:
        workdir = Path(tmp)
        if not args.skip_memory:
            report["memory"] = memory_bench(workdir, args.big_mb)
            log(f"memory: {report['memory']}")
        report["throughput"] = throughput_bench(workdir, args.pages, args.requests)
        log(f"throughput: {report['throughput']}")
    report["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    out = ROOT / "var" / "bench" / "viewer_stamp.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
