"""Images (PNG, JPEG): OCR."""

from documents.extraction import Extracted, Limits
from documents.extraction.ocr import check_image, ocr_image


def extract_image(path: str, limits: Limits) -> Extracted:
    check_image(path)
    return Extracted(ocr_image(path, limits)[: limits.max_chars].strip(), "image-ocr")
