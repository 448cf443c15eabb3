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
                    JSON {"code": exit code or null, "signal": signal or null, "truncated": bool}
                    the grandchild's answer (JSON bytes, possibly empty)
The zygote exits when its stdin closes (the parent exited, or dropped it).

This module imports nothing from Django.
"""

import contextlib
import gc
import json
import os
import resource
import signal
import struct
import sys
import tempfile

HEADER = struct.Struct(">I")
# The answer holds at most max_chars characters; JSON with ensure_ascii=False needs at most 6 bytes for one
# (a control character's \\uXXXX escape), plus the envelope.
ANSWER_SLACK = 64 * 1024


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
    # Objects imported so far are never collected: moving them out of the GC's generations keeps the
    # grandchildren's collections from touching (and copying) their pages.
    gc.collect()
    gc.freeze()
    while (request := read_frame(stdin)) is not None:
        params = json.loads(request)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the grandchild: never returns
            os.close(read_end)
            _grandchild(params, write_end, stdin, stdout)
        os.close(write_end)
        write_frame(stdout, json.dumps({"pid": pid}).encode())
        answer, truncated = _collect(read_end, _answer_cap(params), pid)
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        result = {"code": code if code >= 0 else None, "signal": -code if code < 0 else None, "truncated": truncated}
        write_frame(stdout, json.dumps(result).encode())
        write_frame(stdout, answer)


def _answer_cap(params: dict) -> int:
    return int(params["limits"]["max_chars"]) * 6 + ANSWER_SLACK


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

        data = json.dumps(answer(params), ensure_ascii=False).encode("utf-8", "replace")  # a lone surrogate becomes "?"
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
