"""Scrape cost of /metrics: `make bench-metrics` (or `.venv/bin/python bench/metrics.py`).

Starts DocuID under gunicorn with 2 workers (deploy/gunicorn.conf.py, production
settings, a SQLite file in a temporary directory), drives traffic over every URL
pattern (resolved from docuid.urls, with sample values for the converters;
anonymous and signed in, GET and POST), then times 200 scrapes of /metrics
against 200 requests to /healthz in the same run, and counts the series.

Passes (exit 0) when the p99 of a scrape is under 100 ms and the series stay
bounded: no label value is a raw path, a number that could be a user or a
document id, or a phone number. Results: bench/README.md.
"""

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
APPROVES = "+12025550100"
P99_BUDGET_MS = 100.0
SAMPLE_VALUES = {"int": "1", "uuid": "00000000-0000-0000-0000-000000000000", "str": "x", "slug": "x", "path": "x"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def url_paths() -> list[str]:
    """Every URL pattern of docuid.urls as a concrete path (converters filled with sample values)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docuid.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    from django.urls import URLPattern, URLResolver, get_resolver
    from django.urls.resolvers import RoutePattern

    paths: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern.pattern, RoutePattern):
                route = re.sub(
                    r"<(?:(\w+):)?\w+>", lambda m: SAMPLE_VALUES.get(m.group(1) or "str", "x"), str(pattern.pattern)
                )
            else:  # a regex pattern (the admin's): strip the anchors, fill groups
                route = (
                    re.sub(r"\(\?P<\w+>[^)]*\)", "x", str(pattern.pattern)).lstrip("^").rstrip("$").replace("\\", "")
                )
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + route)
            elif isinstance(pattern, URLPattern):
                paths.append("/" + prefix + route)

    walk(get_resolver().url_patterns, "")
    return sorted(set(paths))


@contextlib.contextmanager
def gunicorn(workdir: Path):
    port = free_port()
    var_dir = workdir / "var"
    (var_dir / "staticfiles").mkdir(parents=True)
    (workdir / "prometheus").mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "PROMETHEUS"))},
        "DJANGO_SETTINGS_MODULE": "docuid.settings",
        "SECRET_KEY": "bench-secret-key-not-for-deployment",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DOCUID_SECURE_SSL_REDIRECT": "0",
        "DOCUID_BIOMETRIC_PROVIDER": "simulator",
        "DOCUID_ALLOW_SIMULATOR": "1",
        "DOCUID_SIMULATOR_APPROVE_DELAY_SECONDS": "0",
        "DOCUID_RATE_LIMIT_PHONE": "100000",
        "DOCUID_LOGIN_PROMPTS_PER_HOUR": "100000",
        "DOCUID_RATE_LIMIT_IP": "100000",
        "METRICS_ALLOWED_IPS": "127.0.0.1",
        "DOCUID_VAR_DIR": str(var_dir),
        "DATABASE_URL": f"sqlite:///{var_dir / 'db.sqlite3'}",
        "PROMETHEUS_MULTIPROC_DIR": str(workdir / "prometheus"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        # Recycle each worker about once during the run, so the scrape includes folded archives.
        "GUNICORN_MAX_REQUESTS": "1000",
        "GUNICORN_LOG_LEVEL": "warning",
        "DOCUID_LOG_LEVEL": "WARNING",
    }
    python = str(VENV_BIN / "python")
    for args in (["migrate", "--noinput", "-v0"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run([python, "manage.py", *args], cwd=ROOT, env=env, check=True, timeout=300)
    subprocess.run(
        [python, "manage.py", "user_create", APPROVES, "--name", "Bench Person"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    log = (workdir / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "docuid.wsgi", "-c", "deploy/gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(base_url + "/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("gunicorn did not start: see " + str(workdir / "gunicorn.log"))
            time.sleep(0.3)
        yield base_url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        log.close()


class Browser:
    """Cookies kept by hand: production settings mark them Secure, the bench speaks plain HTTP."""

    def __init__(self, base_url: str):
        self.base_url, self.cookies = base_url, {}

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), "Referer": self.base_url + path}
        response = requests.request(
            method, self.base_url + path, headers=headers, allow_redirects=False, timeout=30, **kwargs
        )
        self.cookies.update(response.cookies.get_dict())
        return response

    def sign_in(self, phone: str) -> None:
        page = self.request("GET", "/login/")
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        started = self.request("POST", "/login/", data={"csrfmiddlewaretoken": csrf, "phone_number": phone})
        finished = self.request("GET", started.headers["Location"])
        if finished.status_code != 302:
            raise SystemExit(f"bench sign-in failed: {finished.status_code}")


def timings_ms(session: requests.Session, url: str, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = session.get(url, timeout=30)
        response.raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def p(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


LABEL = re.compile(r'(\w+)="([^"]*)"')
# Bucket bounds and HTTP status codes are numbers by nature; any other numeric label value could be an id.
NUMERIC_LABELS = {"le", "quantile", "status", "code"}


def unbounded_labels(series: list[str]) -> list[str]:
    found = set()
    for line in series:
        for name, value in LABEL.findall(line.split(" ")[0]):
            if (
                value.startswith("/")
                or re.fullmatch(r"\+\d{7,15}", value)
                or (value.isdigit() and name not in NUMERIC_LABELS)
            ):
                found.add(f'{name}="{value}"')
    return sorted(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrapes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="Traffic rounds over every route before timing.")
    args = parser.parse_args()

    paths = url_paths()
    workdir = Path(tempfile.mkdtemp(prefix="docuid-bench-metrics-"))
    try:
        with gunicorn(workdir) as base_url:
            anonymous, signed_in = Browser(base_url), Browser(base_url)
            signed_in.sign_in(APPROVES)
            requests_sent = 0
            started = time.monotonic()
            for _ in range(args.rounds):
                for path in paths:
                    for browser in (anonymous, signed_in):
                        browser.request("GET", path)
                        browser.request("POST", path, data={"probe": "1"})
                        requests_sent += 2
                # Paths that match no pattern must not become series either.
                for junk in ("/no/such/page", "/documents/999999/", "/%2e%2e/etc/passwd", "/+12025550123"):
                    anonymous.request("GET", junk)
                    requests_sent += 1
            traffic_seconds = time.monotonic() - started

            session = requests.Session()
            timings_ms(session, base_url + "/metrics", 10)  # warm-up
            scrape = timings_ms(session, base_url + "/metrics", args.scrapes)
            baseline = timings_ms(session, base_url + "/healthz", args.scrapes)
            exposition = session.get(base_url + "/metrics", timeout=30).text
            metric_files = sorted(path.name for path in (workdir / "prometheus").glob("*.db"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    series = [line for line in exposition.splitlines() if line and not line.startswith("#")]
    latency_series = [line for line in series if line.startswith("api_latency_ms")]
    routes = sorted(set(re.findall(r'route="([^"]*)"', exposition)))
    unbounded = unbounded_labels(series)
    scrape_p99, baseline_p99 = p(scrape, 99), p(baseline, 99)

    print(f"routes driven        {len(paths)} URL patterns x (anonymous, signed in) x (GET, POST) x {args.rounds}")
    print(f"requests sent        {requests_sent} in {traffic_seconds:.1f}s through gunicorn (2 workers)")
    print(f"series exposed       {len(series)} ({len(latency_series)} api_latency_ms, {len(routes)} route labels)")
    print(f"exposition size      {len(exposition.encode()) / 1024:.0f} KiB")
    print(f"metric files         {len(metric_files)} in the multiprocess directory ({', '.join(metric_files)})")
    print(f"/metrics  ms         p50 {p(scrape, 50):.1f}  p95 {p(scrape, 95):.1f}  p99 {scrape_p99:.1f}")
    print(f"/healthz  ms         p50 {p(baseline, 50):.1f}  p95 {p(baseline, 95):.1f}  p99 {baseline_p99:.1f}")
    print(f"scrape / baseline    {scrape_p99 / baseline_p99:.1f}x at p99")
    ok = True
    if scrape_p99 >= P99_BUDGET_MS:
        print(f"FAIL: /metrics p99 {scrape_p99:.1f} ms is over the {P99_BUDGET_MS:.0f} ms budget")
        ok = False
    if unbounded:
        print(f"FAIL: label values that grow without bound: {unbounded[:10]}")
        ok = False
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
