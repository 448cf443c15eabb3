"""Legacy Office (.doc, .xls, .ppt) extraction through LibreOffice (issue #14).

The legacy files are made here: docx / xlsx / pptx built with python-docx, openpyxl and
python-pptx, then saved as .doc / .xls / .ppt by LibreOffice itself (`soffice --convert-to`,
through documents.office). Nothing is copied from elsewhere.
"""

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from documents import office, samples, services
from documents.extraction import Limits, sandbox
from documents.models import ExtractionStatus, VersionText
from documents.services.extraction import version_text_extract
from tests.conftest import require
from tests.documents import office_files
from tests.documents.test_search import titles

DOC, XLS, PPT = "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"


def needs_libreoffice() -> None:
    require(
        "LibreOffice", office.available(), "apt-get install libreoffice-core-nogui ... (deploy/install-ci-tools.sh)"
    )


@pytest.fixture(scope="module")
def legacy_files(tmp_path_factory) -> dict[str, bytes]:
    """One .doc, .xls and .ppt, each holding words found nowhere else (built once: a conversion takes seconds)."""
    needs_libreoffice()
    folder = tmp_path_factory.mktemp("legacy")
    modern = {
        "docx": office_files.docx_bytes(["The quarterly albatross clause", "Second page about penguins"]),
        "xlsx": office_files.xlsx_bytes({"Budget": [["Item", "Amount"], ["Marmalade", "12"]]}),
        "pptx": office_files.pptx_bytes(["Opening flamingo agenda", "Closing remarks"]),
    }
    made = {}
    for extension, legacy in (("docx", "doc"), ("xlsx", "xls"), ("pptx", "ppt")):
        source = folder / f"source.{extension}"
        source.write_bytes(modern[extension])
        out = folder / legacy
        out.mkdir()
        made[legacy] = office.convert(source, legacy, out, timeout_seconds=120, memory_mb=2048).read_bytes()
    return made


@pytest.mark.parametrize(
    ("key", "mime_type", "expected"),
    [
        ("doc", DOC, ["The quarterly albatross clause", "Second page about penguins"]),
        ("xls", XLS, ["Sheet: Budget", "Item\tAmount", "Marmalade\t12"]),
        ("ppt", PPT, ["Slide 1\nOpening flamingo agenda", "Slide 2\nClosing remarks"]),
    ],
)
def test_a_legacy_file_is_converted_and_read_by_its_modern_extractor(legacy_files, tmp_path, key, mime_type, expected):
    assert legacy_files[key][:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # really OLE2, not a renamed zip
    path = tmp_path / "input"
    path.write_bytes(legacy_files[key])
    outcome = sandbox.run(str(path), mime_type, Limits(), cpu_seconds=120, memory_mb=1024, timeout_seconds=120)
    assert (outcome.status, outcome.extractor) == ("done", f"legacy-{key}"), outcome.error
    for fragment in expected:
        assert fragment in outcome.text
    # The conversion's files went with it: only the input is left in the private folder.
    assert [p.name for p in tmp_path.iterdir()] == ["input"]


@pytest.mark.parametrize(
    ("key", "word", "title"),
    [("doc", "albatross", "minutes"), ("xls", "marmalade", "ledger"), ("ppt", "flamingo", "deck")],
)
def test_an_uploaded_legacy_file_is_found_by_a_word_inside_it(
    owner, legacy_files, django_capture_on_commit_callbacks, key, word, title
):
    with django_capture_on_commit_callbacks(execute=True):
        document = services.document_upload(
            acting_user=owner, file=ContentFile(legacy_files[key], name=f"{title}.{key}"), name=f"{title}.{key}"
        )
    text = VersionText.objects.get(version=document.current_version)
    assert (text.status, text.extractor) == ("done", f"legacy-{key}"), text.error
    assert titles(owner, word) == {document.title}


def mangled(legacy: bytes) -> bytes:
    """The OLE2 header of a real file, then its sectors overwritten with noise."""
    return legacy[:512] + bytes((i * 131 + 7) % 256 for i in range(len(legacy) - 512))


@pytest.mark.parametrize(
    ("build", "mime_type"),
    [
        (lambda files: samples.ole_bytes("WordDocument"), DOC),  # a valid OLE2 container with garbage inside
        (lambda files: files["doc"][: len(files["doc"]) // 3], DOC),  # truncated
        (lambda files: mangled(files["ppt"]), PPT),
        (lambda files: samples.ole_bytes("Workbook"), XLS),
    ],
    ids=["garbage-ole2-doc", "truncated-doc", "noise-ppt", "garbage-ole2-xls"],
)
def test_a_hostile_legacy_file_fails_the_version_within_its_limits(owner, legacy_files, settings, build, mime_type):
    from tests.documents.test_extraction import stored_version

    settings.DOCUID_EXTRACT_TIMEOUT_SECONDS = 60
    version = stored_version(owner, build(legacy_files), "hostile", mime_type)
    started = time.monotonic()
    text = version_text_extract(version=version)
    assert time.monotonic() - started < 60
    assert text.status == ExtractionStatus.FAILED and text.content == ""
    assert text.error and "Traceback" not in text.error


def test_libreoffice_gets_no_more_memory_than_the_extraction(legacy_files, tmp_path):
    # LibreOffice needs ~512 MB of address space (measured: 384 MB is not enough); it inherits the
    # grandchild's limit, so an extraction limited to 300 MB cannot convert.
    path = tmp_path / "input"
    path.write_bytes(legacy_files["doc"])
    outcome = sandbox.run(str(path), DOC, Limits(), cpu_seconds=60, memory_mb=300, timeout_seconds=60)
    assert outcome.status == "failed" and outcome.reason in ("damaged", "crashed", "memory")


HANGING_SOFFICE = "#!/bin/sh\n# Stands in for a LibreOffice that never finishes (with a child, as soffice.bin is).\nsleep 313 & sleep 313\n"


@pytest.fixture
def hanging_soffice(monkeypatch):
    """A `soffice` that hangs, first on the PATH of a fresh zygote (and gone again afterwards)."""
    # Outside pytest's tmp folder (0700 root): LibreOffice runs as nobody when the tests run as root.
    folder = tempfile.mkdtemp(prefix="docuid-hanging-soffice-")
    os.chmod(folder, 0o755)
    script = Path(folder) / "soffice"
    script.write_text(HANGING_SOFFICE)
    script.chmod(0o755)
    sandbox.shutdown()  # the zygote takes its PATH when it starts
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
    yield script
    sandbox.shutdown()
    shutil.rmtree(folder, ignore_errors=True)


def test_libreoffice_is_stopped_before_the_sandboxs_own_wall_clock_limit(legacy_files, hanging_soffice, tmp_path):
    # An 11 s sandbox leaves LibreOffice 1 s; one that never finishes is killed then, and the version
    # fails as a timeout reported by the grandchild (not by the sandbox killing it blind).
    path = tmp_path / "input"
    path.write_bytes(legacy_files["ppt"])
    started = time.monotonic()
    outcome = sandbox.run(str(path), PPT, Limits(), cpu_seconds=60, memory_mb=1024, timeout_seconds=11)
    assert (outcome.status, outcome.reason) == ("failed", "timeout")
    assert "LibreOffice" in outcome.error or "conversion" in outcome.error
    assert time.monotonic() - started < 11


def test_without_libreoffice_a_legacy_file_fails_with_a_reason_the_owner_understands(owner, monkeypatch, tmp_path):
    from documents.extraction import ExtractionError
    from documents.extraction.legacy import extract_legacy

    monkeypatch.setattr(shutil, "which", lambda name: None)
    path = Path(tmp_path / "input")
    path.write_bytes(samples.ole_bytes("WordDocument"))
    with pytest.raises(ExtractionError, match="LibreOffice is not installed") as missing:
        extract_legacy(str(path), DOC, Limits())
    assert missing.value.reason == "office_unavailable"
