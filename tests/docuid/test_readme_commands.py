"""README's quick-start and admin/API commands, executed as written (issue #13).

`make run` is started in the background on a free port (the Makefile's PORT) with its own DOCUID_VAR_DIR,
polled on /healthz and stopped; the `manage.py` command lines are then run verbatim through the shell, in a
clean environment (no DEBUG, no SECRET_KEY, no DATABASE_URL), as a new person would after `make run`.
"""

import os
import re
import shlex
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")

pytestmark = pytest.mark.slow


def quick_start() -> str:
    start = README.index("## Quick start")
    return README[start : README.index("\n## ", start + 1)]


def fenced_commands(section: str) -> list[str]:
    commands = []
    for block in re.findall(r"```(?:sh|bash|shell)?\n(.*?)```", section, re.S):
        for line in block.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def inline_commands(section: str) -> list[str]:
    return [span for span in re.findall(r"`([^`\n]+)`", section) if span.startswith((".venv/bin/python ", "make "))]


def clean_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """What a new person's shell has: no DocuID settings at all, only this test's var dir."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    return {**env, "DOCUID_VAR_DIR": str(var_dir), **extra}


def wait_for_health(port: int, process: subprocess.Popen, log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"make run exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    pytest.fail(f"make run did not answer /healthz in {timeout} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def run_make_run(command: str, var_dir: Path, log: Path) -> str:
    """Start a README `make run` line on a free port, check it serves, then stop it; its output."""
    port = free_port()
    argv = shlex.split(command)
    env = clean_env(var_dir, PORT=str(port))
    # `make run PORT=8040` as documented, on a port that is free here.
    argv = [f"PORT={port}" if arg.startswith("PORT=") else arg for arg in argv]
    with log.open("w") as out:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for_health(port, process, log)
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/no-such-page", timeout=5)
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
        time.sleep(1)  # the dev server writes its access line after the response
    finally:
        stop(process)
    return log.read_text()


def test_readme_quick_start_and_admin_commands_run_as_written(tmp_path):
    section = quick_start()
    fenced = fenced_commands(section)
    inline = inline_commands(section)
    assert "make run" in fenced and "make test" in fenced
    make_runs = [c for c in fenced + inline if c.startswith("make run")]
    manage_lines = [c for c in inline if c.startswith(".venv/bin/python manage.py ")]
    assert any("PORT=" in c for c in make_runs), "README documents make run's PORT"
    assert {c.split()[2] for c in manage_lines} >= {"staff_bootstrap", "apiclient_create"}
    # `make test` is this suite itself: its target is checked, not run recursively.
    assert subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True).returncode == 0

    var_dir = tmp_path / "var"
    for index, command in enumerate(make_runs):
        output = run_make_run(command, var_dir, tmp_path / f"make-run-{index}.log")
        assert "DocuID is starting" in output
        assert not [line for line in output.splitlines() if line.lstrip().startswith('{"')], "raw JSON log lines"
        assert "audit events recorded" in output
        # The dev server's 4xx line keeps its status code and size (the PII masker used to eat them).
        assert re.search(r'"GET /no-such-page HTTP/1\.1" 404 \d+', output), output[-2000:]
    assert (var_dir / "dev.env").is_file()

    for command in manage_lines:
        result = subprocess.run(
            command, shell=True, cwd=ROOT, env=clean_env(var_dir), capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        if "staff_bootstrap" in command:
            assert "Password (shown once): " in result.stdout and "otpauth://totp/" in result.stdout
        if "apiclient_create" in command:
            assert "Office add-in" in result.stdout
