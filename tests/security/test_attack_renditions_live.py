"""Attacks on the viewer, rendition, thumbnail and API PDF paths the way DocuID runs (issue #15, #16).

gunicorn with DEBUG=0 on its own database (a SQLite file, or a fresh PostgreSQL database
beside the test one), seeded by tests/security/live_seed.py through `manage.py shell`;
every attack is a real HTTP request with a real session cookie, bearer token, share link
or nothing at all. An attacker is: another signed-in person, a reader whose grant was
removed or expired, anyone with a deleted document's id, an anonymous visitor, a share
link holder (also used up and expired links), someone with a forged or misdirected
signed preview link. Each must get a refusal (404/302/401/410), never PDF or image bytes,
never a 500; the confidential PDF only ever leaves stamped; the pages and files carry
their policies (CSP without inline script, framing refused).
"""

import contextlib
import http.client
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from tests.processes import free_port, process

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def request(port, method, path, *, cookie=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        sent = {"Host": "127.0.0.1", "Connection": "close", **(headers or {})}
        if cookie:
            sent["Cookie"] = f"sessionid={cookie}"
        conn.request(method, path, headers=sent)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def _database_url(tmp_path) -> tuple[str, callable]:
    """A database of its own for the server: a fresh PostgreSQL one when the tests run on PostgreSQL."""
    if connection.vendor != "postgresql":
        return f"sqlite:///{tmp_path / 'live.sqlite3'}", lambda: None
    settings = connection.settings_dict
    name = f"docuid_live_{uuid.uuid4().hex[:8]}"
    with connection._nodb_cursor() as cursor:  # the maintenance database
        cursor.execute(f'CREATE DATABASE "{name}"')
    user = settings["USER"] or "postgres"
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    url = f"postgres://{user}{password}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{name}"

    def drop():
        with connection._nodb_cursor() as cursor:  # the maintenance database
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


@pytest.fixture(scope="module")
def live(django_db_blocker, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("live")
    with django_db_blocker.unblock():
        database_url, drop = _database_url(tmp_path)
    port = free_port()
    var_dir = tmp_path / "var"
    (var_dir / "staticfiles").mkdir(parents=True)
    (tmp_path / "prometheus").mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "PROMETHEUS", "CI"))},
        "DATABASE_URL": database_url,
        "SECRET_KEY": "live-attack-secret-key-not-for-deployment-0123456789",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DOCUID_SECURE_SSL_REDIRECT": "0",
        "DOCUID_BIOMETRIC_PROVIDER": "simulator",
        "DOCUID_ALLOW_SIMULATOR": "1",
        "DOCUID_VAR_DIR": str(var_dir),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "DJANGO_SETTINGS_MODULE": "docuid.settings",
        "CELERY_TASK_ALWAYS_EAGER": "1",
        # Rate-limit counters of its own: the PostgreSQL and SQLite passes seed the same user
        # ids, and the second server would otherwise start with the first one's counts (429s).
        "DOCUID_CACHE_KEY_PREFIX": f"live-attack-{uuid.uuid4().hex[:8]}",
    }
    python = str(VENV_BIN / "python")
    for command in (["migrate", "--noinput", "-v0"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run([python, "manage.py", *command], cwd=ROOT, env=env, check=True, timeout=240)
    seeded = subprocess.run(
        [python, "manage.py", "shell", "-c", "exec(open('tests/security/live_seed.py').read())"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    line = next((ln for ln in seeded.stdout.splitlines() if ln.startswith("SEED ")), None)
    assert line, seeded.stdout[-2000:] + seeded.stderr[-4000:]
    seed = json.loads(line[5:])
    log = tmp_path / "gunicorn.log"
    try:
        # tests/processes.process: from the repository root, the whole process group stopped on exit.
        with process([str(VENV_BIN / "gunicorn"), "docuid.wsgi", "-c", "deploy/gunicorn.conf.py"], log, env=env) as web:
            deadline = time.monotonic() + 90
            while True:
                assert web.poll() is None, log.read_text()[-3000:]
                with contextlib.suppress(OSError):
                    if request(port, "GET", "/readyz")[0] == 200:
                        break
                assert time.monotonic() < deadline, "gunicorn did not become ready in 90 s"
                time.sleep(0.3)
            yield {"port": port, "seed": seed, "log": log}
    finally:
        with django_db_blocker.unblock():
            drop()


WEB_PATHS = ["/documents/{id}/rendition/", "/documents/{id}/thumbnail/", "/documents/{id}/view/",
             "/documents/{id}/view/status/", "/documents/{id}/open/", "/documents/{id}/download/"]  # fmt: skip
API_PATHS = ["/api/v1/documents/{id}/content?format=pdf", "/api/v1/documents/{id}/thumbnail",
             "/api/v1/documents/{id}/download", "/api/documents/{id}/content?format=pdf",
             "/api/documents/{id}/preview", "/api/docuid/documents/{id}/content?format=office"]  # fmt: skip


def no_content(body: bytes) -> None:
    assert b"%PDF" not in body and not body.startswith(b"RIFF")
    for secret in (b"Public page", b"Secret page", b"Revoked page", b"Expired page", b"Deleted page"):
        assert secret not in body


# The stranger sees none of the owner's documents; the reader's grants on these were removed or expired.
NO_ACCESS = [
    *(("stranger", t) for t in ("public", "secret", "revoked", "expired", "deleted")),
    *(("reader", t) for t in ("revoked", "expired", "deleted")),
]


@pytest.mark.parametrize("who, target", [*NO_ACCESS, ("stranger", "missing")])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_web_paths_are_404_to_anyone_without_access(live, who, target, method):
    seed, port = live["seed"], live["port"]
    doc_id = {"missing": 987654321}.get(target) or seed[target]
    for path in WEB_PATHS:
        status, _, body = request(port, method, path.format(id=doc_id), cookie=seed["sessions"][who])
        assert status == 404, (path, status)
        no_content(body)


@pytest.mark.parametrize("who, target", NO_ACCESS)
def test_api_paths_are_refused_to_anyone_without_access(live, who, target):
    seed, port = live["seed"], live["port"]
    auth = {"x-api-key": seed["api_key"], "Authorization": f"Bearer {seed['tokens'][who]}"}
    for path in API_PATHS:
        status, headers, body = request(port, "GET", path.format(id=seed[target]), headers=auth)
        assert status in (403, 404), (path, status, body[:200])
        assert headers["content-type"].startswith("application/json")
        no_content(body)


def test_anonymous_visitors_and_share_link_holders_get_no_rendition_or_thumbnail(live):
    seed, port = live["seed"], live["port"]
    for target in ("public", "secret"):
        for path in WEB_PATHS:
            status, headers, body = request(port, "GET", path.format(id=seed[target]))
            assert status == 302 and "/login" in headers["location"], (path, status)
            no_content(body)
        for path in API_PATHS:
            status, _, body = request(port, "GET", path.format(id=seed[target]), headers={"x-api-key": seed["api_key"]})
            assert status == 401, (path, status)
            no_content(body)
    # A share link opens its document, but its cookie or token opens nothing else.
    status, headers, _ = request(port, "GET", f"/s/{seed['share']}")
    cookies = "; ".join(v.split(";")[0] for k, v in headers.items() if k == "set-cookie")
    for path in WEB_PATHS[:4]:
        status, _, body = request(port, "GET", path.format(id=seed["public"]), headers={"Cookie": cookies})
        assert status == 302, (path, status)
        no_content(body)
    for token in (seed["used_share"], seed["expired_share"]):
        for suffix in ("/open", "/download"):
            status, _, body = request(port, "GET", f"/s/{token}{suffix}")
            assert status in (404, 410), (suffix, status)
            no_content(body)


@pytest.mark.parametrize(
    "sig",
    [
        "",
        "forged",
        "W1s0LDEsInQiLDFd:1tSig:badsignature",
        "x" * 301,
        "../../etc/passwd",
        "%00",
    ],
)
def test_a_forged_preview_signature_is_refused(live, sig):
    seed, port = live["seed"], live["port"]
    status, _, body = request(port, "GET", f"/api/documents/{seed['public']}/preview?sig={sig}")
    assert status == 401, status
    no_content(body)


@pytest.mark.parametrize(
    "path",
    [
        "/documents/99999999999999999999999999/rendition/",
        "/documents/0/thumbnail/",
        "/api/v1/documents/99999999999999999999999999/thumbnail",
        "/api/v1/documents/-1/content?format=pdf",
        "/api/v1/documents/1/content?format=../../etc/passwd",
        "/api/v1/documents/1/content?format=pdf&format=office",
        "/api/documents/99999999999999999999999999/preview?sig=x",
    ],
)
def test_hostile_ids_and_formats_are_never_a_500(live, path):
    seed, port = live["seed"], live["port"]
    auth = {"x-api-key": seed["api_key"], "Authorization": f"Bearer {seed['tokens']['stranger']}"}
    status, _, body = request(port, "GET", path, cookie=seed["sessions"]["stranger"], headers=auth)
    assert status in (400, 401, 404), (path, status)
    assert b"Traceback" not in body
    no_content(body)


def test_the_readers_copy_of_the_confidential_pdf_is_always_stamped(live):
    seed, port = live["seed"], live["port"]
    reader = seed["sessions"]["reader"]
    paths = [f"/documents/{seed['secret']}/rendition/", f"/documents/{seed['secret']}/open/"]
    for path in paths:
        for extra in ({}, {"Range": "bytes=0-99"}, {"Range": "bytes=-500"}, {"If-Range": '"x"', "Range": "bytes=0-9"}):
            status, headers, body = request(port, "GET", path, cookie=reader, headers=extra)
            assert status == 200, (path, extra, status)
            assert body.startswith(b"%PDF") and headers["accept-ranges"] == "none" and "etag" not in headers
            assert re.fullmatch(r"[0-9a-f]{12}", headers["x-docuid-stamp"])
            assert headers["x-docuid-stamp"].encode().hex().encode() in body or b"Rita Reader".hex().encode() in body
        status, headers, body = request(port, "HEAD", path, cookie=reader)
        assert status == 200 and body == b""
    # Its thumbnail is never given (not stamped), even to the reader.
    status, _, body = request(port, "GET", f"/documents/{seed['secret']}/thumbnail/", cookie=reader)
    assert status == 404 and b"RIFF" not in body


def test_the_viewer_page_runs_no_inline_script_and_cannot_be_framed(live):
    seed, port = live["seed"], live["port"]
    status, headers, body = request(
        port, "GET", f"/documents/{seed['public']}/view/", cookie=seed["sessions"]["reader"]
    )
    assert status == 200
    csp = headers["content-security-policy"]
    directives = dict([*part.strip().split(" ", 1), ""][:2] for part in csp.split(";") if part.strip())
    script = directives.get("script-src", directives.get("default-src", ""))
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script and "*" not in script.split()
    worker = directives.get("worker-src", directives.get("child-src", script))
    assert worker.split() == ["'self'"] or "blob:" not in worker
    assert directives.get("frame-ancestors") == "'none'" and headers["x-frame-options"] == "DENY"
    # No inline script element or handler in the page itself.
    html = body.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script> in the viewer page"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler in the viewer page"


@pytest.mark.parametrize("target", ["public", "secret"])
def test_rendition_and_thumbnail_responses_refuse_framing_and_sniffing(live, target):
    seed, port = live["seed"], live["port"]
    reader = seed["sessions"]["reader"]
    for path in (f"/documents/{seed[target]}/rendition/", f"/documents/{seed[target]}/thumbnail/"):
        status, headers, _ = request(port, "GET", path, cookie=reader)
        if status == 404:
            assert target == "secret" and path.endswith("thumbnail/")
            continue
        assert status == 200, (path, status)
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'self'" in csp
        assert headers["content-disposition"].startswith("inline")
        assert "no-store" in headers["cache-control"] or "private" in headers["cache-control"]


def test_the_server_logged_no_error(live):
    log = live["log"].read_text()
    assert "Traceback" not in log, log[-3000:]
