"""The replica router and read-your-writes without a replica server (the real one: test_replica.py)."""

import time

import pytest
from django.core.exceptions import MiddlewareNotUsed
from django.db import DEFAULT_DB_ALIAS
from django.http import HttpResponse
from django.test import RequestFactory

from docuid import db_routers
from docuid.read_your_writes import COOKIE, ReadYourWritesMiddleware


def test_without_a_replica_every_read_stays_on_the_primary_and_the_middleware_removes_itself():
    assert not db_routers.replica_configured()
    with db_routers.replica_reads() as alias:
        assert alias == DEFAULT_DB_ALIAS
        assert db_routers.ReplicaRouter().db_for_read(None) is None
    with pytest.raises(MiddlewareNotUsed):
        ReadYourWritesMiddleware(lambda request: HttpResponse())


def test_router_never_writes_or_migrates_on_the_replica():
    router = db_routers.ReplicaRouter()
    token = db_routers._reading_replica.set(True)
    try:
        assert router.db_for_read(None) == db_routers.REPLICA
        assert router.db_for_write(None) == DEFAULT_DB_ALIAS
    finally:
        db_routers._reading_replica.reset(token)
    assert router.allow_migrate(db_routers.REPLICA, "documents") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "documents") is True


@pytest.fixture
def middleware(monkeypatch, settings):
    settings.DOCUID_READ_YOUR_WRITES_SECONDS = 10
    monkeypatch.setattr(db_routers, "replica_configured", lambda: True)
    seen = {}

    def view(request):
        seen["pinned"] = db_routers._pinned.get()
        return HttpResponse(status=int(request.GET.get("status", 200)))

    return ReadYourWritesMiddleware(view), seen


def test_a_successful_write_reads_the_primary_and_pins_the_next_requests(middleware):
    handler, seen = middleware
    response = handler(RequestFactory().post("/documents/1/access/2/remove/"))
    assert seen["pinned"] is True
    cookie = response.cookies[COOKIE]
    assert cookie["max-age"] == 10 and cookie["httponly"] and cookie["samesite"] == "Lax"
    assert time.time() + 8 < float(cookie.value) <= time.time() + 11

    request = RequestFactory().get("/documents/")
    request.COOKIES[COOKIE] = cookie.value
    handler(request)
    assert seen["pinned"] is True
    assert db_routers._pinned.get() is False  # reset after the request


@pytest.mark.parametrize("value", ["", "garbage", "nan-ish", str(int(time.time()) - 1)])
def test_a_missing_expired_or_hostile_cookie_does_not_pin(middleware, value):
    handler, seen = middleware
    request = RequestFactory().get("/documents/")
    request.COOKIES[COOKIE] = value
    response = handler(request)
    assert seen["pinned"] is False
    assert COOKIE not in response.cookies


@pytest.mark.django_db
def test_a_person_who_wrote_reads_the_primary_from_every_device_for_a_while(middleware, settings):
    from django.core.cache import cache

    from docuid.read_your_writes import wrote_recently
    from tests.factories import UserFactory

    handler, _ = middleware
    writer, other = UserFactory(), UserFactory()
    cache.delete(f"docuid:fresh:{writer.pk}")
    assert wrote_recently(writer) is False
    request = RequestFactory().post("/api/v1/documents/")
    request.user = writer
    handler(request)
    assert wrote_recently(writer) is True  # another device: no cookie, the cache answers
    assert wrote_recently(other) is False
    cache.delete(f"docuid:fresh:{writer.pk}")


def test_a_cache_that_cannot_answer_sends_reads_to_the_primary(monkeypatch):
    from docuid import read_your_writes

    def broken(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(read_your_writes.cache, "get", broken)
    person = type("Person", (), {"pk": 7, "is_authenticated": True})()
    assert read_your_writes.wrote_recently(person) is True


def test_a_post_to_a_view_that_only_reads_is_not_a_write(monkeypatch):
    """The API's search is a POST that writes nothing: it must neither pin nor mark the person."""
    from api.views.v1 import SearchView

    monkeypatch.setattr(db_routers, "replica_configured", lambda: True)
    seen = {}

    def view(request):
        # Django calls process_view between the middleware's request and response halves.
        handler.process_view(request, SearchView.as_view(), (), {})
        seen["pinned"] = db_routers._pinned.get()
        return HttpResponse()

    handler = ReadYourWritesMiddleware(view)
    response = handler(RequestFactory().post("/api/v1/documents/search"))
    assert seen["pinned"] is False
    assert COOKIE not in response.cookies
    assert db_routers._pinned.get() is False


def test_a_refused_write_sets_no_cookie(middleware):
    handler, _ = middleware
    assert COOKIE not in handler(RequestFactory().post("/documents/?status=403")).cookies


def test_replica_unreachable_is_remembered_and_reads_go_to_the_primary(monkeypatch, settings):
    settings.DOCUID_REPLICA_DOWN_SECONDS = 5
    monkeypatch.setattr(db_routers, "replica_configured", lambda: True)
    monkeypatch.setattr(db_routers._health, "down_until", 0.0)
    monkeypatch.setattr(db_routers._health, "lag_checked_at", 0.0)
    calls = []

    def unreachable():
        calls.append(1)
        from django.db import OperationalError

        raise OperationalError("connection refused")

    monkeypatch.setattr(db_routers, "_measure_lag", unreachable)
    assert db_routers.replica_usable() is False
    assert db_routers.replica_usable() is False
    assert len(calls) == 1  # not probed again within DOCUID_REPLICA_DOWN_SECONDS
    assert db_routers.replica_lag_seconds._value.get() == -1


def test_too_much_lag_skips_the_replica(monkeypatch, settings):
    settings.DOCUID_REPLICA_MAX_LAG_SECONDS = 30
    settings.DOCUID_REPLICA_LAG_CHECK_SECONDS = 0
    monkeypatch.setattr(db_routers, "replica_configured", lambda: True)
    monkeypatch.setattr(db_routers._health, "down_until", 0.0)
    monkeypatch.setattr(db_routers, "_measure_lag", lambda: 31.0)
    assert db_routers.replica_usable() is False
    monkeypatch.setattr(db_routers, "_measure_lag", lambda: 0.5)
    assert db_routers.replica_usable() is True
    token = db_routers.pin_primary()
    try:
        assert db_routers.replica_usable() is False
    finally:
        db_routers.unpin(token)


# --- documents.replica: a page read from a lagging replica is re-checked on the primary -------------


@pytest.fixture
def stale_replica(monkeypatch):
    """documents.replica reads "the replica": a page computed earlier, as a lagging replica would hold it."""
    from documents import replica

    stale = {}
    monkeypatch.setattr(replica, "replica_configured", lambda: True)
    monkeypatch.setattr(replica, "read_from_replica", lambda read: (stale["page"], db_routers.REPLICA))
    return stale


@pytest.mark.django_db
def test_a_grant_revoked_on_the_primary_is_not_shown_from_a_stale_replica_page(stale_replica):
    from documents import replica, selectors
    from documents.models import Grant, Permission
    from tests.factories import UserFactory, make_document

    owner, viewer = UserFactory(), UserFactory()
    shared = make_document(owner, name="shared.pdf", title="Shared")
    kept = make_document(owner, name="kept.pdf", title="Kept")
    gone = make_document(owner, name="gone.pdf", title="Gone")
    for document in (shared, kept, gone):
        Grant.objects.create(document=document, user=viewer, permission=Permission.VIEW, granted_by=owner)
    stale_replica["page"] = selectors.documents_list(viewer, filters=selectors.DocumentFilters())
    stale_replica["page"].highlights = {shared.pk: {"field": "content", "snippet": "x"}}
    assert {d.pk for d in stale_replica["page"].documents} == {shared.pk, kept.pk, gone.pk}

    Grant.objects.filter(document=shared, user=viewer).delete()
    gone.delete()
    page = replica.documents_list(viewer, filters=selectors.DocumentFilters())

    assert [d.pk for d in page.documents] == [kept.pk]
    assert page.highlights == {}
    assert page.documents[0]._state.db == "default"


@pytest.mark.django_db
def test_an_owner_who_gave_the_document_away_does_not_keep_it_through_the_replica(stale_replica):
    from documents import replica, selectors
    from documents.models import Document
    from tests.factories import UserFactory, make_document

    before, after = UserFactory(), UserFactory()
    document = make_document(before, name="moved.pdf", title="Moved")
    stale_replica["page"] = selectors.documents_list(before, filters=selectors.DocumentFilters())
    Document.objects.filter(pk=document.pk).update(owner=after)

    assert replica.documents_list(before, filters=selectors.DocumentFilters()).documents == []


@pytest.mark.django_db
def test_a_did_you_mean_from_the_replica_is_asked_again_on_the_primary(stale_replica):
    from documents import replica, selectors
    from tests.factories import UserFactory

    person = UserFactory()
    stale_replica["page"] = selectors.DocumentPage(
        documents=[], number=1, per_page=20, has_next=False, did_you_mean="secretword"
    )
    page = replica.documents_list(person, filters=selectors.DocumentFilters(query="secretwrd"))
    assert page.did_you_mean != "secretword"


# --- manage.py check ------------------------------------------------------------------------------


def _databases(primary_engine: str, replica_host: str) -> dict:
    primary = {"ENGINE": primary_engine, "HOST": "db", "PORT": 5432, "NAME": "docuid"}
    return {"default": primary, "replica": {**primary, "HOST": replica_host}}


@pytest.mark.parametrize(
    ("databases", "ids"),
    [
        ({"default": {"ENGINE": "django.db.backends.sqlite3"}}, []),
        (_databases("django_prometheus.db.backends.postgresql", "replica1"), []),
        (_databases("django_prometheus.db.backends.postgresql", "db"), ["docuid.W010"]),
        (_databases("django_prometheus.db.backends.sqlite3", "replica1"), ["docuid.E010"]),
    ],
)
def test_the_replica_check_refuses_a_replica_of_sqlite_and_warns_of_one_that_is_the_primary(
    monkeypatch, databases, ids
):
    from types import SimpleNamespace

    from docuid import checks

    monkeypatch.setattr(checks, "settings", SimpleNamespace(DATABASES=databases))
    assert [message.id for message in checks.check_read_replica()] == ids
