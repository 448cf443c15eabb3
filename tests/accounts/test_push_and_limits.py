import json
import uuid

import pytest
from django.urls import reverse

from accounts import ratelimit, services
from accounts.context import ClientContext
from accounts.models import PushSubscription
from tests.accounts.test_profile_admin_commands import sign_in_with_passkey

pytestmark = pytest.mark.django_db

SUBSCRIPTION = {"endpoint": "https://push.example.net/send/abc", "keys": {"p256dh": "BPk", "auth": "xyz"}}


@pytest.fixture
def approved_token(client, webauthn_provider, enrolled):
    user, authenticator = enrolled
    sign_in_with_passkey(client, user, authenticator)
    from accounts.views.login import CLAIMS_KEY

    return next(iter(client.session[CLAIMS_KEY].values()))["qr_url"].rstrip("/").rsplit("/", 1)[-1], user


def test_the_phone_that_just_approved_can_subscribe_to_push(client, approved_token):
    token, user = approved_token
    response = client.post(
        reverse("accounts:approve-push", args=[token]), json.dumps(SUBSCRIPTION), content_type="application/json"
    )
    assert response.status_code == 201
    assert PushSubscription.objects.get().user == user


def test_a_pending_request_link_cannot_subscribe_someone_elses_notifications(client, webauthn_provider, enrolled):
    user, _ = enrolled
    login_request, _ = services.login_request_start(phone_number=user.phone_number, client_context=ClientContext())
    token = login_request.approval_url.rstrip("/").rsplit("/", 1)[-1]
    response = client.post(
        reverse("accounts:approve-push", args=[token]), json.dumps(SUBSCRIPTION), content_type="application/json"
    )
    assert response.status_code == 403
    assert PushSubscription.objects.count() == 0


def test_a_subscription_that_is_not_https_is_refused(client, approved_token):
    token, _ = approved_token
    bad = {**SUBSCRIPTION, "endpoint": "http://169.254.169.254/latest"}
    response = client.post(
        reverse("accounts:approve-push", args=[token]), json.dumps(bad), content_type="application/json"
    )
    assert response.status_code == 400 and PushSubscription.objects.count() == 0


def test_the_service_worker_is_served_from_the_root_with_a_site_wide_scope(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript") and response["Service-Worker-Allowed"] == "/"
    assert b"notificationclick" in response.content


def test_limits_count_in_a_fixed_window_and_say_when_to_retry():
    limit = ratelimit.Limit("test", 2, 60)
    assert ratelimit.hit(limit, "a", now=120.0).allowed
    assert ratelimit.hit(limit, "a", now=130.0).allowed
    verdict = ratelimit.hit(limit, "a", now=150.0)
    assert not verdict.allowed and verdict.retry_after == 30
    assert ratelimit.hit(limit, "b", now=150.0).allowed
    assert ratelimit.hit(limit, "a", now=181.0).allowed


@pytest.mark.redis
def test_limits_are_shared_through_redis_when_it_is_configured(settings, redis_url):
    prefix = f"accounts-test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": prefix,
        }
    }
    from django.core.cache import cache

    limit = ratelimit.Limit("redis-test", 1, 60)
    assert ratelimit.hit(limit, "+13125550100").allowed
    assert not ratelimit.hit(limit, "+13125550100").allowed
    client = cache._cache.get_client()
    keys = client.keys(f"{prefix}:*")
    # Never FLUSHDB here: CI's Redis database is shared by the whole suite.
    assert keys and all(b"3125550100" not in key for key in keys)
    client.delete(*keys)
