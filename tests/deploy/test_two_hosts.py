"""Two app hosts behind nginx, sharing PostgreSQL, Redis and an S3 store (issue #16, item 4).

deploy/two-hosts/stack.py brings the stack up as docs/DEPLOYMENT.md says: gunicorn "host A" and
"host B" (DEBUG=0, a var dir, a metrics dir and a log each, one SECRET_KEY), a Celery worker on
host A, nginx over TLS with both hosts in its upstream, one database of its own on the test run's
PostgreSQL server, one Redis database of its own, and moto's S3 server (a real process speaking
the S3 protocol; DocuID talks to it through django-storages' S3 backend, DOCUID_STORAGE=s3).
Every request below is real HTTP, to one host directly (as nginx sends it: Host, X-Forwarded-Proto)
or through nginx, with the session cookie carried by hand from one to the other.

Marked slow and postgres; in CI (CI=true) a missing tool or service fails it.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml

from tests.conftest import require
from tests.deploy import stacks
from tests.deploy.test_alerting_e2e import RULES
from tests.deploy.test_prod_drill import DEMO_PHONE, wait_for
from tests.documents.pdf_builder import pdf_with_text
from tests.processes import ROOT, process

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(300)]

STACK = ROOT / "deploy" / "two-hosts" / "stack.py"
PYTHON = str(Path(sys.executable).parent / "python")
API_LIST_LIMIT = 6  # DOCUID_API_RATE_LIST for the stack: 6 a day, exhausted half on each host
HOSTS = ("a", "b")


class Stack:
    def __init__(self, info: dict, env: dict[str, str], state_dir: Path):
        self.info, self.env, self.dir = info, env, state_dir
        self.site, self.cert = info["site"], info["cert"]

    def url(self, target: str) -> str:
        return self.site if target == "lb" else self.info["hosts"][target]["url"]

    def manage(self, *args: str) -> str:
        """manage.py with host A's environment (deploy/two-hosts/stack.py manage); its output."""
        done = subprocess.run(
            [PYTHON, str(STACK), "manage", *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return done.stdout

    def log(self, name: str) -> str:
        return (self.dir / "log" / f"{name}.log").read_text(errors="replace")

    def s3_objects(self) -> dict[str, bytes]:
        """Every object in the stack's bucket, read back over the S3 protocol."""
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=self.info["s3"]["endpoint"],
            region_name="us-east-1",
            aws_access_key_id="docuid-two-hosts",
            aws_secret_access_key="not-a-secret",
        )
        bucket = self.info["s3"]["bucket"]
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}

    def var_files(self) -> list[Path]:
        """Files in the hosts' var dirs other than static files and metrics (where documents must not be)."""
        return [
            path
            for host in HOSTS
            for path in Path(self.info["hosts"][host]["var_dir"]).rglob("*")
            if path.is_file() and "staticfiles" not in path.parts and not path.parent.name.startswith("prometheus")
        ]

    def metric(self, host: str, route: str) -> float:
        """api_latency_ms_count of GET `route` on one host's /metrics (all its gunicorn workers)."""
        from prometheus_client.parser import text_string_to_metric_families

        text = requests.get(self.url(host) + "/metrics", timeout=30).text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            if family.name == "api_latency_ms"
            for sample in family.samples
            if sample.name == "api_latency_ms_count" and sample.labels.get("route") == route
        )


class Browser:
    """One person's browser; its cookies go wherever it is pointed: host A, host B or nginx ("lb")."""

    def __init__(self, stack: Stack):
        self.stack, self.cookies = stack, {}
        self.http = requests.Session()
        self.http.trust_env = False  # no proxy, no REQUESTS_CA_BUNDLE

    def request(self, target: str, method: str, path: str, headers: dict | None = None, **kwargs):
        sent = {"Referer": self.stack.site + "/", **(headers or {})}
        if target != "lb":
            # What nginx would add: the site's name and the original scheme (DOCUID_BEHIND_PROXY=1).
            sent |= {"Host": "localhost", "X-Forwarded-Proto": "https"}
        else:
            kwargs["verify"] = self.stack.cert
        if self.cookies:
            # By hand: the cookies are Secure and for "localhost", which a cookie jar keeps from 127.0.0.1.
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        response = self.http.request(
            method, self.stack.url(target) + path, headers=sent, allow_redirects=False, timeout=60, **kwargs
        )
        self.cookies |= {cookie.name: cookie.value for cookie in response.cookies}
        return response

    def get(self, target: str, path: str, **kwargs):
        return self.request(target, "GET", path, **kwargs)

    def post(self, target: str, path: str, data: dict | None = None, **kwargs):
        return self.request(target, "POST", path, data={"csrfmiddlewaretoken": self.csrf, **(data or {})}, **kwargs)

    @property
    def csrf(self) -> str:
        return self.cookies["csrftoken"]

    def sign_in(self, *, start: str, poll: str, finish: str) -> None:
        """The simulator sign-in, its three steps on the hosts given."""
        assert self.get(start, "/login/").status_code == 200
        started = self.post(start, "/login/", {"phone_number": DEMO_PHONE})
        assert started.status_code == 302, started.text[:500]
        wait_path = urlsplit(started.headers["Location"]).path
        request_id = re.search(r"/login/wait/([0-9a-f-]+)/", wait_path)[1]

        def approved():
            status = self.get(poll, f"/login/status/{request_id}").json()["status"]
            assert status in ("pending", "approved"), status
            return status == "approved"

        wait_for("the simulator's approval", approved, timeout=60, interval=0.5)
        assert self.get(finish, wait_path).status_code in (200, 302)
        assert "sessionid" in self.cookies

    def signed_in(self, target: str) -> bool:
        page = self.get(target, "/documents/")
        assert page.status_code in (200, 302), page.status_code
        return page.status_code == 200 and "/logout/" in page.text

    def upload(self, target: str, name: str, data: bytes, level: str) -> int:
        response = self.post(
            target,
            "/documents/upload/",
            {"security_level": level},
            files={"files": (name, data, "application/pdf")},
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 201, response.text[:500]
        return response.json()["results"][0]["id"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    for tool in ("nginx", "openssl"):
        require(tool, shutil.which(tool) is not None, "bash deploy/install-prod-tools.sh")
    for module in ("moto", "boto3", "flask"):
        available = subprocess.run([PYTHON, "-c", f"import {module}"], capture_output=True, check=False).returncode
        require(module, available == 0, "pip install -r requirements.txt")
    database_url = stacks.database_url("_two_hosts")
    # Not the suite's Redis database, nor the production drill's (15).
    redis_url = stacks.redis_url(os.environ.get("DOCUID_TWO_HOSTS_REDIS_DB", "14"))
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).flushdb()
    except redis.RedisError as exc:
        require("Redis", False, f"start redis-server ({exc})")
    stacks.drop_database(database_url)  # a previous run's leftovers would be uploads "already there"
    state_dir = tmp_path_factory.mktemp("two-hosts")
    env = stacks.stack_env()
    env |= {
        "DOCUID_TWO_HOSTS_DIR": str(state_dir),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DOCUID_BIOMETRIC_PROVIDER": "simulator",
        "DOCUID_ALLOW_SIMULATOR": "1",
        "DOCUID_SIMULATOR_APPROVE_DELAY_SECONDS": "0",
        "DOCUID_API_RATE_LIST": f"{API_LIST_LIMIT}/d",
        "WEB_CONCURRENCY": "1",  # one gunicorn worker a host: CI's 2 cores boot five Django processes as it is
    }
    try:
        with process([PYTHON, str(STACK), "up"], state_dir / "stack.log", env=env) as launcher:

            def up():
                assert launcher.poll() is None, (state_dir / "stack.log").read_text()[-4000:]
                return (state_dir / "stack.json").is_file()

            wait_for("the two-host stack", up, timeout=240, interval=0.5)
            the_stack = Stack(json.loads((state_dir / "stack.json").read_text()), env, state_dir)
            the_stack.manage("user_create", DEMO_PHONE, "--name", "Dana Demo")
            yield the_stack
    finally:
        stacks.drop_database(database_url)
        if os.environ.get("DOCUID_TWO_HOSTS_KEEP_LOGS"):
            shutil.copytree(state_dir / "log", os.environ["DOCUID_TWO_HOSTS_KEEP_LOGS"], dirs_exist_ok=True)


@pytest.fixture(scope="module")
def person(stack):
    """Signed in on host A (started there, polled through B)."""
    browser = Browser(stack)
    browser.sign_in(start="a", poll="b", finish="a")
    return browser


def test_a_session_made_on_host_a_carries_on_at_host_b_and_a_sign_out_on_b_ends_it_on_a(stack):
    browser = Browser(stack)
    browser.sign_in(start="a", poll="b", finish="a")
    assert browser.signed_in("b") and browser.signed_in("lb") and browser.signed_in("a")
    old_cookie = browser.cookies["sessionid"]

    assert browser.post("b", "/logout/").status_code == 302
    # The cookie the browser had before signing out, replayed on the other host and through nginx.
    browser.cookies["sessionid"] = old_cookie
    for target in ("a", "lb"):
        page = browser.get(target, "/documents/")
        assert page.status_code == 302 and "/login/" in page.headers["Location"], target


def test_the_shared_secrets_and_the_hosts_environments_are_for_their_owner_only(stack):
    files = [stack.dir / "host-a.env", stack.dir / "host-b.env", *(stack.dir / "secrets").iterdir()]
    assert {path.name for path in files} >= {"host-a.env", "host-b.env", "secret_key", "backup_key"}
    for path in files:
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is readable by others"
    # One SECRET_KEY for both hosts, and only the var dir, metrics dir and addresses differ.
    envs = [dict(line.split("=", 1) for line in (stack.dir / f"host-{h}.env").read_text().splitlines()) for h in HOSTS]
    assert envs[0]["SECRET_KEY"] == envs[1]["SECRET_KEY"] and len(envs[0]["SECRET_KEY"]) >= 50
    differ = {name for name in envs[0] if envs[0][name] != envs[1].get(name)}
    assert differ == {"DOCUID_VAR_DIR", "PROMETHEUS_MULTIPROC_DIR", "GUNICORN_BIND"}, differ


def test_a_document_uploaded_through_host_a_lives_in_the_object_store_and_host_b_sends_it(stack, person):
    data = pdf_with_text(lambda page: [f"Two hosts {uuid.uuid4().hex}"])
    document = person.upload("a", "two-hosts.pdf", data, "internal")

    for target in ("b", "lb"):
        downloaded = person.get(target, f"/documents/{document}/download/")
        assert downloaded.status_code == 200 and downloaded.content == data, target
    # In the bucket, read back over S3; on neither host's disk.
    stored = stack.s3_objects()
    assert [key for key, body in stored.items() if body == data and key.startswith("media/documents/")]
    assert not [path for path in stack.var_files() if path.read_bytes() == data]

    # The thumbnail: drawn by the worker on host A, stored in the bucket, sent by host B.
    def thumbnail():
        response = person.get("b", f"/documents/{document}/thumbnail/")
        assert response.status_code in (200, 404), response.status_code
        return response if response.status_code == 200 else None

    image = wait_for("the worker's thumbnail", thumbnail, timeout=120, interval=0.5)
    assert image.headers["Content-Type"] == "image/webp" and image.content[:4] == b"RIFF"
    assert image.content in stack.s3_objects().values()
    assert "rendition made" in stack.log("worker-a")
    assert "rendition made" not in stack.log("host-b")


def test_a_large_document_from_the_object_store_is_spooled_to_disk_not_held_in_a_workers_memory(stack, person):
    line = "Spooled " + "x" * 72
    data = pdf_with_text(lambda page: [f"{uuid.uuid4().hex} {line}"] * 800, pages=40)
    assert len(data) > 2 * 1024 * 1024
    document = person.upload("a", "large.pdf", data, "internal")
    assert person.get("b", f"/documents/{document}/download/").content == data
    # What a download reads through: django-storages' S3 file, over 2 MB in a temporary file.
    code = (
        "from django.core.files.storage import storages; from documents.models import Document; s = storages['default']; "
        f"f = Document.objects.get(pk={document}).current_version.file; f.open('rb'); f.read(1); "
        "print('storage:', type(s).__module__, type(s).__name__, f.file._file._rolled)"
    )
    shell = stack.manage("shell", "-c", code)
    assert "storage: storages.backends.s3 S3Storage True" in shell, shell


def test_a_confidential_pdf_uploaded_on_a_and_opened_on_b_is_stamped(stack, person):
    data = pdf_with_text(lambda page: [f"Confidential {uuid.uuid4().hex}"])
    document = person.upload("a", "confidential.pdf", data, "confidential")

    opened = person.get("b", f"/documents/{document}/open/")
    assert opened.status_code == 200 and opened.content.startswith(b"%PDF")
    stamp = opened.headers["X-DocuID-Stamp"]
    assert re.fullmatch(r"[0-9a-f]{12}", stamp)
    assert opened.content != data
    assert stamp.encode().hex().encode() in opened.content or b"Dana Demo".hex().encode() in opened.content
    # What is stored stays the original (the stamp is per request, per person).
    assert data in stack.s3_objects().values()


def test_an_api_rate_limit_is_one_budget_across_both_hosts(stack, person):
    def exhaust():
        """Spend the budget alternating A and B; None when a new window began meanwhile."""
        resets, targets, sent = set(), [], 0
        while True:
            target = HOSTS[sent % 2]
            response = person.get(target, "/api/v1/documents")
            assert response.status_code == 200, response.text[:300]
            sent += 1
            targets.append(target)
            resets.add(response.headers["X-RateLimit-Reset"])
            if response.headers["X-RateLimit-Remaining"] == "0":
                return targets if len(resets) == 1 else None

    targets = exhaust() or exhaust()
    assert targets, "the rate-limit window turned twice"
    assert {"a", "b"} <= set(targets)
    for target in ("a", "b", "lb"):
        refused = person.get(target, "/api/v1/documents")
        assert refused.status_code == 429, target
        body = refused.json()
        assert body["success"] is False and body["error"] == "RATE_LIMIT_EXCEEDED", body
        assert body["requestId"] == refused.headers["X-Request-ID"]
        assert int(refused.headers["Retry-After"]) >= 1


def test_each_host_counts_its_own_requests_and_together_they_count_all(stack):
    before = {host: stack.metric(host, "healthz") for host in HOSTS}
    direct = {"a": 3, "b": 2}
    for host, count in direct.items():
        for _ in range(count):
            assert requests.get(stack.url(host) + "/healthz", timeout=30).status_code == 200
    through_nginx = 6
    ids = []
    for _ in range(through_nginx):
        response = requests.get(stack.site + "/healthz", verify=stack.cert, timeout=30)
        assert response.status_code == 200
        ids.append(response.headers["X-Request-ID"])

    counted = {host: stack.metric(host, "healthz") - before[host] for host in HOSTS}
    assert sum(counted.values()) == sum(direct.values()) + through_nginx, counted
    # nginx's own log says which host each of its requests went to: each host counted exactly those.
    sent_to = _nginx_upstreams(stack, ids)
    for host in HOSTS:
        port = str(stack.info["ports"][f"HOST_{host.upper()}"])
        via_nginx = sum(1 for upstream in sent_to.values() if upstream.endswith(f":{port}"))
        assert counted[host] == direct[host] + via_nginx, (host, counted, sent_to)
        assert via_nginx >= 1, f"nginx sent nothing to host {host.upper()}: {sent_to}"


def test_request_ids_and_masked_json_logs_stay_with_the_host_that_answered(stack, person):
    probes = {host: f"two-hosts-{host}-{uuid.uuid4().hex[:12]}" for host in HOSTS}
    for host, request_id in probes.items():
        assert requests.get(stack.url(host) + "/healthz", headers={"X-Request-ID": request_id}, timeout=30).ok
    ids = [
        requests.get(stack.site + "/readyz", verify=stack.cert, timeout=30).headers["X-Request-ID"] for _ in range(4)
    ]
    sent_to = _nginx_upstreams(stack, ids)

    logs = {host: stack.log(f"host-{host}") for host in HOSTS}
    for host, request_id in probes.items():
        other = "b" if host == "a" else "a"
        assert request_id in logs[host] and request_id not in logs[other]
    for request_id, upstream in sent_to.items():
        host = "a" if upstream.endswith(f":{stack.info['ports']['HOST_A']}") else "b"
        other = "b" if host == "a" else "a"
        assert request_id in logs[host] and request_id not in logs[other], (request_id, upstream)

    for host in HOSTS:
        lines = [line for line in logs[host].splitlines() if line.strip()]
        assert lines and all(json.loads(line).get("level") for line in lines), f"host {host.upper()}: not JSON"
    # The person signed in with the demo number: no log anywhere holds it in any spelling.
    national = DEMO_PHONE[2:]
    spellings = {DEMO_PHONE, DEMO_PHONE[1:], national, f"{national[:3]}-{national[3:6]}-{national[6:]}"}
    for name in ("host-a", "host-b", "worker-a", "nginx-access"):
        text = stack.log(name)
        assert not [s for s in spellings if s in text], name


def test_with_host_a_stopped_nginx_sends_everything_to_b_and_no_request_fails(stack, person):
    host_a = stack.url("a") + "/healthz"

    def a_answers() -> bool:
        try:
            return requests.get(host_a, timeout=10).status_code == 200
        except requests.ConnectionError:
            return False

    def ended(pid: int) -> bool:  # exited and reaped by the launcher
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    statuses = []
    master = int((stack.dir / "run" / "host-a.pid").read_text())
    os.kill(master, signal.SIGTERM)  # gunicorn's graceful stop
    try:
        deadline = time.monotonic() + 60
        while a_answers():  # requests keep coming while host A finishes what it has and goes
            assert time.monotonic() < deadline, "host A is still answering 60 s after SIGTERM"
            statuses.append(person.get("lb", "/documents/").status_code)
        ids = []
        for _ in range(4):
            page = person.get("lb", "/documents/")
            statuses.append(page.status_code)
            ids.append(page.headers["X-Request-ID"])
        data = pdf_with_text(lambda page: [f"Host A is down {uuid.uuid4().hex}"])
        document = person.upload("lb", "while-a-is-down.pdf", data, "internal")
        assert person.get("lb", f"/documents/{document}/download/").content == data
        assert set(statuses) == {200}, statuses
        port_b = f":{stack.info['ports']['HOST_B']}"
        assert all(upstream.endswith(port_b) for upstream in _nginx_upstreams(stack, ids).values())
    finally:
        # The launcher starts what has ended again on SIGHUP: host A is back for whatever runs next.
        wait_for("host A's gunicorn to end", lambda: ended(master), timeout=60, interval=0.2)
        os.kill(int((stack.dir / "run" / "launcher.pid").read_text()), signal.SIGHUP)
        wait_for("host A to answer again", a_answers, timeout=120, interval=0.5)
        port_a = f":{stack.info['ports']['HOST_A']}"

        def nginx_uses_a() -> bool:  # once its fail_timeout has passed
            request_id = requests.get(stack.site + "/healthz", verify=stack.cert, timeout=30).headers["X-Request-ID"]
            return _nginx_upstreams(stack, [request_id])[request_id].endswith(port_a)

        wait_for("nginx to send requests to host A again", nginx_uses_a, timeout=60, interval=0.5)


def _nginx_upstreams(stack: Stack, request_ids: list[str]) -> dict[str, str]:
    """request id -> the upstream address nginx's access log gives for it (written once each request is done)."""
    log = Path(stack.info["nginx_access_log"])

    def logged():
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        found = {line["request_id"]: line["upstream"] for line in lines if line["request_id"] in request_ids}
        return found if len(found) == len(request_ids) else None

    return wait_for("nginx's access log lines", logged, timeout=30, interval=0.2)


# --- DocuIDAppHostDown, end to end (on this module's stack, after the failover test) -----------
# A real Prometheus scrapes both hosts' /metrics every second and evaluates a copy of the shipped
# rule whose `for: 5m` is cut to FOR (nothing else changes). Host A's gunicorn is stopped (SIGTERM):
# the alert goes pending for host A only, fires FOR later, and resolves once the launcher has
# started host A again. The times seen are printed.

ALERT = "DocuIDAppHostDown"
FOR = "5s"


def _rules() -> str:
    """The shipped rule, `for:` cut to FOR."""
    rules = yaml.safe_load(RULES.read_text())
    kept = [rule for group in rules["groups"] for rule in group["rules"] if rule.get("alert") == ALERT]
    assert len(kept) == 1, f"{ALERT} is not in rules.yml once"
    assert kept[0]["for"] == "5m", "the shipped rule's `for:` changed: update the docs and this test"
    kept[0]["for"] = FOR
    return yaml.safe_dump({"groups": [{"name": "docuid.alerts", "rules": kept}]}, sort_keys=False)


def _alerts(port: int) -> dict[str, str]:
    """instance -> state (pending, firing) of every active DocuIDAppHostDown."""
    alerts = requests.get(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    return {a["labels"]["instance"]: a["state"] for a in alerts if a["labels"]["alertname"] == ALERT}


def _up(port: int) -> dict[str, float]:
    query = {"query": 'up{job="docuid"}'}
    result = requests.get(f"http://127.0.0.1:{port}/api/v1/query", params=query, timeout=5).json()["data"]["result"]
    return {r["metric"]["instance"]: float(r["value"][1]) for r in result}


def _ended(pid: int) -> bool:
    """Exited and reaped by the launcher."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_host_a_stopped_fires_the_alert_for_host_a_only_and_its_return_resolves_it(stack, tmp_path, capsys):
    hosts = {h: stack.info["hosts"][h]["url"].removeprefix("http://") for h in ("a", "b")}
    with stacks.prometheus(tmp_path, _rules(), {"docuid": list(hosts.values())}) as port:
        wait_for("both hosts scraped up", lambda: _up(port) == dict.fromkeys(hosts.values(), 1.0), 30, interval=0.5)
        assert _alerts(port) == {}

        master = int((stack.dir / "run" / "host-a.pid").read_text())
        stopped = time.monotonic()
        os.kill(master, signal.SIGTERM)  # gunicorn's graceful stop
        wait_for("host A pending", lambda: _alerts(port) == {hosts["a"]: "pending"}, 30, interval=0.25)
        pending = time.monotonic() - stopped
        wait_for("host A firing", lambda: _alerts(port) == {hosts["a"]: "firing"}, 60, interval=0.25)
        firing = time.monotonic() - stopped
        # Host B answered throughout: it never had an alert of its own.
        assert _up(port)[hosts["b"]] == 1.0

        # The launcher starts what has ended again on SIGHUP, once host A's gunicorn has gone.
        wait_for("host A's gunicorn to end", lambda: _ended(master), 60, interval=0.2)
        restarted = time.monotonic()
        os.kill(int((stack.dir / "run" / "launcher.pid").read_text()), signal.SIGHUP)
        wait_for("the alert to resolve", lambda: _alerts(port) == {}, 120, interval=0.25)
        resolved = time.monotonic() - restarted
    with capsys.disabled():  # shown in CI's output, pass or fail
        print(
            f"\n  {ALERT} (for: {FOR}, 1 s scrape and evaluation): pending {pending:.1f} s after host A stopped,"
            f" firing {firing:.1f} s; resolved {resolved:.1f} s after host A was started again"
        )
