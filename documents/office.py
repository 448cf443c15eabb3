"""Convert one Office/OpenDocument file with LibreOffice headless, in a contained child process.

Pure module (no Django): the worker calls it for renditions (documents.renditions) and the
extraction sandbox child may call it for legacy formats. Each conversion gets:

* a private working folder with its own LibreOffice profile (``-env:UserInstallation``), so
  conversions never share state, lock each other out or inherit a poisoned profile; the
  profile sets macro security to "very high" and never updates links (external data, OLE
  links, linked images), so a document cannot pull in another file or a URL. With
  ``reuse_profile=True`` (long-lived callers: the worker) each profile is a copy of a seed
  this process initialised once from a text file of its own (never from an upload):
  LibreOffice's first start in an empty profile costs ~0.3 s of CPU a conversion, which the
  copy (a few ms) saves; short-lived callers (the extraction sandbox's grandchild) start
  from an empty profile;
* its own session/process group, killed as a whole (oosplash + soffice.bin) on timeout;
* RLIMIT_CPU, RLIMIT_AS (address space), RLIMIT_FSIZE (largest file it may write) and no core
  dumps, inherited by everything it starts;
* no network: a new, empty network namespace (``unshare --net``; as another user,
  ``unshare --user --map-root-user --net``) when the kernel allows it;
* when run as root (the worker of ``make prod`` and CI), LibreOffice runs as ``nobody``
  (``setpriv``), so a file that tries to read the service's secrets (a linked file, a field)
  cannot — the input is copied into the private folder for that reason;
* a minimal environment: no ``SECRET_KEY``, ``DATABASE_URL`` or any other variable of ours.

Failures raise :class:`ConversionError` with a ``reason`` (``timeout``, ``cpu``, ``crashed``,
``failed``, ``unavailable``) and a message safe to show to the document's owner.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

logger = logging.getLogger("docuid.documents.office")

# Formats LibreOffice renders to PDF for us; everything else (PDF, images, text) needs no rendition.
SOURCE_EXTENSIONS = frozenset({"docx", "xlsx", "pptx", "odt", "ods", "odp", "doc", "xls", "ppt"})
NOBODY = 65534
DEFAULT_MAX_OUTPUT_MB = 512

# A profile that never runs macros and never fetches linked content (Writer/Calc "update links":
# 2 = never; Impress/Draw have no automatic update). Written into each fresh profile before start.
REGISTRY = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>2</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>2</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="FirstRun" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="UseLocking" oor:op="fuse"><value>false</value></prop></item>
</oor:items>
"""


class ConversionError(Exception):
    """The conversion did not produce a file; ``reason`` is a short label for metrics."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def soffice_binary() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def available() -> bool:
    return soffice_binary() is not None


def _probe(command: list[str]) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.cache
def isolation() -> tuple[str, tuple[str, ...]]:
    """How conversions are contained here: (mode, command prefix). Probed once per process.

    Modes: ``netns+nobody`` (root: own network namespace, run as nobody), ``userns`` (an
    unprivileged user namespace with its own network), ``none`` (neither is allowed: the
    limits still apply, the network does not get cut — operations guide says how to check).
    """
    unshare, setpriv = shutil.which("unshare"), shutil.which("setpriv")
    if os.geteuid() == 0 and unshare and setpriv and _probe([unshare, "--net", "true"]):
        prefix = (
            unshare,
            "--net",
            setpriv,
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            "--no-new-privs",
        )
        return "netns+nobody", prefix
    if unshare and _probe([unshare, "--user", "--map-root-user", "--net", "true"]):
        return "userns", (unshare, "--user", "--map-root-user", "--net")
    logger.warning("office conversions run without network isolation (unshare not permitted)")
    return "none", ()


_seeds: dict[int, Path | None] = {}
_seed_lock = threading.Lock()
SEED_PREFIX = "docuid-office-seed-"


def _seed_profile(binary: str, memory_mb: int) -> Path | None:
    """An initialised profile to copy for each conversion, made once per process; None if that fails.

    Keyed by process id: a forked worker child makes its own rather than share its parent's
    folder (which the parent removes when it exits). A process killed before its atexit ran
    leaves its seed behind: the next one made removes those of processes that are gone.
    """
    pid = os.getpid()
    with _seed_lock:
        if pid in _seeds:
            return _seeds[pid]
        _sweep_dead_seeds()
        seed = Path(tempfile.mkdtemp(prefix=f"{SEED_PREFIX}{pid}-"))
        try:
            (seed / "profile" / "user").mkdir(parents=True)
            (seed / "profile" / "user" / "registrymodifications.xcu").write_text(REGISTRY)
            (seed / "seed.txt").write_text("DocuID\n")
            env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(seed), "TMPDIR": str(seed), "LANG": "C.UTF-8"}
            command = [
                binary,
                f"-env:UserInstallation={(seed / 'profile').as_uri()}",
                *("--headless", "--invisible", "--nodefault", "--nologo", "--norestore", "--nolockcheck"),
                *("--convert-to", "pdf", "--outdir", str(seed), str(seed / "seed.txt")),
            ]
            _run(command, env, seed, 60, 60, memory_mb, DEFAULT_MAX_OUTPUT_MB)
            for leftover in ("seed.txt", "seed.pdf"):
                (seed / leftover).unlink(missing_ok=True)
            (seed / "profile" / "user" / ".lock").unlink(missing_ok=True)
            # Our settings must have survived LibreOffice rewriting the file at exit.
            if "MacroSecurityLevel" not in (seed / "profile" / "user" / "registrymodifications.xcu").read_text():
                raise ConversionError("failed", "the seed profile lost its settings")
            atexit.register(_remove_seed, pid, seed)
            _seeds[pid] = seed / "profile"
        except (ConversionError, OSError):
            logger.warning("office conversions start from empty profiles (the seed profile could not be made)")
            shutil.rmtree(seed, ignore_errors=True)
            _seeds[pid] = None
        return _seeds[pid]


def _remove_seed(pid: int, seed: Path) -> None:
    if os.getpid() == pid:
        shutil.rmtree(seed, ignore_errors=True)


def _sweep_dead_seeds() -> None:
    for folder in Path(tempfile.gettempdir()).glob(f"{SEED_PREFIX}*-*"):
        try:
            owner_pid = int(folder.name[len(SEED_PREFIX) :].split("-", 1)[0])
            if folder.stat().st_uid != os.geteuid():
                continue
            os.kill(owner_pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (ValueError, OSError):
            continue


def _limits(cpu_seconds: int, memory_mb: int, max_output_mb: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        memory = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        output = max_output_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (output, output))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def convert(
    src_path: str | os.PathLike,
    target_ext: str,
    out_dir: str | os.PathLike,
    *,
    timeout_seconds: int,
    memory_mb: int,
    source_ext: str | None = None,
    cpu_seconds: int | None = None,
    max_output_mb: int = DEFAULT_MAX_OUTPUT_MB,
    reuse_profile: bool = False,
) -> Path:
    """Convert ``src_path`` to ``target_ext`` (e.g. "pdf") and return the new file in ``out_dir``.

    ``source_ext`` names the input's real type when its file name has none (stored files are
    random keys): LibreOffice picks its import filter from the name first. The output is
    ``out_dir/document.<target_ext>``, replaced if present.
    """
    binary = soffice_binary()
    if binary is None:
        raise ConversionError("unavailable", "LibreOffice is not installed on this server.")
    src = Path(src_path)
    extension = (source_ext or src.suffix.lstrip(".")).lower()
    if extension not in SOURCE_EXTENSIONS:
        raise ConversionError("failed", f"Files of type '{extension or 'unknown'}' are not converted.")
    mode, prefix = isolation()
    seed = _seed_profile(binary, memory_mb) if reuse_profile else None
    work = Path(tempfile.mkdtemp(prefix="docuid-office-"))
    try:
        profile, inbox, outbox, tmp = (work / name for name in ("profile", "in", "out", "tmp"))
        for folder in (inbox, outbox, tmp):
            folder.mkdir(parents=True)
        if seed is not None:
            shutil.copytree(seed, profile, symlinks=True)
        else:
            (profile / "user").mkdir(parents=True)
            (profile / "user" / "registrymodifications.xcu").write_text(REGISTRY)
        source = inbox / f"document.{extension}"
        shutil.copyfile(src, source)
        if mode == "netns+nobody":
            for path in (work, *work.rglob("*")):
                os.chown(path, NOBODY, NOBODY)
        command = [
            *prefix,
            binary,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--invisible",
            "--nodefault",
            "--nologo",
            "--norestore",
            "--nolockcheck",
            "--convert-to",
            target_ext,
            "--outdir",
            str(outbox),
            str(source),
        ]
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(work),
            "TMPDIR": str(tmp),
            "LANG": "C.UTF-8",
            "SAL_USE_VCLPLUGIN": "svp",
        }
        _run(command, env, work, timeout_seconds, cpu_seconds or timeout_seconds, memory_mb, max_output_mb)
        produced = outbox / f"document.{target_ext}"
        if not produced.is_file() or produced.stat().st_size == 0:
            raise ConversionError("failed", "LibreOffice could not read the file (damaged or password-protected).")
        target = Path(out_dir) / f"document.{target_ext}"
        shutil.move(str(produced), target)
        with contextlib.suppress(OSError):
            os.chown(target, os.geteuid(), os.getegid())
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(
    command: list[str],
    env: dict[str, str],
    cwd: Path,
    timeout_seconds: int,
    cpu_seconds: int,
    memory_mb: int,
    max_output_mb: int,
) -> None:
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            preexec_fn=_limits(cpu_seconds, memory_mb, max_output_mb),
            start_new_session=True,
        )
    except OSError as error:
        raise ConversionError("unavailable", "LibreOffice could not be started.") from error
    try:
        _, stderr = process.communicate(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise ConversionError("timeout", f"The conversion took longer than {timeout_seconds} s.") from None
    finally:
        # soffice.bin may outlive the wrapper (oosplash) it was started by: nothing of it stays.
        _kill_group(process)
    code = process.returncode
    if code in (-signal.SIGXCPU, -signal.SIGKILL) or (code and time.monotonic() - started >= cpu_seconds):
        raise ConversionError("cpu", "The conversion used more CPU time than allowed.")
    if code in (-signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS, -signal.SIGXFSZ) or code not in (0, 1):
        raise ConversionError("crashed", "LibreOffice stopped while converting (memory limit or a damaged file).")
    if b"Error:" in (stderr or b""):
        raise ConversionError("failed", "LibreOffice could not convert the file.")


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
