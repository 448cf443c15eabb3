"""Legacy Office (.doc, .xls, .ppt): LibreOffice converts the file to docx / xlsx / pptx, whose extractors read it.

Runs in the sandbox's grandchild. LibreOffice (documents.office.convert: private profile,
no macros, no links, no network, run as nobody under root) is started with the
grandchild's own RLIMIT_AS and RLIMIT_CPU, so it gets no more than the extraction may use;
measured on LibreOffice 7.4, a conversion needs 512 MB of address space (384 MB is not
enough), well under the 1024 MB default of DOCUID_EXTRACT_MEMORY_MB. Its own wall-clock
limit (Limits.office_timeout_seconds) is kept below the sandbox's, because LibreOffice runs
in a session of its own that the sandbox's kill of the grandchild's group does not reach.
"""

import os
import resource
import shutil
import tempfile

from documents.extraction import Extracted, ExtractionError, Limits

# Sniffed MIME type -> (the file's extension for LibreOffice's filter, the format it is converted to).
CONVERSIONS = {
    "application/msword": ("doc", "docx"),
    "application/vnd.ms-excel": ("xls", "xlsx"),
    "application/vnd.ms-powerpoint": ("ppt", "pptx"),
}
REASONS = {"timeout": "timeout", "cpu": "cpu", "crashed": "crashed", "unavailable": "office_unavailable"}
DEFAULT_MEMORY_MB = 1024
SYSTEM_TMP = "/tmp"  # noqa: S108 — documents.office makes a private (0700) folder in it


def extract_legacy(path: str, mime_type: str, limits: Limits) -> Extracted:
    from documents import office
    from documents.extraction import ooxml

    source_ext, target_ext = CONVERSIONS[mime_type]
    folder = tempfile.mkdtemp(prefix="docuid-legacy-", dir=os.path.dirname(path))
    # The sandbox points temporary files at the input's private (0700) folder; LibreOffice's own working
    # folder must be where the user it runs as (nobody, under root) can reach it: the system's.
    scratch, tempfile.tempdir = tempfile.tempdir, SYSTEM_TMP
    try:
        try:
            converted = office.convert(
                path,
                target_ext,
                folder,
                source_ext=source_ext,
                timeout_seconds=limits.office_timeout_seconds,
                memory_mb=_own_limit(resource.RLIMIT_AS, 1024 * 1024, DEFAULT_MEMORY_MB),
                cpu_seconds=_own_limit(resource.RLIMIT_CPU, 1, limits.office_timeout_seconds),
                max_output_mb=max(1, limits.max_total_bytes // (1024 * 1024)),
            )
        except office.ConversionError as exc:
            raise ExtractionError(exc.message, reason=REASONS.get(exc.reason, "damaged")) from exc
        read = {"docx": ooxml.extract_docx, "xlsx": ooxml.extract_xlsx, "pptx": ooxml.extract_pptx}[target_ext]
        result = read(str(converted), limits)
        return Extracted(result.text, f"legacy-{source_ext}")
    finally:
        tempfile.tempdir = scratch
        shutil.rmtree(folder, ignore_errors=True)


def _own_limit(which: int, unit: int, default: int) -> int:
    """This process's soft limit in `unit`s (LibreOffice may not be given more), or `default` if unlimited."""
    soft, _ = resource.getrlimit(which)
    return default if soft == resource.RLIM_INFINITY else max(1, soft // unit)
