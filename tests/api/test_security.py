"""Attacks on the API: stealing a login, reaching others' documents, keys, floods, hostile input, CORS."""

import pytest

from accounts.models import ApiToken
from accounts.services.api_tokens import api_client_create
from documents.models import Grant, Share
from tests.api.conftest import ADDIN_ORIGIN, APPROVES, ApiCaller, office_documents

pytestmark = pytest.mark.django_db


# --- the claim-binding attack ----------------------------------------------------------------


def test_an_attacker_polling_the_victims_number_from_another_client_gets_no_token(caller, approver):
    _attacker_client, attacker_key = api_client_create(name="Attacker app")
    attacker = ApiCaller(attacker_key, ip="198.51.100.9")
    caller.post("/api/biometric/auth-request", {"mobile": APPROVES, "requestFrom": "DocuID"})
    # The victim approves (the simulator approves at once); the attacker polls first.
    for _ in range(3):
        response = attacker.post("/api/biometric/auth-result", {"mobile": APPROVES})
        assert response.status_code == 404 and "token" not in response.json()
    assert ApiToken.objects.count() == 0
    victim = caller.post("/api/biometric/auth-result", {"mobile": APPROVES})
    assert victim.status_code == 200 and ApiToken.objects.get().user == approver


def test_an_attacker_with_the_same_api_key_but_no_claim_cookie_gets_no_token(caller, api_key, approver):
    caller.post("/api/biometric/auth-request", {"mobile": APPROVES})
    response = ApiCaller(api_key).post("/api/biometric/auth-result", {"mobile": APPROVES})
    assert response.status_code == 404 and ApiToken.objects.count() == 0


def test_a_stolen_claim_cookie_used_from_another_network_gets_no_token(caller, api_key, approver):
    caller.post("/api/biometric/auth-request", {"mobile": APPROVES})
    thief = ApiCaller(api_key, ip="198.51.100.9")
    thief.client.cookies["docuid_login_claim"] = caller.client.cookies["docuid_login_claim"].value
    assert thief.post("/api/biometric/auth-result", {"mobile": APPROVES}).status_code == 404
    assert ApiToken.objects.count() == 0


def test_a_stolen_claim_cookie_used_through_another_api_client_gets_no_token(caller, approver):
    _, other_key = api_client_create(name="Other app")
    caller.post("/api/biometric/auth-request", {"mobile": APPROVES})
    thief = ApiCaller(other_key)
    thief.client.cookies["docuid_login_claim"] = caller.client.cookies["docuid_login_claim"].value
    assert thief.post("/api/biometric/auth-result", {"mobile": APPROVES}).status_code == 404
    assert ApiToken.objects.count() == 0


def test_a_claim_cookie_for_one_number_does_not_collect_another(caller, approver, silent):
    caller.post("/api/biometric/auth-request", {"mobile": "+12025550102"})
    assert caller.post("/api/biometric/auth-result", {"mobile": APPROVES}).status_code == 404


def test_a_forged_claim_cookie_gets_no_token(caller, approver):
    caller.post("/api/biometric/auth-request", {"mobile": APPROVES})
    value = caller.client.cookies["docuid_login_claim"].value
    caller.client.cookies["docuid_login_claim"] = value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB")
    assert caller.post("/api/biometric/auth-result", {"mobile": APPROVES}).status_code == 404


def test_a_v1_session_id_cannot_be_verified_by_another_client(caller, approver):
    login = caller.post("/api/v1/auth/login", {"phoneNumber": APPROVES}).json()
    _, other_key = api_client_create(name="Other app")
    thief = ApiCaller(other_key, ip="198.51.100.9")
    response = thief.get(f"/api/v1/auth/verify/{login['sessionId']}", headers={"X-Claim-Secret": login["claimSecret"]})
    assert response.status_code == 403 and ApiToken.objects.count() == 0


def test_a_claim_secret_of_one_session_does_not_verify_another(caller, approver, silent):
    first = caller.post("/api/v1/auth/login", {"phoneNumber": "+12025550102"}).json()
    second = caller.post("/api/v1/auth/login", {"phoneNumber": APPROVES}).json()
    response = caller.get(
        f"/api/v1/auth/verify/{second['sessionId']}", headers={"X-Claim-Secret": first["claimSecret"]}
    )
    assert response.status_code == 403 and ApiToken.objects.count() == 0


# --- cross-user document access ---------------------------------------------------------------


def document_routes(pk: int) -> list[tuple[str, str, dict | None]]:
    return [
        ("get", f"/api/dashboard/documents/{pk}", None),
        ("get", f"/api/dashboard/documents/{pk}/access", None),
        ("get", f"/api/documents/{pk}/download", None),
        ("get", f"/api/documents/{pk}/content", None),
        ("get", f"/api/docuid/documents/{pk}/content", None),
        ("post", "/api/dashboard/shares/optimized", {"documentId": pk, "recipients": {"email": "x@example.com"}}),
        ("get", f"/api/v1/documents/{pk}", None),
        ("get", f"/api/v1/documents/{pk}/content", None),
        ("get", f"/api/v1/documents/{pk}/download", None),
    ]


def test_another_persons_document_is_404_through_every_api_route(other_caller, owner):
    document = office_documents(owner)["word"]
    for method, path, body in document_routes(document.pk):
        response = getattr(other_caller, method)(path, body) if body else getattr(other_caller, method)(path)
        assert response.status_code == 404, (path, response.status_code)
    assert Share.objects.count() == 0


def test_another_persons_document_never_appears_in_lists_or_search(other_caller, owner):
    office_documents(owner)
    for family in ("word-files", "excel-files", "powerpoint-files"):
        assert other_caller.get(f"/api/dashboard/documents/{family}").json()["data"]["files"] == []
    assert other_caller.get("/api/v1/documents").json()["data"]["documents"] == []
    assert other_caller.post("/api/v1/documents/search", {"query": "Budget"}).json()["data"]["documents"] == []


def test_an_expired_grant_gives_no_access_through_the_api(other_caller, owner, other):
    from datetime import timedelta

    from django.utils import timezone

    document = office_documents(owner)["word"]
    Grant.objects.create(document=document, user=other, permission="download", expires_at=timezone.now() - timedelta(1))
    assert other_caller.get(f"/api/v1/documents/{document.pk}").status_code == 404


def test_an_access_link_made_for_one_document_does_not_open_another(owner_caller, owner):
    documents = office_documents(owner)
    url = owner_caller.get(f"/api/dashboard/documents/{documents['word'].pk}/access").json()["data"]["document"][
        "access"
    ]["url"]
    signature = url.split("sig=")[1]
    response = ApiCaller().get(f"/api/documents/{documents['excel'].pk}/download", {"sig": signature})
    assert response.status_code == 401


def test_an_access_link_stops_working_when_the_grant_is_removed(other_caller, owner, other):
    document = office_documents(owner)["word"]
    grant = Grant.objects.create(document=document, user=other, permission="download")
    url = other_caller.get(f"/api/dashboard/documents/{document.pk}/access").json()["data"]["document"]["access"]["url"]
    grant.delete()
    assert ApiCaller().get(url).status_code == 404


def test_a_view_only_grantee_cannot_share(other_caller, owner, other):
    document = office_documents(owner)["word"]
    Grant.objects.create(document=document, user=other, permission="view")
    response = other_caller.post(
        "/api/dashboard/shares/optimized", {"documentId": document.pk, "recipients": {"email": "x@example.com"}}
    )
    assert response.status_code == 403 and Share.objects.count() == 0


# --- API keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/biometric/auth-request", "/api/v1/auth/login"])
def test_the_biometric_endpoints_refuse_a_missing_key(approver, path):
    response = ApiCaller().post(path, {"mobile": APPROVES, "phoneNumber": APPROVES})
    assert response.status_code == 401


@pytest.mark.parametrize("key", ["wrong", "dk_" + "A" * 43, "dk_\u00e9"])
def test_the_biometric_endpoints_refuse_a_wrong_key(approver, key):
    assert ApiCaller(key).post("/api/biometric/auth-request", {"mobile": APPROVES}).status_code == 401


def test_a_revoked_key_is_refused_at_once(approver, api_key):
    from accounts.models import ApiClient

    ApiClient.objects.update(is_active=False)
    assert ApiCaller(api_key).post("/api/biometric/auth-request", {"mobile": APPROVES}).status_code == 401


def test_keys_can_be_made_optional_but_a_wrong_one_is_still_refused(settings, approver):
    settings.DOCUID_API_REQUIRE_KEY = False
    assert ApiCaller().post("/api/biometric/auth-request", {"mobile": APPROVES}).status_code == 200
    assert ApiCaller("wrong").post("/api/biometric/auth-request", {"mobile": APPROVES}).status_code == 401


# --- rate limits ---------------------------------------------------------------------------------


@pytest.fixture
def one_rate_window(monkeypatch):
    """The limits count in fixed windows: a test's requests must not straddle a window's end."""
    from types import SimpleNamespace

    monkeypatch.setattr("api.throttling.time", SimpleNamespace(time=lambda: 1_800_000_000.5))


def test_every_api_response_carries_rate_limit_headers(caller, owner_caller):
    for response in (
        caller.get("/api/auth/me"),  # 401
        owner_caller.get("/api/v1/documents"),  # 200
        owner_caller.get("/api/v1/documents/424242"),  # 404
        caller.post("/api/v1/auth/login", raw="{nope"),  # 400
    ):
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(response.headers), response


def test_the_sixth_login_in_a_minute_is_429_with_retry_after(caller, approver, one_rate_window):
    responses = [caller.post("/api/v1/auth/login", {"phoneNumber": "12"}) for _ in range(6)]
    assert [r.status_code for r in responses] == [400] * 5 + [429]
    assert [r["X-RateLimit-Remaining"] for r in responses[:5]] == ["4", "3", "2", "1", "0"]
    assert responses[-1].json()["error"] == "RATE_LIMIT_EXCEEDED"
    assert 1 <= int(responses[-1]["Retry-After"]) <= 60


def test_the_add_in_gets_its_429_in_its_own_shape(caller, approver, one_rate_window):
    for _ in range(5):
        caller.post("/api/biometric/auth-request", {"mobile": "12"})
    response = caller.post("/api/biometric/auth-request", {"mobile": APPROVES})
    assert response.status_code == 429 and response.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert response["Retry-After"]


def test_content_is_limited_to_30_a_minute_per_caller(owner_caller, other_caller, owner, settings, one_rate_window):
    settings.DOCUID_API_RATES = {**settings.DOCUID_API_RATES, "content": "2/min"}
    document = office_documents(owner)["pdf"]
    codes = [owner_caller.get(f"/api/v1/documents/{document.pk}/download").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert other_caller.get("/api/v1/documents").status_code == 200  # another caller, another budget


# --- hostile input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/api/v1/auth/login", "{not json"),
        ("/api/v1/auth/login", "[]"),
        ("/api/v1/auth/login", '"just a string"'),
        ("/api/v1/auth/login", '{"phoneNumber": 12025550100}'),
        ("/api/v1/auth/login", '{"phoneNumber": ["+12025550100"]}'),
        ("/api/v1/auth/login", '{"phoneNumber": "+12025550100", "admin": true}'),
        ("/api/v1/auth/refresh", '{"refreshToken": null}'),
        ("/api/biometric/auth-request", '{"mobile": {"$gt": ""}}'),
        ("/api/biometric/auth-result", "\x00\xff"),
    ],
)
def test_malformed_bodies_are_400_never_500(caller, path, raw):
    response = caller.post(path, raw=raw)
    assert response.status_code == 400, response.content
    assert response.json()["success"] is False


def test_an_unknown_field_is_named_in_the_details(caller):
    response = caller.post("/api/v1/auth/login", {"phoneNumber": "+12025550100", "admin": True})
    assert response.json()["details"] == {"admin": ["Unknown field."]}


def test_an_oversize_body_is_400(caller):
    response = caller.post("/api/v1/auth/login", {"phoneNumber": "+12025550100", "pad": "x" * 70_000})
    assert response.status_code == 400 and response.json()["error"] == "VALIDATION_ERROR"


def test_wrong_types_in_search_are_400_with_details(owner_caller):
    response = owner_caller.post("/api/v1/documents/search", {"query": 5, "page": "two", "filters": {"type": "pdf"}})
    body = response.json()
    assert response.status_code == 400 and {"page", "filters"} <= set(body["details"])


def test_form_encoded_bodies_are_415_not_500(owner_caller):
    response = owner_caller.client.post(
        "/api/v1/documents/search",
        "query=x",
        content_type="application/x-www-form-urlencoded",
        headers=owner_caller.headers(),
    )
    assert response.status_code == 415 and response.json()["error"] == "UNSUPPORTED_FORMAT"


# --- CORS -------------------------------------------------------------------------------------------


def test_cors_allows_a_registered_clients_origin_with_credentials(caller):
    response = caller.client.options(
        "/api/biometric/auth-request",
        headers={
            "Origin": ADDIN_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key, content-type",
        },
    )
    assert response["Access-Control-Allow-Origin"] == ADDIN_ORIGIN
    assert response["Access-Control-Allow-Credentials"] == "true"


def test_cors_ignores_an_unregistered_origin(caller):
    response = caller.client.options(
        "/api/biometric/auth-request",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.redis
def test_rate_limits_are_counted_in_redis_shared_by_every_process(caller, settings, redis_url):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "docuid-api-test",
        }
    }
    from django.core.cache import cache

    cache.clear()
    codes = [caller.post("/api/v1/auth/login", {"phoneNumber": "12"}).status_code for _ in range(6)]
    assert codes == [400] * 5 + [429]
    assert any(key for key in cache._cache.get_client().keys("docuid-api-test:*api-rl:auth:*"))
    cache.clear()
