"""Which extractor reads which sniffed type (documents.filetypes' MIME types)."""

from documents.extraction import Extracted, ExtractionSkipped, Limits

LEGACY_OFFICE = {"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"}


def extract(path: str, mime_type: str, limits: Limits) -> Extracted:
    """The text of the file at `path`; raises ExtractionError (or ExtractionSkipped) with a reason."""
    if mime_type == "application/pdf":
        from documents.extraction.pdf import extract_pdf

        return extract_pdf(path, limits)
    if mime_type.startswith("application/vnd.openxmlformats-officedocument."):
        from documents.extraction import ooxml

        if mime_type.endswith("wordprocessingml.document"):
            return ooxml.extract_docx(path, limits)
        if mime_type.endswith("spreadsheetml.sheet"):
            return ooxml.extract_xlsx(path, limits)
        if mime_type.endswith("presentationml.presentation"):
            return ooxml.extract_pptx(path, limits)
    if mime_type.startswith("application/vnd.oasis.opendocument."):
        from documents.extraction.odf import extract_odf

        kind = {"text": "odt", "spreadsheet": "ods", "presentation": "odp"}.get(mime_type.rsplit(".", 1)[-1])
        if kind:
            return extract_odf(path, limits, kind)
    if mime_type.startswith("text/"):
        from documents.extraction.text import extract_text

        return extract_text(path, limits)
    if mime_type in ("image/png", "image/jpeg"):
        from documents.extraction.images import extract_image

        return extract_image(path, limits)
    if mime_type in LEGACY_OFFICE:
        from documents.extraction.legacy import extract_legacy

        return extract_legacy(path, mime_type, limits)
    raise ExtractionSkipped("this kind of file has no text to extract")
