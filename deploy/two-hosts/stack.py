"""Two DocuID app hosts behind nginx on one machine, sharing PostgreSQL, Redis and an S3 store.

    .venv/bin/python deploy/two-hosts/stack.py up        # in the foreground; Ctrl-C (or SIGTERM) stops it all
    .venv/bin/python deploy/two-hosts/stack.py manage ARGS...   # manage.py with host A's environment
    kill $(cat var/two-hosts/run/host-a.pid)           # take host A away: nginx sends all to host B
    kill -HUP $(cat var/two-hosts/run/launcher.pid)    # start again whatever has ended

The shape of docs/DEPLOYMENT.md, "Topology: two app hosts": nginx (TLS, the shipped
deploy/nginx/docuid.conf with an upstream of both hosts) in front of gunicorn "host A" and
"host B", each with its own DOCUID_VAR_DIR, PROMETHEUS_MULTIPROC_DIR and log, DEBUG=0 and the
same SECRET_KEY; one Celery worker on host A; one PostgreSQL database (DATABASE_URL, created if
missing), one Redis (REDIS_URL) and one S3 bucket through django-storages' S3 backend
(DOCUID_STORAGE=s3). Without DOCUID_S3_ENDPOINT_URL the object store is moto's S3 server
(`python -m moto.server`, in memory: it forgets everything when stopped), a real process
speaking the S3 protocol on a port of its own.

State lives in DOCUID_TWO_HOSTS_DIR (default var/two-hosts): the secrets (made once), the
certificate, the rendered nginx files, a/ and b/ (each host's var dir and metrics dir), log/
(host-a.log, host-b.log, worker-a.log, s3.log, nginx-access.log, nginx-error.log) and
stack.json, written once everything answers, with the addresses a client needs.
Ports: DOCUID_TWO_HOSTS_<NAME>_PORT for NAME in HTTPS, HTTP, HOST_A, HOST_B, S3,
WORKER_METRICS; any not given is a free one (no fixed defaults: never 8000/8443/9090/9093 unasked).
Any other setting (DOCUID_API_RATE_LIST, DOCUID_BIOMETRIC_PROVIDER, WEB_CONCURRENCY...) is
passed to both hosts from this process's environment.
"""

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PORT_NAMES = ("HTTPS", "HTTP", "HOST_A", "HOST_B", "S3", "WORKER_METRICS")
HOSTS = ("a", "b")
READY_SECONDS = float(os.environ.get("DOCUID_TWO_HOSTS_READY_SECONDS", "180"))
STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"two-hosts [{time.monotonic() - STARTED:5.1f} s]: {message}", flush=True)


def state_dir() -> Path:
    path = Path(os.environ.get("DOCUID_TWO_HOSTS_DIR", "").strip() or ROOT / "var" / "two-hosts")
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_private(path: Path, text: str) -> None:
    """A file only this user can read, from its first byte (secrets, the hosts' environments)."""
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        handle.write(text)


def secret(directory: Path, name: str, make) -> str:
    """Made once and kept (0600): both hosts, and every later run, must share it."""
    path = directory / "secrets" / name
    if not path.is_file() or not path.read_text().strip():
        path.parent.mkdir(mode=0o700, exist_ok=True)
        write_private(path, make())
    return path.read_text().strip()


# --- configuration --------------------------------------------------------------------------------


def host_envs(directory: Path, ports: dict[str, int], s3_endpoint: str) -> dict[str, dict[str, str]]:
    site = f"https://localhost:{ports['HTTPS']}"
    database_url = os.environ.get("DATABASE_URL", "").strip()
    redis_url = os.environ.get("REDIS_URL", "").strip()
    if not database_url.startswith("postgres") or not redis_url.startswith("redis"):
        sys.exit("two-hosts: set DATABASE_URL=postgres://... and REDIS_URL=redis://... (shared by both hosts)")
    shared = {
        "DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "docuid.settings",
        "SECRET_KEY": secret(directory, "secret_key", lambda: secrets.token_urlsafe(50)),
        "DOCUID_BACKUP_KEY": os.environ.get("DOCUID_BACKUP_KEY", "").strip()
        or secret(directory, "backup_key", lambda: base64.b64encode(os.urandom(32)).decode()),
        "ALLOWED_HOSTS": "localhost",
        "CSRF_TRUSTED_ORIGINS": site,
        "DOCUID_SITE_URL": site,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DOCUID_STORAGE": "s3",
        "DOCUID_S3_ENDPOINT_URL": s3_endpoint,
        "DOCUID_S3_BUCKET": os.environ.get("DOCUID_S3_BUCKET", "").strip() or "docuid",
        "DOCUID_S3_REGION": os.environ.get("DOCUID_S3_REGION", "").strip() or "us-east-1",
        # moto accepts any key; a real store's come from the environment (or an instance role).
        "DOCUID_S3_ACCESS_KEY_ID": os.environ.get("DOCUID_S3_ACCESS_KEY_ID", "").strip() or "docuid-two-hosts",
        "DOCUID_S3_SECRET_ACCESS_KEY": os.environ.get("DOCUID_S3_SECRET_ACCESS_KEY", "").strip() or "not-a-secret",
        "DOCUID_BEHIND_PROXY": "1",
        "METRICS_ALLOWED_IPS": "127.0.0.1,::1",
        "DOCUID_LOG_FORMAT": "json",
        "EMAIL_BACKEND": os.environ.get("EMAIL_BACKEND", "").strip()
        or "django.core.mail.backends.console.EmailBackend",
        "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "").strip() or "2",
    }
    # Everything else in this environment reaches both hosts; what is set above wins.
    base = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    envs = {}
    for host in HOSTS:
        own = {
            "DOCUID_VAR_DIR": str(directory / host / "var"),
            "PROMETHEUS_MULTIPROC_DIR": str(directory / host / "prometheus-multiproc"),
            "GUNICORN_BIND": f"127.0.0.1:{ports['HOST_' + host.upper()]}",
            "CELERY_WORKER_METRICS_PORT": str(ports["WORKER_METRICS"]),
        }
        envs[host] = base | shared | own
        # A plain NAME=value file per host, to read and for `stack.py manage`.
        env_file = directory / f"host-{host}.env"
        write_private(env_file, "".join(f"{k}={v}\n" for k, v in (shared | own).items()))
    return envs


def make_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "tls" / "fullchain.pem", directory / "tls" / "privkey.pem"
    if not cert.is_file():
        cert.parent.mkdir(exist_ok=True)
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        key.chmod(0o600)
    return cert, key


def _replace(text: str, old: str, new: str) -> str:
    """Replace every `old`; fail loudly when the shipped file no longer has it."""
    if old not in text:
        raise SystemExit(
            f"two-hosts: deploy/nginx/docuid.conf has no {old!r} any more; update deploy/two-hosts/stack.py"
        )
    return text.replace(old, new)


def render_nginx(directory: Path, ports: dict[str, int], cert: Path, key: Path) -> Path:
    """The shipped server blocks, with both hosts in the upstreams and this stack's ports and paths."""
    conf = (ROOT / "deploy" / "nginx" / "docuid.conf").read_text()
    both = "".join(f"    server 127.0.0.1:{ports['HOST_' + h.upper()]} max_fails=1 fail_timeout=5s;\n" for h in HOSTS)
    # Each host serves /status and the webhook too (the same app): no separate ops process here.
    for old in ("    server 127.0.0.1:8000;\n", "    server 127.0.0.1:8001;\n"):
        conf = _replace(conf, old, both)
    for old, new in (
        ("listen 443 ", f"listen {ports['HTTPS']} "),
        ("listen 80 ", f"listen {ports['HTTP']} "),
        ("listen 80;", f"listen {ports['HTTP']};"),
        ("server_name docuid.example.com;", "server_name localhost;"),
        ("https://$host$request_uri", f"https://$host:{ports['HTTPS']}$request_uri"),
        ("/etc/ssl/docuid/fullchain.pem", str(cert)),
        ("/etc/ssl/docuid/privkey.pem", str(key)),
        # The balancer's own files: static (a copy of collectstatic's output) and the published status.
        ("/var/lib/docuid/", f"{directory / 'lb'}/"),
        ("/var/log/nginx/docuid.access.log", str(directory / "log" / "nginx-access.log")),
    ):
        conf = _replace(conf, old, new)
    nginx_dir = directory / "nginx"
    (nginx_dir / "temp").mkdir(parents=True, exist_ok=True)
    (nginx_dir / "docuid.conf").write_text(conf)
    temp = nginx_dir / "temp"
    main = nginx_dir / "nginx.conf"
    main.write_text(
        "# Generated by deploy/two-hosts/stack.py: the main file around deploy/nginx/docuid.conf.\n"
        + ("user root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes 2;\npid {directory / 'run' / 'nginx-master.pid'};\n"
        f"error_log {directory / 'log' / 'nginx-error.log'} warn;\n"
        "events { worker_connections 512; }\nhttp {\n"
        "    include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n    server_tokens off;\n"
        f"    client_body_temp_path {temp}/body;\n    proxy_temp_path {temp}/proxy;\n"
        f"    fastcgi_temp_path {temp}/fastcgi;\n    uwsgi_temp_path {temp}/uwsgi;\n    scgi_temp_path {temp}/scgi;\n"
        f"    include {nginx_dir / 'docuid.conf'};\n}}\n"
    )
    subprocess.run(
        ["nginx", "-t", "-q", "-e", str(directory / "log" / "nginx-error.log"), "-c", str(main)],
        check=True,
        timeout=30,
    )
    return main


def create_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            say(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')


def copy_tree(source: Path, target: Path) -> None:
    """collectstatic's output, as each host's release step would make it (identical, hashed names)."""
    shutil.rmtree(target, ignore_errors=True)

    def link_or_copy(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link_or_copy)


# --- processes ------------------------------------------------------------------------------------


class Processes:
    def __init__(self, directory: Path):
        self.log_dir, self.run_dir = directory / "log", directory / "run"
        self.running: dict[str, subprocess.Popen] = {}
        self.commands: dict[str, tuple[list[str], dict[str, str] | None]] = {}
        self.reported: set[str] = set()

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        self.commands[name] = (args, env)
        self.reported.discard(name)
        log = (self.log_dir / f"{name}.log").open("ab")
        # Same process group as this launcher: whoever stops the group stops every one of them.
        self.running[name] = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        # `kill $(cat run/host-a.pid)` takes one host away (nginx passes its requests to the other).
        (self.run_dir / f"{name}.pid").write_text(f"{self.running[name].pid}\n")

    def report_exits(self) -> None:
        """Once up, a process that ends is said once and the rest carry on (a host lost is a drill, not the end)."""
        for name, proc in self.running.items():
            if proc.poll() is not None and name not in self.reported:
                self.reported.add(name)
                say(f"{name} exited with {proc.returncode} (the rest carry on; see log/{name}.log)")

    def restart_exited(self) -> None:
        """SIGHUP: start again every process that has ended, as it was started."""
        for name, proc in list(self.running.items()):
            if proc.poll() is not None:
                say(f"starting {name} again")
                self.start(name, *self.commands[name])

    def check(self) -> None:
        for name, proc in self.running.items():
            if proc.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")

    def stop(self) -> None:
        for proc in self.running.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 30
        for proc in self.running.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for name in self.running:
            (self.run_dir / f"{name}.pid").unlink(missing_ok=True)


def wait_until(what: str, check, processes: Processes, timeout: float = READY_SECONDS) -> None:
    """Poll `check` (no fixed sleep: back off from 0.1 s to 1 s) until true; a dead process fails at once."""
    deadline, interval, last = time.monotonic() + timeout, 0.1, None
    while time.monotonic() < deadline:
        processes.check()
        try:
            if check():
                return
        except Exception as exc:  # noqa: BLE001 — not up yet: refused, reset, 5xx
            last = exc
        time.sleep(interval)
        interval = min(1.0, interval * 1.5)
    raise RuntimeError(f"{what} did not answer within {timeout:.0f} s (last error: {last!r})")


def http_ok(url: str, **kwargs) -> bool:
    import requests

    session = requests.Session()
    session.trust_env = False
    return session.get(url, timeout=5, **kwargs).status_code == 200


def ensure_bucket(endpoint: str, env: dict[str, str]) -> bool:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=env["DOCUID_S3_REGION"],
        aws_access_key_id=env["DOCUID_S3_ACCESS_KEY_ID"],
        aws_secret_access_key=env["DOCUID_S3_SECRET_ACCESS_KEY"],
    )
    names = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    if env["DOCUID_S3_BUCKET"] not in names:
        s3.create_bucket(Bucket=env["DOCUID_S3_BUCKET"])
    return True


def run_checked(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    out = log.open("ab")
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    out.close()
    return proc


def up() -> None:
    directory = state_dir()
    for sub in ("log", "run", "lb", *(f"{h}/var" for h in HOSTS)):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    (directory / "stack.json").unlink(missing_ok=True)
    ports = {
        name: int(os.environ.get(f"DOCUID_TWO_HOSTS_{name}_PORT", "").strip() or free_port()) for name in PORT_NAMES
    }
    own_s3 = not os.environ.get("DOCUID_S3_ENDPOINT_URL", "").strip()
    s3_endpoint = f"http://127.0.0.1:{ports['S3']}" if own_s3 else os.environ["DOCUID_S3_ENDPOINT_URL"].strip()
    envs = host_envs(directory, ports, s3_endpoint)
    cert, key = make_certificate(directory)
    nginx_conf = render_nginx(directory, ports, cert, key)
    create_database(envs["a"]["DATABASE_URL"])

    processes = Processes(directory)
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    restart = False

    def hangup(signum, frame):
        nonlocal restart
        restart = True

    signal.signal(signal.SIGHUP, hangup)
    (directory / "run" / "launcher.pid").write_text(f"{os.getpid()}\n")
    release: list[subprocess.Popen] = []
    try:
        if own_s3:
            processes.start("s3", [str(BIN / "python"), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(ports["S3"])])
        # The release step once (as the Procfile's `release`), migrate and collectstatic side by side;
        # check --deploy too, with webauthn in place of a demo's simulator (which it rightly refuses).
        python, log = str(BIN / "python"), directory / "log" / "release.log"
        checked = envs["a"] | {"DOCUID_BIOMETRIC_PROVIDER": "webauthn"}
        release += [
            run_checked([python, "manage.py", "migrate", "--noinput", "-v0"], envs["a"], log),
            run_checked([python, "manage.py", "collectstatic", "--noinput", "-v0"], envs["a"], log),
            run_checked([python, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], checked, log),
        ]
        if own_s3:
            wait_until("the S3 server", lambda: ensure_bucket(s3_endpoint, envs["a"]), processes)
        else:
            ensure_bucket(s3_endpoint, envs["a"])
        for proc in release:
            if proc.wait(timeout=600) != 0:
                raise RuntimeError(f"release step {proc.args[2:]} failed:\n{log.read_text()[-3000:]}")
        say("released (migrate, collectstatic, check --deploy)")
        static = Path(envs["a"]["DOCUID_VAR_DIR"]) / "staticfiles"
        copy_tree(static, Path(envs["b"]["DOCUID_VAR_DIR"]) / "staticfiles")
        copy_tree(static, directory / "lb" / "staticfiles")

        for host in HOSTS:
            gunicorn = [str(BIN / "gunicorn"), "docuid.wsgi", "-c", "deploy/gunicorn.conf.py"]
            processes.start(f"host-{host}", gunicorn, envs[host])
        processes.start("worker-a", [str(BIN / "celery"), "-A", "docuid", "worker", "-l", "INFO", "-c", "1",
                                     "-n", "worker-a@%h"], envs["a"])  # fmt: skip
        processes.start("nginx", ["nginx", "-c", str(nginx_conf), "-g", "daemon off;"])

        for host in HOSTS:
            port = ports["HOST_" + host.upper()]
            wait_until(f"host {host.upper()}", lambda p=port: http_ok(f"http://127.0.0.1:{p}/readyz"), processes)
            say(f"host {host.upper()} ready")
        site = f"https://localhost:{ports['HTTPS']}"
        wait_until("nginx", lambda: http_ok(f"{site}/readyz", verify=str(cert)), processes)
        metrics = f"http://127.0.0.1:{ports['WORKER_METRICS']}/metrics"
        wait_until("the worker", lambda: http_ok(metrics), processes)
        say("worker ready")

        stack = {
            "site": site,
            "cert": str(cert),
            "ports": ports,
            "s3": {"endpoint": s3_endpoint, "bucket": envs["a"]["DOCUID_S3_BUCKET"], "own": own_s3},
            "hosts": {
                host: {
                    "url": f"http://127.0.0.1:{ports['HOST_' + host.upper()]}",
                    "var_dir": envs[host]["DOCUID_VAR_DIR"],
                    "metrics_dir": envs[host]["PROMETHEUS_MULTIPROC_DIR"],
                    "log": str(directory / "log" / f"host-{host}.log"),
                }
                for host in HOSTS
            },
            "worker_log": str(directory / "log" / "worker-a.log"),
            "nginx_access_log": str(directory / "log" / "nginx-access.log"),
        }
        (directory / "stack.json").write_text(json.dumps(stack, indent=2))
        say(f"up: {site} (certificate {cert})")
        for host in HOSTS:
            say(f"host {host.upper()}: {stack['hosts'][host]['url']}  log {stack['hosts'][host]['log']}")
        say(f"S3: {s3_endpoint} bucket {stack['s3']['bucket']}; logs in {directory / 'log'}; Ctrl-C stops")
        while True:
            processes.report_exits()
            if restart:
                restart = False
                processes.restart_exited()
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("stopping")
    except Exception as exc:  # noqa: BLE001 — said once, then everything is stopped
        say(f"failed: {exc}")
        for proc in release:
            if proc.poll() is None:
                proc.kill()
        processes.stop()
        sys.exit(1)
    processes.stop()
    for name in ("stack.json", "run/launcher.pid"):
        (directory / name).unlink(missing_ok=True)


def manage(args: list[str]) -> None:
    env_file = state_dir() / "host-a.env"
    if not env_file.is_file():
        sys.exit(f"two-hosts: no {env_file}; run `stack.py up` first")
    env = dict(os.environ)
    for line in env_file.read_text().splitlines():
        name, _, value = line.partition("=")
        env[name] = value
    sys.exit(subprocess.run([str(BIN / "python"), "manage.py", *args], cwd=ROOT, env=env, check=False).returncode)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "up":
        up()
    elif command == "manage":
        manage(sys.argv[2:])
    else:
        sys.exit(__doc__)
