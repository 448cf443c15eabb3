"""Attacks on the leak-tracing stamp (issue #15): a name or id that breaks or hides the stamp.

The stamp is cut to a fixed-size slot of the PDF template (watermark.MAX_STAMP_BYTES of
WinAnsi text). Its parts were bounded in characters, but a character Helvetica cannot show
is spelt out in ASCII (NFKD: '⑽' is "(10)", 'ﬃ' is "ffi"), so 80 characters of a name could
be 320 bytes, and the part that finds the audit event — the request id and the reference —
fell off the end of every page. A name is set by staff, or comes from an import; a share's
masked recipient holds the e-mail's domain. Whatever it is, the reference must be printed.
"""

import re

import pytest
from django.urls import reverse

from audit.actions import Action
from audit.models import AuditEvent
from documents import services, watermark
from documents.models import Permission
from tests.documents.conftest import login
from tests.documents.test_watermark import body, confidential_pdf, page_texts
from tests.factories import UserFactory, make_document

pytestmark = pytest.mark.django_db

REF_RE = re.compile(r"ref ([0-9a-f]{12})")
# Each expands to several ASCII letters when Helvetica/WinAnsi cannot show it.
EXPANDING_NAMES = ["⑽" * 80, "ﬃ" * 150, "Ĳsbrand Ǳenković-ǈubić ﬄ ㎒ " * 6]


@pytest.mark.parametrize("name", EXPANDING_NAMES, ids=["circled", "ligatures", "mixed"])
def test_a_name_spelt_out_in_ascii_cannot_push_the_reference_out_of_its_slot(name):
    stamp = watermark.Stamp(recipient=f"{name} (+1******0100)", kind="user", request_id="r" * 128)
    printed = watermark._winansi(stamp.text)[: watermark.MAX_STAMP_BYTES]
    assert printed.endswith(f"ref {stamp.ref}".encode()), printed
    assert b"request " + b"r" * watermark.REQUEST_ID_MAX in printed


@pytest.mark.parametrize("name", EXPANDING_NAMES[:2], ids=["circled", "ligatures"])
def test_a_viewer_with_such_a_name_still_gets_the_reference_of_their_open_on_every_page(owner, client, name):
    reader = UserFactory(name=name, phone_number="+13125550998", email="ivo@example.org")
    document = make_document(owner, name="Plan.pdf", data=confidential_pdf("X"), security_level="confidential")
    services.grant_add(acting_user=owner, document=document, user=reader, permission=Permission.VIEW)
    login(client, reader)
    response = client.get(reverse("documents:open", args=[document.pk]), headers={"X-Request-ID": "q" * 128})
    assert response.status_code == 200
    texts = page_texts(body(response))
    refs = {match.group(1) for text in texts for match in REF_RE.finditer(text)}
    assert refs == {response["X-DocuID-Stamp"]}, texts
    assert all("request " + "q" * watermark.REQUEST_ID_MAX in text for text in texts)
    event = AuditEvent.objects.get(action=Action.DOCUMENT_OPEN, data__watermark__ref=response["X-DocuID-Stamp"])
    assert event.actor_id == reader.pk


def test_pdf_operators_in_a_name_are_text_not_drawing(owner, client):
    """A name holding PDF syntax (a closing bracket, operators, a newline) is printed, never run."""
    hostile = "x) Tj ET Q 1 0 0 RG /F1 99 Tf (\n> ] >> endstream endobj"
    reader = UserFactory(name=hostile, phone_number="+13125550997", email="rita@example.org")
    document = make_document(owner, name="Plan.pdf", data=confidential_pdf("Y"), security_level="confidential")
    services.grant_add(acting_user=owner, document=document, user=reader, permission=Permission.VIEW)
    login(client, reader)
    response = client.get(reverse("documents:open", args=[document.pk]))
    texts = page_texts(body(response))
    assert len(texts) == 3
    for number, text in enumerate(texts, start=1):
        assert f"page {number}" in text
        assert "x) Tj ET Q" in text and response["X-DocuID-Stamp"] in text
