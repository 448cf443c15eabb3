"""Issue #12, F8 and F9: a share link's view limit and password limit under attack."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse

from documents import services
from documents.models import Share

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def download_link(owner, document, *, max_views: int) -> tuple[Share, str]:
    share, token = services.share_create(acting_user=owner, document=document, access="download", max_views=max_views)
    return share, reverse("share:download", args=[token])


def views_of(share: Share) -> int:
    share.refresh_from_db()
    return share.view_count


# --- F8: the view limit ------------------------------------------------------------------


@pytest.mark.parametrize("header", ["garbage", "bytes=-999999", "bytes=00-", "bytes=0-", "bytes=1-2, 3-4", "bytes=9-3"])
def test_a_range_that_is_not_a_real_part_does_not_reopen_a_used_up_link(client, owner, document, header):
    share, url = download_link(owner, document, max_views=1)
    assert client.get(url).status_code == 200
    for _ in range(3):
        response = client.get(url, headers={"Range": header})
        assert response.status_code == 410
    assert views_of(share) == 1


@pytest.mark.parametrize("header", ["garbage", "bytes=-999999", "bytes=00-"])
def test_a_whole_file_range_from_the_counted_browser_is_a_new_view(client, owner, document, header):
    share, url = download_link(owner, document, max_views=2)
    assert client.get(url).status_code == 200
    assert client.get(url, headers={"Range": header}).status_code in {200, 206}
    assert views_of(share) == 2
    assert client.get(url, headers={"Range": header}).status_code == 410


def test_a_range_voided_by_if_range_is_not_a_free_whole_file(client, owner, document):
    share, url = download_link(owner, document, max_views=1)
    assert client.get(url).status_code == 200
    # If-Range of another version makes the answer the whole file, so it is not a continuation.
    response = client.get(url, headers={"Range": "bytes=1-", "If-Range": '"another-version"'})
    assert response.status_code == 410
    assert views_of(share) == 1


def test_a_range_with_the_current_if_range_continues_the_opening(client, owner, document):
    share, url = download_link(owner, document, max_views=1)
    assert client.get(url).status_code == 200
    etag = f'"{document.current_version.sha256}"'
    assert client.get(url, headers={"Range": "bytes=1-", "If-Range": etag}).status_code == 206
    assert views_of(share) == 1


def test_behind_nginx_any_if_range_makes_a_range_a_new_view(client, owner, document, settings):
    # nginx judges If-Range by its own validators and may send the whole file for it.
    settings.DOCUID_X_ACCEL_REDIRECT_PREFIX = "/protected-media/"
    share, url = download_link(owner, document, max_views=1)
    assert client.get(url).status_code == 200
    etag = f'"{document.current_version.sha256}"'
    assert client.get(url, headers={"Range": "bytes=1-", "If-Range": etag}).status_code == 410
    response = client.get(url, headers={"Range": "bytes=1-"})
    assert response.status_code == 200 and "X-Accel-Redirect" in response
    assert views_of(share) == 1


def test_real_parts_of_a_counted_opening_stay_one_view(client, owner, document):
    share, url = download_link(owner, document, max_views=1)
    size = document.current_version.size
    assert client.get(url, headers={"Range": "bytes=0-99"}).status_code == 206
    assert client.get(url, headers={"Range": "bytes=0-49"}).status_code == 206
    assert client.get(url, headers={"Range": f"bytes=100-{size - 1}"}).status_code == 206
    assert client.get(url, headers={"Range": "bytes=-10"}).status_code == 206
    assert views_of(share) == 1


def test_a_browser_without_the_opening_pays_a_view_for_any_range(client, owner, document):
    share, url = download_link(owner, document, max_views=2)
    assert client.get(url).status_code == 200
    # Another browser (another person, another network): its ranges are a new view...
    assert Client().get(url, headers={"Range": "bytes=100-199"}).status_code == 206
    assert views_of(share) == 2
    # ...and once the views are used, a third gets nothing, whatever it asks for.
    for header in ("bytes=100-199", "bytes=1-", "garbage"):
        assert Client().get(url, headers={"Range": header}).status_code == 410
    assert views_of(share) == 2


def test_an_opening_ends_after_its_time(client, owner, document, settings):
    share, url = download_link(owner, document, max_views=1)
    assert client.get(url).status_code == 200
    settings.DOCUID_SHARE_OPENING_SECONDS = 0
    assert client.get(url, headers={"Range": "bytes=100-199"}).status_code == 410
    assert views_of(share) == 1


def test_head_requests_never_use_up_views(client, owner, document):
    share, url = download_link(owner, document, max_views=2)
    open_url = url.replace("/download", "/open")
    for _ in range(3):
        response = client.head(url)
        assert response.status_code == 200
        assert response.content == b""
        assert response["Content-Length"] == str(document.current_version.size)
        assert client.head(open_url).status_code == 200
        assert Client().head(url, headers={"Range": "bytes=0-"}).status_code == 200
    assert views_of(share) == 0
    assert client.get(url).status_code == 200
    assert Client().get(url).status_code == 200
    assert Client().head(url).status_code == 410  # used up: HEAD learns nothing more either
    assert views_of(share) == 2


# --- F9: the password limit --------------------------------------------------------------


def _guess_concurrently(token: str, monkeypatch, *, guesses: int) -> tuple[int, list[int]]:
    """Send `guesses` wrong passwords at once; returns how many were checked, and the statuses."""
    checked = []
    lock = threading.Lock()
    all_in = threading.Event()

    def slow_check(share, password):
        # Hold every check open until all guesses have arrived (or a second has passed), so
        # a limit that looks before it counts lets every racing guess through.
        with lock:
            checked.append(password)
            if len(checked) == guesses:
                all_in.set()
        all_in.wait(timeout=1.0)
        return False

    monkeypatch.setattr(services, "share_password_matches", slow_check)
    # The audit trail is not under test here, and SQLite would refuse concurrent writers.
    monkeypatch.setattr(services, "share_access_record", lambda **kwargs: True)
    url = reverse("share:link", args=[token])

    def guess(i: int) -> int:
        try:
            return Client().post(url, {"password": f"wrong guess {i}"}).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=guesses) as pool:
        statuses = list(pool.map(guess, range(guesses)))
    return len(checked), statuses


def _password_link(document) -> str:
    _, token = services.share_create(acting_user=document.owner, document=document, password="correct horse")
    return token


@pytest.mark.django_db(transaction=True)
def test_concurrent_password_guesses_never_pass_the_limit(owner, document, monkeypatch, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "f9"}}
    token = _password_link(document)
    checked, statuses = _guess_concurrently(token, monkeypatch, guesses=20)
    assert checked <= settings.DOCUID_SHARE_PASSWORD_ATTEMPTS == 5
    assert statuses.count(403) == checked
    assert statuses.count(429) == 20 - checked


@pytest.mark.django_db(transaction=True)
def test_concurrent_password_guesses_never_pass_the_limit_on_redis(owner, document, monkeypatch, settings, redis_url):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "test-f9",
        }
    }
    cache.clear()
    token = _password_link(document)
    checked, statuses = _guess_concurrently(token, monkeypatch, guesses=20)
    assert checked <= 5
    assert statuses.count(429) == 20 - checked


def test_right_passwords_do_not_spend_the_budget_for_wrong_ones(owner, document):
    token = _password_link(document)
    url = reverse("share:link", args=[token])
    for _ in range(8):  # eight recipients, each with the right password
        assert Client().post(url, {"password": "correct horse"}).status_code == 302
    statuses = [Client().post(url, {"password": f"guess {i}"}).status_code for i in range(6)]
    assert statuses == [403] * 5 + [429]
