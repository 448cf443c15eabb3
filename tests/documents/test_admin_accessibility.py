"""What the page audit's axe check asked of the documents admin: labelled fields and named links, still working."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from documents.models import Grant
from tests.documents.test_admin import verified_client
from tests.documents.test_admin_self_grant import change_form_data
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_grant_expiry_typed_in_the_admin_datetime_field_is_saved(client, owner, document):
    staff = StaffFactory(is_superuser=True)
    verified_client(client, staff)
    person = UserFactory()
    url = reverse("admin:documents_document_change", args=[document.pk])
    page = client.get(url).content.decode()
    assert 'type="datetime-local"' in page and 'id="id_grants-__prefix__-expires_at"' in page

    response = client.post(url, change_form_data(document, owner, user=person.pk, expires_at="2030-01-31T17:30"))

    assert response.status_code == 302
    grant = Grant.objects.get(document=document, user=person)
    assert grant.expires_at == datetime(2030, 1, 31, 17, 30, tzinfo=UTC)


def test_documents_without_a_category_are_filtered_by_a_link_with_a_name(client, owner, document):
    document.category = ""
    document.save(update_fields=["category"])
    verified_client(client, StaffFactory(is_superuser=True))
    page = client.get(reverse("admin:documents_document_changelist")).content.decode()
    assert '<a href="?category=">(none)</a>' in page
