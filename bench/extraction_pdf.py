"""pypdf vs pypdfium2 on generated PDFs: time per page and whether every word comes back (issue #14).

Run: .venv/bin/python bench/extraction_pdf.py
"""

import io
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.documents.pdf_builder import pdf_with_text

WORDS = [
    "contract",
    "clause",
    "payment",
    "invoice",
    "budget",
    "warranty",
    "liability",
    "renewal",
    "notice",
    "termination",
]


def make(pages: int, seed: int) -> tuple[bytes, list[str]]:
    rng = random.Random(seed)
    text = [
        [" ".join(rng.choice(WORDS) + str(rng.randint(0, 99)) for _ in range(10)) for _ in range(50)]
        for _ in range(pages)
    ]
    return pdf_with_text(lambda p: text[p], pages=pages), [w for page in text for line in page for w in line.split()]


def with_pypdf(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def with_pdfium(data: bytes) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        return "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()


def main() -> None:
    for pages in (1, 20, 200):
        data, words = make(pages, pages)
        for name, extract in (("pypdf", with_pypdf), ("pypdfium2", with_pdfium)):
            started = time.perf_counter()
            text = extract(data)
            seconds = time.perf_counter() - started
            found = set(text.split())
            missing = sum(1 for w in words if w not in found)
            print(
                f"{pages:4d} pages  {name:10s} {seconds * 1000 / pages:7.2f} ms/page  words missing: {missing}/{len(words)}"
            )


if __name__ == "__main__":
    main()
