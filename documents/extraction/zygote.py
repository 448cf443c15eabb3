"""The extraction zygote: a long-lived, pre-imported process that forks one limited grandchild per file.

Starting a fresh interpreter per file and importing pypdfium2, openpyxl and Pillow in it
cost 40-120 ms, more than extracting most files. The zygote pays that once: it is spawned
(fork + exec of `python -I`, never a bare fork of a worker that holds database connections
or Django state) by documents.extraction.sandbox, imports every extractor, and then for each
request forks ONE grandchild. The grandchild starts its own session (so the parent can kill
its whole process group, tesseract included), applies RLIMIT_CPU / RLIMIT_AS / RLIMIT_CORE,
extracts, writes its answer to a pipe and exits. A hostile file can therefore exhaust or
crash only its grandchild; the zygote itself never parses a file.

Protocol on stdin/stdout, every message a frame (4-byte big-endian length, then the bytes):
  parent -> zygote: JSON request {path, mime_type, limits, cpu_seconds, memory_mb}
  zygote -> parent: JSON {"pid": grandchild pid}  (sent at once, so the parent can kill it)
                    JSON {"code": exit code or null, "signal": signal or null, "truncated": bool,
                          "cpu": CPU seconds the file cost}
                    the grandchild's answer (possibly empty): a frame of JSON {status, extractor, error,
                    reason}, then the text as UTF-8 up to the end
The zygote exits when its stdin closes (the parent exited, or dropped it).

This module imports nothing from Django.
"""

import contextlib
import fcntl
import gc
import json
import os
import resource
import signal
import struct
import sys
import tempfile

HEADER = struct.Struct(">I")
# The answer holds at most max_chars characters (at most 4 UTF-8 bytes each), plus its header.
ANSWER_SLACK = 64 * 1024
PIPE_BYTES = 1024 * 1024  # /proc/sys/fs/pipe-max-size, the most an unprivileged process may ask


def read_frame(fd: int) -> bytes | None:
    """One frame from `fd`, or None at end of file."""
    header = _read_exact(fd, HEADER.size)
    if header is None:
        return None
    body = _read_exact(fd, HEADER.unpack(header)[0])
    if body is None:
        return None
    return body


def write_frame(fd: int, data: bytes) -> None:
    view = memoryview(HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def preload() -> None:
    """Import every extractor and the libraries they use, once, before any fork."""
    # openpyxl parses sheets with the C parser instead of defusedxml's pure-Python one: the xlsx extractor
    # refuses any part with a DOCTYPE before openpyxl reads it (BoundedZip.refuse_doctypes), which is
    # stricter than defusedxml. Read by openpyxl at import, so set before it.
    os.environ["OPENPYXL_DEFUSEDXML"] = "False"
    import charset_normalizer  # noqa: F401
    import defusedxml.ElementTree  # noqa: F401
    import openpyxl
    import openpyxl.reader.excel  # noqa: F401
    import pypdfium2  # noqa: F401
    from PIL import Image, JpegImagePlugin, PngImagePlugin  # noqa: F401

    from documents.extraction import archive, child, images, ocr, odf, ooxml, pdf, registry, text  # noqa: F401

    Image.init()


def serve(stdin: int = 0, stdout: int = 1) -> None:
    """Answer requests until stdin closes."""
    preload()
    _widen(stdout)
    # Objects imported so far are never collected: moving them out of the GC's generations keeps the
    # grandchildren's collections from touching (and copying) their pages.
    gc.collect()
    gc.freeze()
    start = resource.getrusage(resource.RUSAGE_SELF)
    spent = start.ru_utime + start.ru_stime  # the imports are not any file's cost
    while (request := read_frame(stdin)) is not None:
        params = json.loads(request)
        read_end, write_end = os.pipe()
        _widen(read_end)
        pid = os.fork()
        if pid == 0:  # the grandchild: never returns
            os.close(read_end)
            _grandchild(params, write_end, stdin, stdout)
        os.close(write_end)
        write_frame(stdout, json.dumps({"pid": pid}).encode())
        answer, truncated = _collect(read_end, _answer_cap(params), pid)
        os.close(read_end)
        _, status, usage = os.wait4(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        own = resource.getrusage(resource.RUSAGE_SELF)
        result = {
            "code": code if code >= 0 else None,
            "signal": -code if code < 0 else None,
            "truncated": truncated,
            # CPU the file cost: the grandchild and what it waited for (tesseract, LibreOffice), and the
            # zygote's own share (the fork's page-table copy is charged to the zygote).
            "cpu": usage.ru_utime + usage.ru_stime + own.ru_utime + own.ru_stime - spent,
        }
        spent = own.ru_utime + own.ru_stime
        write_frame(stdout, json.dumps(result).encode())
        write_frame(stdout, answer)


def _widen(fd: int) -> None:
    """Grow a pipe's buffer (64 KB by default) towards 1 MB: a large answer then crosses in a few writes
    instead of a context switch per 64 KB, which on a busy machine is most of the sandbox's cost."""
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def _answer_cap(params: dict) -> int:
    return int(params["limits"]["max_chars"]) * 4 + ANSWER_SLACK


def _collect(fd: int, cap: int, pid: int) -> tuple[bytes, bool]:
    """Read the grandchild's answer; one that outgrows what its limits allow is cut and its writer killed."""
    chunks, size = [], 0
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            return b"", True
    return b"".join(chunks), False


def _grandchild(params: dict, answer_fd: int, stdin: int, stdout: int) -> None:
    code = 70
    try:
        os.setsid()  # its own session and process group: the parent kills the group on timeout
        # Neither the request pipe nor the zygote's answers are the grandchild's to touch.
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, stdin)
        os.dup2(devnull, stdout)
        os.close(devnull)
        cpu = int(params["cpu_seconds"])
        memory = int(params["memory_mb"]) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        folder = os.path.dirname(params["path"])
        os.chdir(folder)
        # Scratch files (rendered pages for OCR, tesseract's) go next to the input, in its private folder.
        os.environ["TMPDIR"] = folder
        tempfile.tempdir = folder
        from documents.extraction.child import answer

        reply = answer(params)
        # The text travels as raw UTF-8 after a small JSON header: JSON-escaping megabytes of text (and parsing
        # them back) cost more than the rest of the round trip. A lone surrogate becomes "?".
        text = reply.pop("text", "").encode("utf-8", "replace")
        header = json.dumps(reply).encode()
        data = HEADER.pack(len(header)) + header + text
        view = memoryview(data)
        while view:
            view = view[os.write(answer_fd, view) :]
        code = 0
    except MemoryError:
        code = 71
    except BaseException:  # noqa: BLE001 — whatever happens, the grandchild leaves through os._exit below
        code = 70
    finally:
        os._exit(code)


def main() -> None:
    # Terminal signals are not ours (the zygote runs in its own session); SIGPIPE stays Python's default.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        serve()
    sys.exit(0)


if __name__ == "__main__":
    main()
