"""Attacks on the API's rate limits: made-up credentials and many addresses must not buy fresh budgets."""

import secrets
from types import SimpleNamespace

import pytest

from tests.api.conftest import ApiCaller, issue_token

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def one_rate_window(monkeypatch):
    """The limits count in fixed windows: a test's requests must not straddle a window's end."""
    monkeypatch.setattr("api.throttling.time", SimpleNamespace(time=lambda: 1_800_000_000.5))


def logins(callers, n: int):
    return [callers[i % len(callers)].post("/api/v1/auth/login", {"phoneNumber": "12"}) for i in range(n)]


def test_a_random_bearer_token_on_each_call_does_not_reset_the_login_limit(api_key):
    callers = [ApiCaller(api_key, token="dat_" + secrets.token_urlsafe(32)) for _ in range(9)]
    responses = logins(callers, 9)
    assert [r.status_code for r in responses] == [400] * 5 + [429] * 4
    assert [r["X-RateLimit-Remaining"] for r in responses[:5]] == ["4", "3", "2", "1", "0"]


def test_a_random_token_cookie_on_each_call_does_not_reset_the_login_limit(api_key):
    callers = [ApiCaller(api_key) for _ in range(7)]
    for caller in callers:
        caller.client.cookies["token"] = "dat_" + secrets.token_urlsafe(32)
    assert [r.status_code for r in logins(callers, 7)][-2:] == [429, 429]


def test_a_random_api_key_on_each_call_does_not_reset_the_login_limit(api_key):
    callers = [ApiCaller("dk_" + secrets.token_urlsafe(32)) for _ in range(7)]
    assert [r.status_code for r in logins(callers, 7)][-2:] == [429, 429]


def test_addresses_of_one_ipv6_64_share_one_budget(api_key):
    callers = [ApiCaller(api_key, ip=f"2001:db8:1:2::{i:x}") for i in range(1, 8)]
    assert [r.status_code for r in logins(callers, 7)] == [400] * 5 + [429] * 2


def test_a_verified_token_has_its_own_budget_apart_from_its_network(api_key, owner):
    assert logins([ApiCaller(api_key)], 6)[-1].status_code == 429
    signed_in = ApiCaller(api_key, token=issue_token(owner).access_token)
    response = signed_in.post("/api/v1/auth/login", {"phoneNumber": "12"})
    assert response.status_code == 400 and response["X-RateLimit-Remaining"] == "4"


def test_tokens_of_one_person_share_that_persons_budget(api_key, owner):
    callers = [ApiCaller(api_key, token=issue_token(owner).access_token, ip=f"198.51.{i}.9") for i in range(7)]
    assert [r.status_code for r in logins(callers, 7)][-2:] == [429, 429]
