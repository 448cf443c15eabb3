"""deploy/nginx/docuid.conf: valid for nginx, logs no token, serves the published status page when DocuID is down.

The shipped file is rendered as deploy/prod-stack.sh renders it (ports, certificate, var dir and
log path replaced) and run by a real nginx with no upstream behind it. Marked slow (starts nginx);
without nginx it skips, except in CI (CI=true), where it fails: deploy/install-prod-tools.sh installs it.
"""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

pytestmark = [pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "deploy" / "nginx" / "docuid.conf"


def _nginx() -> str:
    path = shutil.which("nginx") or (os.path.exists("/usr/sbin/nginx") and "/usr/sbin/nginx")
    if path:
        return path
    message = "nginx is not installed: run deploy/install-prod-tools.sh (as root)."
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _render(tmp_path: Path) -> tuple[Path, Path, int]:
    """(nginx.conf, var dir, https port) for a copy of the shipped config."""
    if not shutil.which("openssl"):
        pytest.fail("openssl is needed (deploy/install-prod-tools.sh)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    var = tmp_path / "var"
    (var / "status").mkdir(parents=True)
    https, http, web, ops = (_free_port() for _ in range(4))
    text = CONF.read_text()
    for old, new in [
        ("listen 443 ", f"listen {https} "),
        ("listen 80 ", f"listen {http} "),
        ("listen 80;", f"listen {http};"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{web};"),
        ("server 127.0.0.1:8001;", f"server 127.0.0.1:{ops};"),
        ("server_name docuid.example.com;", "server_name localhost;"),
        ("/etc/ssl/docuid/fullchain.pem", str(cert)),
        ("/etc/ssl/docuid/privkey.pem", str(key)),
        ("/var/lib/docuid/", f"{var}/"),
        ("/var/log/nginx/docuid.access.log", str(tmp_path / "access.log")),
    ]:
        assert old in text, f"{old!r} is no longer in deploy/nginx/docuid.conf (deploy/prod-stack.sh renders it)"
        text = text.replace(old, new)
    (tmp_path / "docuid.conf").write_text(text)
    main = tmp_path / "nginx.conf"
    main.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\nhttp {{\n"
        + "".join(
            f"    {kind}_temp_path {tmp_path}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"    include {tmp_path}/docuid.conf;\n}}\n"
    )
    return main, var, https


def test_the_shipped_config_passes_nginx_t(tmp_path):
    nginx = _nginx()
    main, _, _ = _render(tmp_path)
    result = subprocess.run(
        [nginx, "-t", "-c", str(main), "-e", str(tmp_path / "error.log")], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def running_nginx(tmp_path):
    nginx = _nginx()
    main, var, port = _render(tmp_path)
    process = subprocess.Popen(
        [nginx, "-c", str(main), "-e", str(tmp_path / "error.log"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would win over verify=
    session.verify = str(tmp_path / "cert.pem")
    site = f"https://localhost:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            session.get(site + "/healthz", timeout=2)
            break
        except requests.ConnectionError:
            assert time.monotonic() < deadline, (tmp_path / "error.log").read_text()
            time.sleep(0.1)
    try:
        yield session, site, var, tmp_path / "access.log"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _log_lines(log: Path, count: int) -> str:
    deadline = time.monotonic() + 5
    while len(log.read_text().splitlines()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return log.read_text()


def test_the_access_log_masks_tokens_signatures_and_addresses(running_nginx):
    session, site, _, log = running_nginx
    before = len(log.read_text().splitlines())
    for path in (
        "/s/shareTOKENaaaa1111",
        "/s/shareTOKENbbbb2222/download",
        "/approve/approveTOKENcccc3333/verify",
        "/enroll/enrollTOKENdddd4444/",
        "/api/documents/7/download?inline=1&sig=SIGNATUREeeee5555",
        "/api/documents/7/download?sig=SIGNATUREffff6666&inline=1",
    ):
        session.get(site + path, timeout=5)
    text = _log_lines(log, before + 6)
    for secret in ("aaaa1111", "bbbb2222", "cccc3333", "dddd4444", "eeee5555", "ffff6666"):
        assert secret not in text
    for masked in (
        '"uri":"/s/***"',
        '"uri":"/s/***/download"',
        '"uri":"/approve/***/verify"',
        '"uri":"/enroll/***/"',
        '"uri":"/api/documents/7/download?inline=1&sig=***"',
        '"uri":"/api/documents/7/download?sig=***&inline=1"',
    ):
        assert masked in text
    assert '"client":"127.0.0.0"' in text


def test_with_the_app_down_status_is_the_published_page(running_nginx):
    session, site, var, _ = running_nginx
    # Nothing listens on the web or ops ports: every other page is nginx's 502.
    assert session.get(site + "/login/", timeout=5).status_code == 502
    assert session.get(site + "/status", timeout=5).status_code == 503  # nothing published yet
    (var / "status" / "index.html").write_text("<h2>DocuID is not answering right now</h2>")
    page = session.get(site + "/status", timeout=5)
    assert page.status_code == 200 and "not answering" in page.text
    assert page.headers["Cache-Control"] == "no-store"


def test_with_web_down_every_other_page_says_so_and_points_to_status(running_nginx):
    session, site, var, _ = running_nginx
    assert "Service status" not in session.get(site + "/login/", timeout=5).text  # not collected: nginx's own
    page_dir = var / "staticfiles" / "errors"
    page_dir.mkdir(parents=True)
    (page_dir / "app-down.html").write_bytes((REPO / "static" / "errors" / "app-down.html").read_bytes())
    page = session.get(site + "/documents/", timeout=5)
    assert page.status_code == 502  # still an error for clients and monitors
    assert "DocuID is not answering right now" in page.text and 'href="/status"' in page.text
    assert page.headers["Cache-Control"] == "no-store"


def test_only_the_sites_name_reaches_the_app(running_nginx):
    session, site, _, _ = running_nginx
    # Any other name (127.0.0.1, which DocuID trusts for local scrapes) is refused at the TLS handshake.
    with pytest.raises(requests.exceptions.SSLError):
        session.get(site.replace("localhost", "127.0.0.1") + "/status", timeout=5, verify=False)
