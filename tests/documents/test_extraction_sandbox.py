"""The extraction zygote (documents.extraction.sandbox / zygote): one pre-imported process per OS process,
one limited grandchild per file, and what happens when either dies, hangs or is forked around."""

import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from documents.extraction import Limits, sandbox
from tests.documents.test_extraction import DOCX, XLSX, docx_bytes, xlsx_bytes, zip_bytes

ROOT = Path(__file__).resolve().parents[2]
LIMITS = {"cpu_seconds": 60, "memory_mb": 1024, "timeout_seconds": 30}


@pytest.fixture
def docx(tmp_path) -> str:
    path = tmp_path / "input"
    path.write_bytes(docx_bytes())
    return str(path)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def wait_gone(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def processes_using(path: str) -> list[int]:
    """Processes whose command line names `path` (tesseract reading a scan)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if path.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_one_zygote_serves_many_files_each_in_its_own_grandchild(docx):
    first = sandbox.run(docx, DOCX, Limits(), **LIMITS)
    zygote = sandbox.zygote_pid()
    second = sandbox.run(docx, DOCX, Limits(), **LIMITS)
    assert first.status == second.status == "done" and "rent monthly" in second.text
    assert zygote is not None and sandbox.zygote_pid() == zygote


def test_the_zygote_is_a_fresh_interpreter_without_django_or_database_connections(docx, db):
    from django.db import connection

    connection.ensure_connection()  # this process holds a database connection; the zygote must not
    sandbox.shutdown()
    assert sandbox.run(docx, DOCX, Limits(), **LIMITS).status == "done"
    pid = sandbox.zygote_pid()
    command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert command[1:3] == [b"-I", b"-c"] and b"zygote import main" in command[3]
    targets = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    assert not [t for t in targets if t.startswith("socket:")], targets
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert not [v for v in environ if v.startswith((b"DATABASE_URL", b"SECRET_KEY", b"DJANGO_"))]
    # Its own session: a Ctrl-C at the command's terminal is not delivered to it.
    assert os.getsid(pid) == pid


def test_a_zygote_killed_between_files_is_replaced(docx):
    assert sandbox.run(docx, DOCX, Limits(), **LIMITS).status == "done"
    old = sandbox.zygote_pid()
    os.kill(old, signal.SIGKILL)
    assert wait_gone(old)
    assert sandbox.run(docx, DOCX, Limits(), **LIMITS).status == "done"
    assert sandbox.zygote_pid() not in (None, old)


def test_a_zygote_that_dies_while_a_file_is_read_fails_that_file_and_the_next_one_works(tmp_path, docx):
    needs_slow_file = tmp_path / "big.xlsx"
    needs_slow_file.write_bytes(slow_xlsx())
    sandbox.run(docx, DOCX, Limits(), **LIMITS)
    zygote = sandbox.zygote_pid()
    killer = subprocess.Popen([sys.executable, "-c", f"import os, time, signal; time.sleep(0.3); os.kill({zygote}, 9)"])
    outcome = sandbox.run(str(needs_slow_file), XLSX, Limits(), **LIMITS)
    killer.wait()
    assert (outcome.status, outcome.reason) == ("failed", "crashed")
    assert sandbox.run(docx, DOCX, Limits(), **LIMITS).status == "done"


def test_a_timeout_kills_the_grandchilds_whole_group_and_keeps_the_zygote(tmp_path, docx):
    from tests.documents.test_extraction import needs_ocr, scan_png

    needs_ocr()
    from PIL import Image

    line = Image.open(io.BytesIO(scan_png("PELICAN INVOICE 12345")))
    page = Image.new("L", (line.width, line.height * 40), 255)
    for row in range(40):
        page.paste(line, (0, row * line.height))
    scan = tmp_path / "scan.png"
    page.save(scan)
    sandbox.run(docx, DOCX, Limits(), **LIMITS)
    zygote = sandbox.zygote_pid()
    outcome = sandbox.run(str(scan), "image/png", Limits(), cpu_seconds=60, memory_mb=1024, timeout_seconds=0.5)
    assert (outcome.status, outcome.reason) == ("failed", "timeout")
    # tesseract, started by the grandchild in the grandchild's group, went with it.
    deadline = time.monotonic() + 5
    while processes_using(str(scan)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_using(str(scan)) == []
    assert sandbox.zygote_pid() == zygote
    assert sandbox.run(docx, DOCX, Limits(), **LIMITS).status == "done"


def slow_xlsx(rows: int = 60_000) -> bytes:
    """A workbook of inline-string cells, written as XML directly: seconds of openpyxl parsing."""
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes()))
    parts = {name: source.read(name) for name in source.namelist()}
    cells = "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>cell {n}</t></is></c>'
        f'<c r="B{n}" t="inlineStr"><is><t>more {n}</t></is></c><c r="C{n}"><v>{n}</v></c></row>'
        for n in range(1, rows + 1)
    )
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    parts["xl/worksheets/sheet1.xml"] = f'<worksheet xmlns="{ns}"><sheetData>{cells}</sheetData></worksheet>'
    return zip_bytes(parts)


def test_the_cpu_limit_stops_a_grandchild_that_computes_too_long(tmp_path):
    path = tmp_path / "input"
    path.write_bytes(slow_xlsx())
    outcome = sandbox.run(str(path), XLSX, Limits(), cpu_seconds=1, memory_mb=1024, timeout_seconds=60)
    assert (outcome.status, outcome.reason) == ("failed", "cpu")
    assert outcome.seconds < 10
    # About the second it was allowed, as the zygote measured it (the kernel's sampled accounting runs a bit low).
    assert 0.5 <= outcome.cpu_seconds < 3


def test_a_forked_process_gets_its_own_zygote_and_leaves_its_parents_alone(docx):
    # Celery's prefork pool forks its children from a parent that may have extracted already.
    assert sandbox.run(docx, DOCX, Limits(), **LIMITS).status == "done"
    parents = sandbox.zygote_pid()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover — runs in the forked child
        code = 1
        try:
            os.close(read_end)
            ok = sandbox.zygote_pid() is None and sandbox.run(docx, DOCX, Limits(), **LIMITS).status == "done"
            os.write(write_end, f"{int(ok)} {sandbox.zygote_pid()}".encode())
            sandbox.shutdown()
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    ok, childs = os.read(read_end, 100).decode().split()
    os.close(read_end)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0 and ok == "1"
    assert int(childs) != parents and wait_gone(int(childs))
    assert sandbox.zygote_pid() == parents and alive(parents)
    assert sandbox.run(docx, DOCX, Limits(), **LIMITS).status == "done"


def test_the_zygote_exits_with_the_process_that_started_it_even_without_cleanup(docx):
    # os._exit: no atexit handler runs (a crashed or killed worker); the zygote sees its stdin close.
    script = (
        f"import sys, os; sys.path.insert(0, {str(ROOT)!r})\n"
        "from documents.extraction import Limits, sandbox\n"
        f"outcome = sandbox.run({docx!r}, {DOCX!r}, Limits(), cpu_seconds=60, memory_mb=1024, timeout_seconds=30)\n"
        "print(outcome.status, sandbox.zygote_pid(), flush=True)\n"
        "os._exit(0)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    status, pid = done.stdout.split()
    assert status == "done"
    assert wait_gone(int(pid))


def framed(header: bytes, text: bytes = b"") -> bytes:
    return len(header).to_bytes(4, "big") + header + text


@pytest.mark.parametrize(
    "answer",
    [
        b"",
        b"\x00\x00",
        framed(b"not json"),
        framed(b"[1, 2]"),
        framed(b'{"status": "owned"}'),
        framed(b'{"status": "done", "error": 5}'),
        b"\x7f\xff\xff\xff" + b'{"status": "done"}',  # a header longer than the answer
        framed(b"\xff\xfe"),
    ],
    ids=["empty", "short", "not-json", "a-list", "unknown-status", "error-not-a-string", "header-overruns", "not-utf8"],
)
def test_a_grandchilds_malformed_answer_is_a_failure_never_an_exception(answer):
    outcome = sandbox._outcome(answer, 0.1)
    assert (outcome.status, outcome.reason) == ("failed", "crashed")


def test_a_grandchilds_text_that_is_not_utf8_is_decoded_with_replacements():
    outcome = sandbox._outcome(framed(b'{"status": "done", "extractor": "text"}', b"caf\xe9 ok"), 0.1)
    assert (outcome.status, outcome.text, outcome.extractor) == ("done", "caf\ufffd ok", "text")


def test_a_large_text_crosses_the_sandbox_intact(tmp_path):
    text = "".join(f"line {n} é 漢字 🙂\n" for n in range(100_000))  # ~2.3 MB of UTF-8, several pipe buffers
    path = tmp_path / "input"
    path.write_text(text, encoding="utf-8")
    outcome = sandbox.run(str(path), "text/plain", Limits(), **LIMITS)
    assert outcome.status == "done" and outcome.text == text.strip()


def test_an_answer_longer_than_its_limits_allow_is_cut_and_its_writer_killed():
    # A grandchild taken over by a hostile file could write without end: the zygote stops reading at the cap.
    from documents.extraction import zygote

    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover — the forked writer
        os.setsid()
        os.close(read_end)
        try:
            while True:
                os.write(write_end, b"x" * 65536)
        finally:
            os._exit(0)
    os.close(write_end)
    answer, truncated = zygote._collect(read_end, 1_000_000, child)
    os.close(read_end)
    _, status = os.waitpid(child, 0)
    assert (answer, truncated) == (b"", True)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def test_a_worker_with_more_than_1024_open_files_still_extracts(docx):
    # A long-lived worker can hold many descriptors; the zygote's pipes then get numbers select() cannot watch.
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        sandbox.shutdown()
        assert sandbox.run(docx, DOCX, Limits(), **LIMITS).status == "done"
        assert sandbox._zygote.stdout > 1024
    finally:
        for fd in held:
            os.close(fd)
        sandbox.shutdown()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
