"""The benches' views (bench/documents_urls.py) exist only under the bench settings, never in production's URLconf.

/bench/open-plain/... writes a document open's audit event into a plain table instead of the
trail: reachable in production it would be an open that leaves no audit event.
"""

import pytest
from django.conf import settings
from django.urls import Resolver404, resolve

from tests.factories import UserFactory

BENCH_PATHS = ("/bench/baseline", "/bench/open-plain/insert/1/", "/bench/open-plain/record/1/")


def test_production_urlconf_is_not_the_benches():
    assert settings.ROOT_URLCONF == "docuid.urls"


@pytest.mark.parametrize("path", BENCH_PATHS)
def test_bench_paths_do_not_resolve_in_production(path):
    with pytest.raises(Resolver404):
        resolve(path, urlconf="docuid.urls")


@pytest.mark.django_db
@pytest.mark.parametrize("path", BENCH_PATHS)
def test_a_signed_in_person_gets_404_for_bench_paths(client, path):
    client.force_login(UserFactory())
    assert client.get(path).status_code == 404


def test_the_bench_urlconf_has_them():
    # The routes the bench drives exist where they should, so the tests above are not vacuous.
    assert resolve("/bench/open-plain/insert/1/", urlconf="bench.documents_urls").kwargs == {"kind": "insert", "pk": 1}
