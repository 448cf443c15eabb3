"""Token lifecycle: expiry, rotation, reuse detection, revocation, cookie and bearer, deactivated people."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.context import ClientContext
from accounts.models import ApiToken
from accounts.services import api_tokens
from accounts.services.api_tokens import ApiTokenGenerator, TokenError
from audit.models import AuditEvent
from tests.api.conftest import ADDIN_ORIGIN, ApiCaller, issue_token

pytestmark = pytest.mark.django_db


def later(**delta):
    moment = timezone.now() + timedelta(**delta)
    return ApiTokenGenerator(clock=lambda: moment)


def test_an_access_token_works_until_24_hours_and_not_after(owner):
    issued = issue_token(owner)
    assert api_tokens.api_token_authenticate(access_token=issued.access_token, generator=later(hours=23)) is not None
    assert (
        api_tokens.api_token_authenticate(access_token=issued.access_token, generator=later(hours=24, seconds=1))
        is None
    )


def test_an_expired_access_token_is_401_over_http(owner, api_key):
    issued = issue_token(owner)
    ApiToken.objects.update(access_expires_at=timezone.now() - timedelta(seconds=1))
    assert ApiCaller(api_key, token=issued.access_token).get("/api/auth/me").status_code == 401


def test_a_refresh_token_expires_after_7_days(owner):
    issued = issue_token(owner)
    with pytest.raises(TokenError):
        api_tokens.api_token_refresh(
            refresh_token=issued.refresh_token,
            client=None,
            client_context=ClientContext(),
            generator=later(days=7, seconds=1),
        )


def test_refreshing_rotates_and_ends_the_old_access_token(owner, api_key):
    issued = issue_token(owner)
    response = ApiCaller(api_key).post("/api/v1/auth/refresh", {"refreshToken": issued.refresh_token})
    new = response.json()
    assert ApiCaller(api_key, token=new["accessToken"]).get("/api/auth/me").status_code == 200
    assert ApiCaller(api_key, token=issued.access_token).get("/api/auth/me").status_code == 401
    assert ApiToken.objects.filter(family=issued.token.family).count() == 2


def test_reusing_a_spent_refresh_token_revokes_the_whole_family(owner, api_key):
    issued = issue_token(owner)
    caller = ApiCaller(api_key)
    rotated = caller.post("/api/v1/auth/refresh", {"refreshToken": issued.refresh_token}).json()
    replay = caller.post("/api/v1/auth/refresh", {"refreshToken": issued.refresh_token})
    assert replay.status_code == 401 and replay.json()["error"] == "INVALID_TOKEN"
    assert ApiCaller(api_key, token=rotated["accessToken"]).get("/api/auth/me").status_code == 401
    assert caller.post("/api/v1/auth/refresh", {"refreshToken": rotated["refreshToken"]}).status_code == 401
    assert AuditEvent.objects.filter(action="auth.token_revoked", data__reason="refresh_reuse").exists()


def test_a_refresh_token_from_another_api_client_is_refused(owner, api_key):
    client, _ = api_tokens.api_client_create(name="Partner")
    issued = issue_token(owner, client=client)
    assert ApiCaller(api_key).post("/api/v1/auth/refresh", {"refreshToken": issued.refresh_token}).status_code == 401


def test_an_access_token_is_not_a_refresh_token(owner, api_key):
    issued = issue_token(owner)
    assert ApiCaller(api_key).post("/api/v1/auth/refresh", {"refreshToken": issued.access_token}).status_code == 401


def test_logout_also_kills_the_refresh_token(owner, api_key):
    issued = issue_token(owner)
    ApiCaller(api_key, token=issued.access_token).post("/api/v1/auth/logout")
    assert ApiCaller(api_key).post("/api/v1/auth/refresh", {"refreshToken": issued.refresh_token}).status_code == 401


def test_a_deactivated_persons_token_stops_working_at_once(owner, api_key):
    issued = issue_token(owner)
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    assert ApiCaller(api_key, token=issued.access_token).get("/api/v1/documents").status_code == 401


def test_sign_out_everywhere_revokes_every_api_token(owner, api_key):
    first, second = issue_token(owner), issue_token(owner)
    assert api_tokens.api_tokens_revoke_all(user=owner, acting_user=owner, reason="everywhere") == 2
    for issued in (first, second):
        assert ApiCaller(api_key, token=issued.access_token).get("/api/auth/me").status_code == 401


def test_staff_revoking_a_token_ends_it(owner, api_key):
    issued = issue_token(owner)
    api_tokens.api_token_revoke(token=issued.token, acting_user=None, reason="staff")
    assert ApiCaller(api_key, token=issued.access_token).get("/api/auth/me").status_code == 401
    assert AuditEvent.objects.filter(action="auth.token_revoked", data__reason="staff").exists()


def test_deactivating_the_api_client_ends_its_tokens(owner, api_key):
    client, _ = api_tokens.api_client_create(name="Partner")
    issued = issue_token(owner, client=client)
    client.is_active = False
    client.save(update_fields=["is_active"])
    assert ApiCaller(api_key, token=issued.access_token).get("/api/auth/me").status_code == 401


def test_live_tokens_are_listed_for_the_profile(owner):
    issued = issue_token(owner)
    issue_token(owner).token.delete()
    assert api_tokens.api_tokens_for(user=owner) == [issued.token]


def test_tokens_are_stored_only_as_hashes(owner):
    issued = issue_token(owner)
    row = ApiToken.objects.get()
    assert issued.access_token not in (row.access_hash, row.refresh_hash)
    assert len(row.access_hash) == 64 and len(issued.access_token) >= 43


def test_a_garbage_bearer_token_is_401_not_500(api_key):
    for token in ("x", "dat_" + "A" * 300, "dat_\u00e9\u00e9"):
        response = ApiCaller(api_key).get("/api/v1/documents", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401


# --- the cookie --------------------------------------------------------------------------------


def test_the_cookie_authenticates_reads_without_an_api_key(owner):
    caller = ApiCaller()
    caller.client.cookies["token"] = issue_token(owner).access_token
    assert caller.get("/api/auth/me").status_code == 200


def test_a_cookie_authenticated_change_without_an_api_key_is_refused(owner):
    # What a cross-site form or script riding on the SameSite=None cookie looks like.
    caller = ApiCaller()
    caller.client.cookies["token"] = issue_token(owner).access_token
    response = caller.post("/api/auth/logout", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert caller.get("/api/auth/me").status_code == 200  # still signed in: the forged logout did nothing


def test_a_cookie_authenticated_change_from_an_origin_the_client_does_not_list_is_refused(owner, api_key):
    caller = ApiCaller(api_key)
    caller.client.cookies["token"] = issue_token(owner).access_token
    assert caller.post("/api/auth/logout", headers={"Origin": "https://evil.example"}).status_code == 403


def test_a_cookie_authenticated_change_with_the_clients_key_and_origin_works(owner, api_key):
    caller = ApiCaller(api_key)
    caller.client.cookies["token"] = issue_token(owner).access_token
    assert caller.post("/api/auth/logout", headers={"Origin": ADDIN_ORIGIN}).status_code == 200


def test_the_profiles_sign_out_everywhere_also_ends_api_tokens(owner, api_key):
    from accounts.services import user_sessions_revoke_all

    issued = issue_token(owner)
    user_sessions_revoke_all(user=owner, acting_user=owner)
    assert ApiCaller(api_key, token=issued.access_token).get("/api/auth/me").status_code == 401


def test_apiclient_create_prints_a_working_key_once(approver):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("apiclient_create", "Partner app", "--origin", "https://partner.example", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    assert key.startswith("dk_")
    assert ApiCaller(key).post("/api/biometric/auth-request", {"mobile": "+12025550100"}).status_code == 200
    from accounts.models import ApiClient

    client = ApiClient.objects.get(name="Partner app")
    assert client.origins == ["https://partner.example"] and key not in client.key_hash


def test_apiclient_create_refuses_a_bad_origin():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError):
        call_command("apiclient_create", "Bad", "--origin", "javascript:alert(1)")
