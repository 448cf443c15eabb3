"""Extraction throughput per format: DocuID's extractor (in-process, and sandboxed as the task runs it)
against calling the library or tool directly on the same file (issue #14: >= 0.8x of the raw call).

Run: .venv/bin/python bench/extraction.py   (tesseract needed for the png row)
"""

import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from bench.extraction_pdf import WORDS  # noqa: E402
from documents.extraction import Limits, sandbox  # noqa: E402
from documents.extraction.registry import extract  # noqa: E402
from tests.documents import test_extraction as files  # noqa: E402
from tests.documents.pdf_builder import pdf_with_text  # noqa: E402

LINE = " ".join(WORDS)


def big_docx() -> bytes:
    paragraphs = "".join(f"<w:p><w:r><w:t>{n} {LINE}</w:t></w:r></w:p>" for n in range(5000))
    return files.docx_bytes(f"<w:document {files.W}><w:body>{paragraphs}</w:body></w:document>")


def big_xlsx() -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for n in range(5000):
        sheet.append([n, *WORDS[:5]])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def big_odt() -> bytes:
    paragraphs = "".join(f"<text:p>{n} {LINE}</text:p>" for n in range(5000))
    return files.odf_bytes("text", f"<office:text>{paragraphs}</office:text>")


def raw_pdf(path):
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path)
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    pdf.close()
    return text


def raw_xlsx(path):
    import openpyxl

    with open(path, "rb") as handle:
        workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        rows = [row for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True)]
        workbook.close()
    return rows


def raw_zip_xml(part):
    def run(path):
        import zipfile
        from xml.etree import ElementTree

        with zipfile.ZipFile(path) as archive:
            return "".join(ElementTree.fromstring(archive.read(part)).itertext())

    return run


def raw_text(path):
    return Path(path).read_bytes().decode("utf-8")


def raw_tesseract(path):
    return subprocess.run(["tesseract", path, "stdout", "-l", "eng"], capture_output=True, check=True).stdout


CASES = [
    ("pdf-text (200 pages)", "application/pdf", lambda: pdf_with_text(lambda p: [LINE] * 40, pages=200), raw_pdf),
    ("ooxml-docx (5k paragraphs)", files.DOCX, big_docx, raw_zip_xml("word/document.xml")),
    ("ooxml-xlsx (5k rows)", files.XLSX, big_xlsx, raw_xlsx),
    ("odf-odt (5k paragraphs)", "application/vnd.oasis.opendocument.text", big_odt, raw_zip_xml("content.xml")),
    ("text (1 MB)", "text/plain", lambda: (LINE + "\n").encode() * 12000, raw_text),
    ("image-ocr (1 scan)", "image/png", files.scan_png, raw_tesseract),
]


def timed(run, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    print(f"{'format':28s} {'raw':>8s} {'ours':>8s} {'sandboxed':>10s} {'ours/raw':>9s} {'sandboxed/raw':>14s}")
    with tempfile.TemporaryDirectory() as folder:
        for name, mime_type, build, raw in CASES:
            path = os.path.join(folder, "input")
            Path(path).write_bytes(build())
            raw_s = timed(lambda raw=raw, path=path: raw(path))
            ours_s = timed(lambda path=path, mime_type=mime_type: extract(path, mime_type, Limits()))
            boxed_s = timed(
                lambda path=path, mime_type=mime_type: sandbox.run(
                    path, mime_type, Limits(), cpu_seconds=120, memory_mb=1024, timeout_seconds=300
                )
            )
            # Throughput ratio = raw time / our time (1.0: as fast as the raw call).
            print(
                f"{name:28s} {raw_s * 1000:7.0f}ms {ours_s * 1000:7.0f}ms {boxed_s * 1000:9.0f}ms"
                f" {raw_s / ours_s:8.2f}x {raw_s / boxed_s:13.2f}x"
            )


if __name__ == "__main__":
    main()
