"""Real Office and OpenDocument files built with their Python libraries (no copied fixtures).

Each builder puts one known phrase per page/sheet/slide, so a test can check both the text
and the page count of what LibreOffice renders.
"""

import io

import docx
import openpyxl
from odf import teletype
from odf.opendocument import OpenDocumentText
from odf.style import ParagraphProperties, Style
from odf.text import P

from documents import samples


def docx_bytes(pages: list[str]) -> bytes:
    """A Word document with one paragraph per page (hard page breaks between them)."""
    document = docx.Document()
    for number, text in enumerate(pages):
        if number:
            document.add_page_break()
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_bytes(sheets: dict[str, list[list[str]]]) -> bytes:
    """A workbook with the given sheets and rows (each small sheet prints on one page)."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def pptx_bytes(slides: list[str]) -> bytes:
    """A presentation with one title slide per text."""
    return samples.slides_bytes(slides)


def odt_bytes(pages: list[str]) -> bytes:
    """An OpenDocument text with one paragraph per page (a break-before style between them)."""
    document = OpenDocumentText()
    page_break = Style(name="PageBreak", family="paragraph")
    page_break.addElement(ParagraphProperties(breakbefore="page"))
    document.automaticstyles.addElement(page_break)
    for number, text in enumerate(pages):
        paragraph = P(stylename=page_break) if number else P()
        teletype.addTextToElement(paragraph, text)
        document.text.addElement(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
