"""Run one extraction in a limited grandchild of this process's extraction zygote.

Each OS process that extracts (a Celery prefork child, `search_reindex`, the web process
under `make run`) lazily spawns one zygote (documents.extraction.zygote): a fresh
`python -I` with no Django, no settings and no database connection, which has imported
every extractor once. Per file it forks one grandchild with RLIMIT_CPU, RLIMIT_AS and
RLIMIT_CORE in its own session; this side enforces the wall-clock limit and, on expiry,
kills the grandchild's whole process group (tesseract included). Per file the cost is a
fork (~2 ms), not an interpreter start and its imports (40-120 ms).

Fork safety: the zygote is never inherited. A process forked from one that has a zygote
(Celery's prefork pool) forgets it at fork and spawns its own on first use; the zygote
exits when its stdin closes, i.e. when the process that spawned it drops it or exits, and
is closed at interpreter exit. Threads of one process take turns (a lock).
"""

import atexit
import contextlib
import functools
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from documents.extraction import Limits
from documents.extraction.zygote import HEADER

PROJECT_ROOT = str(Path(__file__).resolve().parents[2])
ZYGOTE = f"import sys; sys.path.insert(0, {PROJECT_ROOT!r}); from documents.extraction.zygote import main; main()"
# How long the zygote may take to answer what is not the extraction itself: starting (imports), reporting the
# grandchild's pid, and reporting after the grandchild was killed.
START_SECONDS = 30
REPORT_SECONDS = 10
# What the grandchild needs after LibreOffice was stopped for taking too long (documents.office waits up to 5 s).
OFFICE_MARGIN_SECONDS = 10


@dataclass(frozen=True)
class Outcome:
    status: str  # done, failed, skipped
    text: str = ""
    extractor: str = ""
    error: str = ""
    reason: str = ""
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # the grandchild's CPU time (with tesseract's or LibreOffice's) and the zygote's share


class ZygoteGone(Exception):
    """The zygote died or stopped answering; it is discarded and the next run starts another."""


class Zygote:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", ZYGOTE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd="/",
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "OMP_THREAD_LIMIT": "1"},
            start_new_session=True,  # a Ctrl-C meant for the command is not the zygote's
        )
        self.owner = os.getpid()
        self.stdin = self.process.stdin.fileno()
        self.stdout = self.process.stdout.fileno()
        self.buffer = bytearray()
        self.poller = select.poll()
        self.poller.register(self.stdout, select.POLLIN)

    def send(self, data: bytes) -> None:
        view = memoryview(HEADER.pack(len(data)) + data)
        try:
            while view:
                view = view[os.write(self.stdin, view) :]
        except OSError as exc:  # BrokenPipeError: it died
            raise ZygoteGone from exc

    def receive(self, deadline: float) -> bytes | None:
        """The next frame, or None if the deadline passed first."""
        while True:
            if len(self.buffer) >= HEADER.size:
                size = HEADER.unpack_from(self.buffer)[0]
                if len(self.buffer) >= HEADER.size + size:
                    frame = bytes(self.buffer[HEADER.size : HEADER.size + size])
                    del self.buffer[: HEADER.size + size]
                    return frame
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            # poll, not select: a long-lived worker's descriptors may be numbered past select's 1024.
            if self.poller.poll(left * 1000):
                chunk = os.read(self.stdout, 1 << 20)
                if not chunk:
                    raise ZygoteGone
                self.buffer += chunk

    def receive_or_gone(self, deadline: float) -> bytes:
        frame = self.receive(deadline)
        if frame is None:
            raise ZygoteGone
        return frame

    def close(self, *, wait: float = 1.0) -> None:
        """Close its stdin (it exits by itself) and reap it; kill it if it lingers."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        try:
            self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(OSError):
            self.process.stdout.close()

    def forget(self) -> None:
        """In a forked child: drop the inherited pipe ends without touching the parent's zygote."""
        # Through the file objects, so each descriptor is closed exactly once (a bare os.close would leave the
        # object to close the same number again later, by then perhaps another file or socket).
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError, ValueError):
                stream.close()
        self.process.returncode = 0  # not ours to wait for


_lock = threading.Lock()
_zygote: Zygote | None = None


def _current() -> Zygote:
    global _zygote
    if _zygote is None or _zygote.owner != os.getpid() or _zygote.process.poll() is not None:
        if _zygote is not None and _zygote.owner == os.getpid():
            _zygote.close(wait=0)
        _zygote = Zygote()
    return _zygote


def _discard() -> None:
    global _zygote
    if _zygote is not None:
        _zygote.close(wait=0)
        _zygote = None


def _forget_after_fork() -> None:
    global _zygote, _lock
    _lock = threading.Lock()  # a thread of the parent may have held it at fork
    if _zygote is not None:
        _zygote.forget()
        _zygote = None


def zygote_pid() -> int | None:
    """This process's zygote, if it has one running (tests, diagnostics)."""
    if _zygote is None or _zygote.owner != os.getpid() or _zygote.process.poll() is not None:
        return None
    return _zygote.process.pid


def shutdown() -> None:
    """Stop this process's zygote (atexit; tests)."""
    global _zygote
    if _zygote is not None and _zygote.owner == os.getpid():
        _zygote.close()
    _zygote = None


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(shutdown)


def run(
    path: str, mime_type: str, limits: Limits, *, cpu_seconds: int, memory_mb: int, timeout_seconds: float
) -> Outcome:
    started = time.monotonic()
    # LibreOffice (legacy formats) runs in a session of its own, out of reach of the kill of the grandchild's
    # group: its own wall-clock limit must expire first.
    office_timeout = max(1, min(limits.office_timeout_seconds, int(timeout_seconds) - OFFICE_MARGIN_SECONDS))
    limits = replace(limits, office_timeout_seconds=office_timeout)
    request = json.dumps(
        {
            "path": path,
            "mime_type": mime_type,
            "limits": asdict(limits),
            "cpu_seconds": cpu_seconds,
            "memory_mb": memory_mb,
        }
    ).encode()
    with _lock:
        try:
            return _run(_current(), request, started, timeout_seconds)
        except ZygoteGone:
            # A zygote that died before this file reached a grandchild (killed by an operator, or exited
            # between files) is replaced, and the file tried once more.
            _discard()
        try:
            return _run(_current(), request, started, timeout_seconds)
        except ZygoteGone:
            _discard()
    return Outcome(
        "failed", error="Extraction stopped (the sandbox did not start).", reason="crashed", seconds=_since(started)
    )


def _run(zygote: Zygote, request: bytes, started: float, timeout_seconds: float) -> Outcome:
    zygote.send(request)
    pid = json.loads(zygote.receive_or_gone(time.monotonic() + START_SECONDS))["pid"]
    try:
        return _wait(zygote, pid, started, timeout_seconds)
    except ZygoteGone:
        # The zygote died while this file was being read: not retried (the file may be why).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        _discard()
        return Outcome(
            "failed", error="Extraction stopped (the sandbox died).", reason="crashed", seconds=_since(started)
        )


def _wait(zygote: Zygote, pid: int, started: float, timeout_seconds: float) -> Outcome:
    status = zygote.receive(started + timeout_seconds)
    if status is None:
        # Too long: kill the grandchild's group; the zygote then reports it (killed) and stays usable.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        zygote.receive_or_gone(time.monotonic() + REPORT_SECONDS)
        zygote.receive_or_gone(time.monotonic() + REPORT_SECONDS)
        return Outcome(
            "failed", error="Extraction took longer than allowed.", reason="timeout", seconds=_since(started)
        )
    answer = zygote.receive_or_gone(time.monotonic() + REPORT_SECONDS)
    seconds = _since(started)
    exit = json.loads(status)
    cpu = exit.get("cpu", 0.0) if isinstance(exit.get("cpu"), float) else 0.0
    failed = functools.partial(Outcome, "failed", seconds=seconds, cpu_seconds=cpu)
    if exit["truncated"]:
        return failed(error="Extraction gave more text than allowed.", reason="crashed")
    if exit["signal"] in (signal.SIGXCPU, signal.SIGKILL):
        return failed(error="Extraction used more CPU time than allowed.", reason="cpu")
    if exit["code"] == 71:
        return failed(error="The file needs more memory than allowed.", reason="memory")
    if exit["code"] != 0:
        return failed(error="Extraction stopped (memory limit or a damaged file).", reason="crashed")
    return _outcome(answer, seconds, cpu)


def _outcome(answer: bytes, seconds: float, cpu: float = 0.0) -> Outcome:
    """The grandchild's answer, checked: it ran on a hostile file, so it is data, never trusted for its shape."""
    reply = None
    if len(answer) >= HEADER.size:
        size = HEADER.unpack_from(answer)[0]
        if HEADER.size + size <= len(answer):
            with contextlib.suppress(ValueError):
                reply = json.loads(answer[HEADER.size : HEADER.size + size])
    fields = ("extractor", "error", "reason")
    if (
        not isinstance(reply, dict)
        or reply.get("status") not in ("done", "failed", "skipped")
        or not all(isinstance(reply.get(name, ""), str) for name in fields)
    ):
        return Outcome("failed", error="Extraction gave no answer.", reason="crashed", seconds=seconds, cpu_seconds=cpu)
    text = answer[HEADER.size + size :].decode("utf-8", "replace")
    return Outcome(
        reply["status"], text, **{name: reply.get(name, "") for name in fields}, seconds=seconds, cpu_seconds=cpu
    )


def _since(started: float) -> float:
    return time.monotonic() - started
