"""Run one extraction in a child process with CPU, memory and wall-clock limits.

The child is a fresh interpreter (no Django, no database connection, no settings)
in its own session, so on timeout the whole group (tesseract included) is killed.
RLIMIT_CPU and RLIMIT_AS are inherited by what it starts.
"""

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from documents.extraction import Limits

PROJECT_ROOT = str(Path(__file__).resolve().parents[2])
CHILD = f"import sys; sys.path.insert(0, {PROJECT_ROOT!r}); from documents.extraction.child import main; main()"


@dataclass(frozen=True)
class Outcome:
    status: str  # done, failed, skipped
    text: str = ""
    extractor: str = ""
    error: str = ""
    reason: str = ""
    seconds: float = 0.0


def _limit(cpu_seconds: int, memory_mb: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        memory = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def run(
    path: str, mime_type: str, limits: Limits, *, cpu_seconds: int, memory_mb: int, timeout_seconds: int
) -> Outcome:
    started = time.monotonic()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "OMP_THREAD_LIMIT": "1",
        "TMPDIR": os.path.dirname(path),
    }
    process = subprocess.Popen(
        [sys.executable, "-I", "-c", CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=os.path.dirname(path),
        env=env,
        preexec_fn=_limit(cpu_seconds, memory_mb),
        start_new_session=True,
    )
    request = json.dumps({"path": path, "mime_type": mime_type, "limits": asdict(limits)}).encode()
    try:
        stdout, _ = process.communicate(request, timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        return Outcome(
            "failed", error="Extraction took longer than allowed.", reason="timeout", seconds=_since(started)
        )
    seconds = _since(started)
    if process.returncode != 0:
        if process.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
            return Outcome("failed", error="Extraction used more CPU time than allowed.", reason="cpu", seconds=seconds)
        return Outcome(
            "failed", error="Extraction stopped (memory limit or a damaged file).", reason="crashed", seconds=seconds
        )
    try:
        answer = json.loads(stdout)
    except ValueError:
        return Outcome("failed", error="Extraction gave no answer.", reason="crashed", seconds=seconds)
    return Outcome(
        status=answer["status"],
        text=answer.get("text", ""),
        extractor=answer.get("extractor", ""),
        error=answer.get("error", ""),
        reason=answer.get("reason", ""),
        seconds=seconds,
    )


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _since(started: float) -> float:
    return time.monotonic() - started
