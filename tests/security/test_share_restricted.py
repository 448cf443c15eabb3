"""A link made before a document became restricted stops opening it (restricted documents are never shared by link)."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from documents import services
from documents.models import SecurityLevel

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("route", ["share:link", "share:open", "share:download"])
def test_a_link_made_before_the_document_was_restricted_is_gone(client, owner, document, route):
    _, token = services.share_create(acting_user=owner, document=document, access="download")
    document.security_level = SecurityLevel.RESTRICTED
    document.save(update_fields=["security_level"])

    response = client.get(reverse(route, args=[token]))

    assert response.status_code == 410
    assert b"restricted" in response.content
    refused = AuditEvent.objects.filter(action="share.access", outcome="failure").get()
    assert refused.data["reason"] == "restricted"
