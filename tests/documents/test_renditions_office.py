"""documents.office: LibreOffice conversions in a contained child (issue #15).

Real files built with python-docx / openpyxl / python-pptx / odfpy are converted and the PDF's
text and page count checked with pypdfium2; a stand-in `soffice` shows the containment
(process group killed on timeout, no network, not root, no secrets in the environment).
"""

import io
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from documents import office
from tests.conftest import require
from tests.documents import office_files

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def soffice():
    require("LibreOffice (soffice)", office.available(), "deploy/install-ci-tools.sh installs it")


def pdf_pages(path) -> list[str]:
    document = pdfium.PdfDocument(str(path))
    try:
        return [" ".join(document[i].get_textpage().get_text_range().split()) for i in range(len(document))]
    finally:
        document.close()


def convert(tmp_path, name: str, data: bytes, **limits):
    source = tmp_path / name
    source.write_bytes(data)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    return office.convert(
        source, "pdf", out, timeout_seconds=limits.pop("timeout_seconds", 60), memory_mb=1024, **limits
    )


@pytest.mark.parametrize(
    "name, data, expected",
    [
        (
            "letter.docx",
            office_files.docx_bytes(["Alpha lease terms", "Bravo signatures"]),
            ["Alpha lease terms", "Bravo signatures"],
        ),
        (
            "budget.xlsx",
            office_files.xlsx_bytes({"Budget": [["Item", "Cost"], ["Rent", "1200"]], "Staff": [["Name"], ["Ada"]]}),
            ["Item Cost Rent 1200", "Name Ada"],
        ),
        (
            "deck.pptx",
            office_files.pptx_bytes(["Opening agenda", "Quarterly roadmap", "Closing"]),
            ["Opening agenda", "Quarterly roadmap", "Closing"],
        ),
        (
            "minutes.odt",
            office_files.odt_bytes(["Charlie minutes", "Delta actions"]),
            ["Charlie minutes", "Delta actions"],
        ),
    ],
)
def test_each_office_type_becomes_a_pdf_with_its_text_page_by_page(soffice, tmp_path, name, data, expected):
    pdf = convert(tmp_path, name, data)
    assert pdf == tmp_path / "out" / "document.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert pdf_pages(pdf) == expected


def test_a_stored_file_without_extension_is_converted_by_its_sniffed_type(soffice, tmp_path):
    source = tmp_path / "a1b2c3d4"  # storage keys are random names
    source.write_bytes(office_files.docx_bytes(["Random key name"]))
    pdf = office.convert(source, "pdf", tmp_path, timeout_seconds=60, memory_mb=1024, source_ext="docx")
    assert pdf_pages(pdf) == ["Random key name"]
    # The private working folder (profile, copy of the input) is gone.
    assert not [p for p in os.listdir(tmp_path) if p.startswith("docuid-office-")]


def test_a_damaged_file_fails_with_a_reason(soffice, tmp_path):
    with pytest.raises(office.ConversionError) as caught:
        convert(tmp_path, "broken.docx", b"PK\x03\x04 this is not really a zip")
    assert caught.value.reason in {"failed", "crashed"}
    assert not (tmp_path / "out" / "document.pdf").exists()


def test_a_type_that_needs_no_conversion_is_refused(tmp_path):
    with pytest.raises(office.ConversionError) as caught:
        convert(tmp_path, "page.html", b"<p>hi</p>")
    assert caught.value.reason == "failed"


def zip_bomb_docx() -> bytes:
    """A valid docx whose document.xml inflates to ~1 GB of paragraphs."""
    real = office_files.docx_bytes(["bomb"])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(real)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != "word/document.xml":
                target.writestr(info, source.read(info.filename))
        ns = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
        with target.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(f"<w:document {ns}><w:body>".encode())
            block = b"<w:p><w:r><w:t>" + b"A" * 1000 + b"</w:t></w:r></w:p>" * 1
            for _ in range(1_000_000):
                part.write(block)
            part.write(b"</w:body></w:document>")
    return out.getvalue()


def test_a_zip_bomb_docx_ends_failed_within_its_limits(soffice, tmp_path):
    data = zip_bomb_docx()
    assert len(data) < 5 * 1024 * 1024
    started = time.monotonic()
    with pytest.raises(office.ConversionError) as caught:
        convert(tmp_path, "bomb.docx", data, timeout_seconds=15)
    assert time.monotonic() - started < 25
    assert caught.value.reason in {"timeout", "cpu", "crashed", "failed"}


FAKE_SOFFICE = """#!/bin/sh
# Stands in for soffice: reports who and where it runs, or hangs with a child.
for last; do :; done
while [ "$1" != "--outdir" ]; do shift; done
out="$2"
if grep -q hang "$last"; then sleep 313 & sleep 313; fi
{
  echo "uid=$(id -u)"
  echo "net=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ' ')"
  echo "env=$(env | cut -d= -f1 | sort | tr '\\n' ' ')"
} > "$out/document.pdf"
"""


@pytest.fixture
def fake_soffice(monkeypatch):
    # Outside pytest's tmp folder (0700 root): LibreOffice runs as nobody when the tests run as root.
    folder = tempfile.mkdtemp(prefix="docuid-fake-soffice-")
    os.chmod(folder, 0o755)
    script = os.path.join(folder, "soffice")
    with open(script, "w") as handle:
        handle.write(FAKE_SOFFICE)
    os.chmod(script, 0o755)
    monkeypatch.setattr(office, "soffice_binary", lambda: script)
    yield script
    shutil.rmtree(folder, ignore_errors=True)


def test_the_converter_runs_without_network_secrets_or_root(fake_soffice, tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "do-not-leak")
    monkeypatch.setenv("DATABASE_URL", "postgres://secret@db/docuid")
    report = convert(tmp_path, "x.docx", b"anything").read_text()
    mode, _ = office.isolation()
    env = report.split("env=")[1]
    assert "SECRET_KEY" not in env and "DATABASE_URL" not in env
    if mode == "none":
        pytest.skip("this kernel allows no network namespace: see docs/OPERATIONS_GUIDE.md")
    assert "net=lo " in report  # a fresh namespace: loopback only, and down
    if mode == "netns+nobody":
        assert "uid=65534" in report


def test_a_hanging_conversion_is_killed_with_its_children_at_the_timeout(fake_soffice, tmp_path):
    started = time.monotonic()
    with pytest.raises(office.ConversionError) as caught:
        convert(tmp_path, "slow.docx", b"hang", timeout_seconds=2)
    assert caught.value.reason == "timeout"
    assert time.monotonic() - started < 10
    # The child it started went with it (the whole process group is killed).
    assert shutil.which("pgrep") is None or os.system("pgrep -f '[s]leep 313' >/dev/null") != 0


def test_a_reused_profile_is_a_private_copy_of_one_seed_per_process(soffice, tmp_path, monkeypatch):
    monkeypatch.setattr(office, "_seeds", {})
    first = convert(tmp_path, "one.docx", office_files.docx_bytes(["First copy"]), reuse_profile=True)
    assert pdf_pages(first) == ["First copy"]
    seed = office._seeds[os.getpid()]
    assert seed is not None and seed.is_dir()
    settings = (seed / "user" / "registrymodifications.xcu").read_text()
    assert "MacroSecurityLevel" in settings and "DisableMacrosExecution" in settings
    second = convert(tmp_path, "two.docx", office_files.docx_bytes(["Second copy"]), reuse_profile=True)
    assert pdf_pages(second) == ["Second copy"]
    assert office._seeds[os.getpid()] == seed  # made once
    office._remove_seed(os.getpid(), seed.parent)
    assert not seed.exists()


def test_seeds_of_processes_that_are_gone_are_swept(tmp_path):
    dead_pid = 2**22 + 17  # above Linux's default pid_max: no such process
    stale = Path(tempfile.mkdtemp(prefix=f"{office.SEED_PREFIX}{dead_pid}-"))
    mine = Path(tempfile.mkdtemp(prefix=f"{office.SEED_PREFIX}{os.getpid()}-"))
    try:
        office._sweep_dead_seeds()
        assert not stale.exists() and mine.exists()
    finally:
        shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(mine, ignore_errors=True)


def odt_linking(target: str) -> bytes:
    """An OpenDocument text with a section whose content is linked from `target` (a file URL)."""
    base = office_files.odt_bytes(["Cover page"])
    with zipfile.ZipFile(io.BytesIO(base)) as source:
        content = source.read("content.xml").decode()
    section = (
        f'<text:section text:name="Linked"><text:section-source xlink:href="{target}" xlink:type="simple" '
        'text:filter-name="Text"/><text:p>Stored copy</text:p></text:section>'
    )
    content = content.replace("</office:text>", section + "</office:text>")
    if "xmlns:xlink" not in content:
        content = content.replace(
            "<office:document-content ", '<office:document-content xmlns:xlink="http://www.w3.org/1999/xlink" ', 1
        )
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as source, zipfile.ZipFile(out, "w") as target_zip:
        for info in source.infolist():
            target_zip.writestr(info, content if info.filename == "content.xml" else source.read(info.filename))
    return out.getvalue()


@pytest.mark.parametrize("reuse_profile", [False, True])
def test_a_linked_local_file_is_not_pulled_into_the_pdf(soffice, tmp_path, reuse_profile):
    folder = Path(tempfile.mkdtemp(prefix="docuid-linked-"))
    try:
        os.chmod(folder, 0o755)
        secret = folder / "secret.txt"
        secret.write_text("TOPSECRET-4242\n")
        os.chmod(secret, 0o644)  # readable even by nobody: only "never update links" keeps it out
        pdf = convert(tmp_path, "linked.odt", odt_linking(secret.as_uri()), reuse_profile=reuse_profile)
        text = " ".join(pdf_pages(pdf))
        assert "TOPSECRET" not in text and "Stored copy" in text
    finally:
        shutil.rmtree(folder, ignore_errors=True)
