"""Issue #16 item 3: a rate-limit count is one cache round trip on the Redis cache production runs.

Production's cache is django-redis (under django-prometheus' wrapper), not Django's own
RedisCache: the counter used to take the add + incr path there, two round trips per API
call. These tests count the commands that reach Redis.
"""

import uuid

import pytest
import redis
from django.core.cache import caches

from accounts import ratelimit
from documents import throttle
from tests.api.conftest import ApiCaller, issue_token


@pytest.fixture
def redis_cache(settings, redis_url):
    """The production cache backend on the test's Redis, under a prefix of its own."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django_prometheus.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"test-counters-{uuid.uuid4().hex[:8]}",
        }
    }
    yield caches["default"]
    caches["default"].clear()


@pytest.fixture
def commands(monkeypatch):
    """Every command sent to Redis while the test runs, by name; "(other)" when it is not a counter's."""
    sent: list[str] = []
    original = redis.Redis.execute_command

    def counting(self, *args, **options):
        name = str(args[0]).upper()
        # EVAL script numkeys key ...; GET key; SET key ...: keep the key that was touched.
        key = args[3] if name in {"EVAL", "EVALSHA"} and len(args) > 3 else (args[1] if len(args) > 1 else "")
        sent.append(
            name if ":rl:" in str(key) or "api-rl:" in str(key) or "share-password" in str(key) else f"{name} (other)"
        )
        return original(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counting)
    return sent


def test_a_count_is_one_script_call_that_sets_the_expiry_once(redis_cache, commands):
    counts = [ratelimit.incr("api-rl:probe", timeout=30) for _ in range(3)]
    assert counts == [1, 2, 3]
    assert commands == ["EVAL", "EVAL", "EVAL"]
    raw = redis_cache.client.get_client(write=True)
    assert 0 < raw.ttl(redis_cache.make_and_validate_key("api-rl:probe")) <= 30


def test_an_expired_counter_starts_a_new_window(redis_cache, commands):
    ratelimit.incr("api-rl:probe", timeout=30)
    redis_cache.client.get_client(write=True).delete(redis_cache.make_and_validate_key("api-rl:probe"))
    assert ratelimit.incr("api-rl:probe", timeout=30) == 1


def test_an_api_call_costs_one_redis_round_trip(redis_cache, commands, other, api_key):
    reader = ApiCaller(api_key, token=issue_token(other).access_token)
    reader.get("/api/v1/documents")  # the token's last-used touch happens once a minute
    commands.clear()
    response = reader.get("/api/v1/documents")
    assert response.status_code == 200
    assert response["X-RateLimit-Remaining"] == str(int(response["X-RateLimit-Limit"]) - 2)
    # The maintenance-mode check reads its flag too (operations.maintenance); the limit is one call.
    assert [c for c in commands if not c.endswith("(other)")] == ["EVAL"]


def test_the_limit_still_refuses_past_its_budget(redis_cache, commands, settings, other, api_key):
    settings.DOCUID_API_RATES = {**settings.DOCUID_API_RATES, "list": "2/min"}
    reader = ApiCaller(api_key, token=issue_token(other).access_token)
    assert [reader.get("/api/v1/documents").status_code for _ in range(3)] == [200, 200, 429]


def test_a_share_password_attempt_is_one_round_trip(redis_cache, commands, settings):
    settings.DOCUID_SHARE_PASSWORD_ATTEMPTS = 2
    assert [throttle.share_password_attempt(7) for _ in range(3)] == [True, True, False]
    assert commands == ["EVAL", "EVAL", "EVAL"]
    throttle.share_password_succeeded(7)  # a right password gives its attempt back
    assert throttle.share_password_attempt(7) is False  # 3 - 1 + 1 = 3 > 2
