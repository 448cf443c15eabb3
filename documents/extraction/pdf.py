"""PDF: the text layer through pdfium (pypdfium2); pages without one are rendered and OCR'd.

pypdfium2 was measured against pypdf on generated PDFs (bench/extraction_pdf.py):
pdfium is several times faster and keeps word spacing and reading order at least
as well, so it is the extractor; pypdf stays for the upload's page count.
"""

import os
import tempfile

from documents.extraction import Extracted, ExtractionError, Limits, TextSink
from documents.extraction.ocr import MAX_PIXELS, ocr_image

# A page whose text layer has fewer characters than this is taken for a scan.
MIN_TEXT_CHARS_PER_PAGE = 20
OCR_SCALE = 300 / 72  # render at 300 dpi, what tesseract reads best


def extract_pdf(path: str, limits: Limits) -> Extracted:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        raise ExtractionError("The PDF could not be read; it may be damaged or encrypted.", reason="damaged") from exc
    try:
        pages = len(pdf)
        if pages > limits.max_pages:
            raise ExtractionError(f"The PDF has more than {limits.max_pages} pages.", reason="too_large")
        sink = TextSink(limits.max_chars)
        ocr_pages = 0
        with tempfile.TemporaryDirectory(prefix="docuid-ocr-") as folder:
            try:
                for index in range(pages):
                    page = pdf[index]
                    textpage = page.get_textpage()
                    text = textpage.get_text_range().replace("\r\n", "\n")
                    textpage.close()
                    # A page without a text layer is a scan: render it and OCR it (bounded page count).
                    if len(text.strip()) < MIN_TEXT_CHARS_PER_PAGE and ocr_pages < limits.max_ocr_pages:
                        ocr_pages += 1
                        text = _ocr_page(page, os.path.join(folder, f"page-{index}.png"), limits)
                    page.close()
                    sink.add(text.strip() + "\n\f")
            except TextSink.Full:
                pass
        return Extracted(sink.text(), "pdf-ocr" if ocr_pages else "pdf-text")
    except pdfium.PdfiumError as exc:
        raise ExtractionError("The PDF could not be read; it may be damaged.", reason="damaged") from exc
    finally:
        pdf.close()


def _ocr_page(page, image_path: str, limits: Limits) -> str:
    width, height = page.get_size()
    # Huge page boxes are rendered smaller: the bitmap stays under the OCR's pixel bound.
    scale = min(OCR_SCALE, (MAX_PIXELS / max(1.0, width * height)) ** 0.5)
    image = page.render(scale=scale, grayscale=True).to_pil()
    image.save(image_path)
    image.close()
    try:
        return ocr_image(image_path, limits)
    finally:
        os.unlink(image_path)
