import contextlib
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts import services
from accounts.context import ClientContext
from accounts.models import FraudReport, LoginRequest
from accounts.tokens import default_secret_generator
from audit.models import AuditEvent
from tests.accounts.conftest import enroll
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

APPROVES, DENIES, NEVER = "+12025550100", "+12025550101", "+12025550102"


def actions():
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def start(phone, ctx=None):
    return services.login_request_start(phone_number=phone, client_context=ctx or ClientContext(ip="198.51.100.1"))


def token_of(login_request):
    return login_request.approval_url.rstrip("/").rsplit("/", 1)[-1]


# --- start -------------------------------------------------------------------------


def test_a_login_request_is_pending_with_a_two_digit_match_code_and_a_five_minute_expiry(client_context):
    user = UserFactory(phone_number=APPROVES)
    login_request, _ = start("+1 202 555 0100", client_context)
    assert login_request.user == user
    assert login_request.status == LoginRequest.Status.PENDING
    assert len(login_request.match_code) == 2 and login_request.match_code.isdigit()
    assert timedelta(seconds=299) < login_request.expires_at - login_request.created_at <= timedelta(seconds=300)
    assert login_request.browser.startswith("Chrome") and login_request.os == "Windows"
    assert login_request.ip_masked == "203.0.113.x"
    assert actions() == ["auth.request"]


def test_the_claim_secret_and_the_approval_token_are_stored_only_as_hashes():
    UserFactory(phone_number=APPROVES)
    login_request, claim_secret = start(APPROVES)
    stored = LoginRequest.objects.filter(pk=login_request.pk).values().get()
    token = token_of(login_request)
    assert claim_secret not in str(stored) and token not in str(stored)
    assert stored["claim_secret_hash"] == default_secret_generator.hash(claim_secret)
    assert stored["approval_token_hash"] == default_secret_generator.hash(token)


def test_an_unknown_number_gets_a_request_like_any_other_that_nobody_can_approve():
    login_request, claim_secret = start("+13125550199")
    assert login_request.user is None and login_request.status == LoginRequest.Status.PENDING
    assert login_request.approval_url and claim_secret
    assert services.login_request_refresh(request_id=login_request.pk).status == LoginRequest.Status.PENDING


def test_a_malformed_phone_number_is_refused_with_a_clear_error():
    with pytest.raises(ValidationError) as exc:
        start("not a number")
    assert "valid phone number" in exc.value.messages[0]


def test_with_the_webauthn_provider_an_unenrolled_person_is_treated_like_an_unknown_number(webauthn_provider):
    UserFactory(phone_number="+13125550111")
    login_request, _ = start("+13125550111")
    assert login_request.user is None


# --- simulator ---------------------------------------------------------------------


def test_the_simulator_approves_the_demo_number_on_the_first_poll_after_the_delay(settings):
    settings.DOCUID_SIMULATOR_APPROVE_DELAY_SECONDS = 2
    UserFactory(phone_number=APPROVES)
    login_request, _ = start(APPROVES)
    assert services.login_request_refresh(request_id=login_request.pk).status == LoginRequest.Status.PENDING
    LoginRequest.objects.filter(pk=login_request.pk).update(created_at=timezone.now() - timedelta(seconds=3))
    assert services.login_request_refresh(request_id=login_request.pk).status == LoginRequest.Status.APPROVED
    assert actions() == ["auth.request", "auth.approved"]


def test_the_simulator_denies_the_deny_number():
    UserFactory(phone_number=DENIES)
    login_request, _ = start(DENIES)
    assert services.login_request_refresh(request_id=login_request.pk).status == LoginRequest.Status.DENIED
    assert actions()[-1] == "auth.denied"


def test_the_simulator_never_answers_for_the_timeout_number_and_the_request_expires():
    UserFactory(phone_number=NEVER)
    login_request, _ = start(NEVER)
    assert services.login_request_refresh(request_id=login_request.pk).status == LoginRequest.Status.PENDING
    LoginRequest.objects.filter(pk=login_request.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.login_request_refresh(request_id=login_request.pk).status == LoginRequest.Status.EXPIRED
    assert actions()[-1] == "auth.expired"
    # Nobody acted: an expiry is not something the number's owner did (their activity history).
    assert AuditEvent.objects.get(action="auth.expired").actor is None


def test_the_simulator_approves_any_other_person_in_the_demo_data():
    UserFactory(phone_number="+13125550123")
    login_request, _ = start("+13125550123")
    assert services.login_request_refresh(request_id=login_request.pk).status == LoginRequest.Status.APPROVED


# --- claim -------------------------------------------------------------------------


def approved_request(phone=APPROVES):
    UserFactory(phone_number=phone)
    login_request, claim_secret = start(phone)
    services.login_request_refresh(request_id=login_request.pk)
    return login_request, claim_secret


def test_the_holder_of_the_claim_secret_consumes_an_approved_request():
    login_request, claim_secret = approved_request()
    claimed = services.login_request_claim(request_id=login_request.pk, claim_secret=claim_secret)
    assert claimed.status == LoginRequest.Status.CONSUMED and claimed.user.phone_number == APPROVES


def test_a_consumed_request_cannot_be_claimed_again():
    login_request, claim_secret = approved_request()
    services.login_request_claim(request_id=login_request.pk, claim_secret=claim_secret)
    with pytest.raises(services.LoginError) as exc:
        services.login_request_claim(request_id=login_request.pk, claim_secret=claim_secret)
    assert exc.value.code == "replayed"


def test_another_client_cannot_claim_an_approved_request_without_its_secret():
    login_request, _ = approved_request()
    for guess in ("", "x" * 43, default_secret_generator.make()[0]):
        with pytest.raises(services.LoginError) as exc:
            services.login_request_claim(request_id=login_request.pk, claim_secret=guess)
        assert exc.value.code == "not_yours"
    assert LoginRequest.objects.get(pk=login_request.pk).status == LoginRequest.Status.APPROVED


def test_a_pending_request_cannot_be_claimed():
    UserFactory(phone_number=NEVER)
    login_request, claim_secret = start(NEVER)
    with pytest.raises(services.LoginError) as exc:
        services.login_request_claim(request_id=login_request.pk, claim_secret=claim_secret)
    assert exc.value.code == "pending"


def test_an_approved_request_not_claimed_in_time_expires():
    login_request, claim_secret = approved_request()
    LoginRequest.objects.filter(pk=login_request.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(services.LoginError) as exc:
        services.login_request_claim(request_id=login_request.pk, claim_secret=claim_secret)
    assert exc.value.code == "expired"


def test_a_denied_request_cannot_be_claimed():
    UserFactory(phone_number=DENIES)
    login_request, claim_secret = start(DENIES)
    services.login_request_refresh(request_id=login_request.pk)
    with pytest.raises(services.LoginError) as exc:
        services.login_request_claim(request_id=login_request.pk, claim_secret=claim_secret)
    assert exc.value.code == "denied"


def test_a_request_id_that_is_not_a_uuid_is_not_found():
    with pytest.raises(services.LoginError) as exc:
        services.login_request_claim(request_id="nope", claim_secret="x")
    assert exc.value.code == "not_found"


# --- sweeper -----------------------------------------------------------------------


def test_the_sweeper_expires_overdue_pending_requests_and_counts_them_as_failed():
    UserFactory(phone_number=NEVER)
    overdue, _ = start(NEVER)
    fresh, _ = start("+13125550177")
    LoginRequest.objects.filter(pk=overdue.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.login_requests_sweep() == 1
    assert LoginRequest.objects.get(pk=overdue.pk).status == LoginRequest.Status.EXPIRED
    assert LoginRequest.objects.get(pk=fresh.pk).status == LoginRequest.Status.PENDING
    assert AuditEvent.objects.filter(action="auth.expired").count() == 1


# --- the approval page's services (webauthn provider) ------------------------------------


@pytest.fixture
def pending(webauthn_provider, enrolled):
    user, authenticator = enrolled
    login_request, claim_secret = start(user.phone_number)
    return login_request, claim_secret, token_of(login_request), authenticator


def test_picking_the_right_match_code_unlocks_the_passkey_step(pending):
    login_request, _, token, _ = pending
    confirmed = services.login_request_confirm_match_code(approval_token=token, code=login_request.match_code)
    assert confirmed.match_confirmed_at is not None


def test_picking_a_wrong_match_code_cancels_the_request_and_counts_a_failure(pending):
    login_request, claim_secret, token, _ = pending
    wrong = next(c for c in services.match_code_choices(login_request) if c != login_request.match_code)
    with pytest.raises(services.LoginError) as exc:
        services.login_request_confirm_match_code(approval_token=token, code=wrong)
    assert exc.value.code == "wrong_match_code"
    assert LoginRequest.objects.get(pk=login_request.pk).status == LoginRequest.Status.CANCELLED
    event = AuditEvent.objects.filter(action="auth.failed").get()
    assert event.data["reason"] == "wrong_match_code"
    with pytest.raises(services.LoginError) as exc:
        services.login_request_claim(request_id=login_request.pk, claim_secret=claim_secret)
    assert exc.value.code == "wrong_match_code"


def test_the_three_choices_hold_the_right_code_and_stay_the_same_on_reload(pending):
    login_request = pending[0]
    choices = services.match_code_choices(login_request)
    assert len(set(choices)) == 3 and login_request.match_code in choices
    assert services.match_code_choices(login_request) == choices


def test_passkey_options_are_refused_before_the_match_code_is_picked(pending, http_request):
    with pytest.raises(services.LoginError) as exc:
        services.login_request_assertion_options(approval_token=pending[2], request=http_request)
    assert exc.value.code == "match_code_required"


def confirm_and_options(login_request, token, request):
    services.login_request_confirm_match_code(approval_token=token, code=login_request.match_code)
    return services.login_request_assertion_options(approval_token=token, request=request)


def test_an_assertion_with_user_verification_approves_the_request(pending, http_request):
    login_request, claim_secret, token, authenticator = pending
    options = confirm_and_options(login_request, token, http_request)
    assert options["userVerification"] == "required"
    assert options.get("allowCredentials", []) == []
    services.login_request_approve(
        approval_token=token, credential=authenticator.assert_(options), request=http_request
    )
    claimed = services.login_request_claim(request_id=login_request.pk, claim_secret=claim_secret)
    assert claimed.device is not None and claimed.device.user == claimed.user
    assert "auth.approved" in actions()


@pytest.mark.parametrize(
    "bend",
    [
        pytest.param({"uv": False}, id="no-user-verification"),
        pytest.param({"origin": "http://evil.example"}, id="foreign-origin"),
        pytest.param({"rp_id": "evil.example"}, id="foreign-rp-id"),
    ],
)
def test_an_assertion_that_breaks_the_policy_fails_and_the_request_stays_pending(pending, http_request, bend):
    login_request, _, token, authenticator = pending
    options = confirm_and_options(login_request, token, http_request)
    with pytest.raises(services.LoginError) as exc:
        services.login_request_approve(
            approval_token=token, credential=authenticator.assert_(options, **bend), request=http_request
        )
    assert exc.value.code == "assertion_failed"
    assert LoginRequest.objects.get(pk=login_request.pk).status == LoginRequest.Status.PENDING
    assert AuditEvent.objects.filter(action="auth.failed").get().data["reason"] == "assertion_failed"


def test_a_sign_count_that_does_not_grow_is_refused_as_a_cloned_authenticator(pending, http_request):
    login_request, _, token, authenticator = pending
    options = confirm_and_options(login_request, token, http_request)
    services.login_request_approve(
        approval_token=token, credential=authenticator.assert_(options, sign_count=6), request=http_request
    )
    second, _ = start(login_request.phone_number)
    options = confirm_and_options(second, token_of(second), http_request)
    with pytest.raises(services.LoginError) as exc:
        services.login_request_approve(
            approval_token=token_of(second),
            credential=authenticator.assert_(options, sign_count=6),
            request=http_request,
        )
    assert exc.value.code == "assertion_failed"
    assert LoginRequest.objects.get(pk=second.pk).status == LoginRequest.Status.PENDING


def test_an_assertion_cannot_be_used_twice(pending, http_request):
    login_request, _, token, authenticator = pending
    options = confirm_and_options(login_request, token, http_request)
    assertion = authenticator.assert_(options, uv=False)
    with pytest.raises(services.LoginError):
        services.login_request_approve(approval_token=token, credential=assertion, request=http_request)
    # The challenge was spent by the failed try: even a valid assertion for it is refused now.
    with pytest.raises(services.LoginError):
        services.login_request_approve(
            approval_token=token, credential=authenticator.assert_(options), request=http_request
        )


def test_another_persons_passkey_cannot_approve_the_request(pending, http_request):
    login_request, _, token, _ = pending
    other_authenticator = enroll(UserFactory(), http_request)
    options = confirm_and_options(login_request, token, http_request)
    with pytest.raises(services.LoginError) as exc:
        services.login_request_approve(
            approval_token=token, credential=other_authenticator.assert_(options), request=http_request
        )
    assert exc.value.code == "assertion_failed"


def test_nobody_can_approve_a_request_for_an_unknown_number(webauthn_provider, enrolled, http_request):
    _, authenticator = enrolled
    login_request, _ = start("+13125550198")
    token = token_of(login_request)
    options = confirm_and_options(login_request, token, http_request)
    with pytest.raises(services.LoginError) as exc:
        services.login_request_approve(
            approval_token=token, credential=authenticator.assert_(options), request=http_request
        )
    assert exc.value.code == "assertion_failed"


def test_an_expired_request_cannot_be_approved(pending, http_request):
    login_request, _, token, authenticator = pending
    options = confirm_and_options(login_request, token, http_request)
    LoginRequest.objects.filter(pk=login_request.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(services.LoginError) as exc:
        services.login_request_approve(
            approval_token=token, credential=authenticator.assert_(options), request=http_request
        )
    assert exc.value.code == "expired"
    assert LoginRequest.objects.get(pk=login_request.pk).status == LoginRequest.Status.EXPIRED


def test_a_guessed_approval_token_finds_nothing(pending):
    with pytest.raises(services.LoginError) as exc:
        services.login_request_deny(approval_token=default_secret_generator.make()[0])
    assert exc.value.code == "not_found"


# --- deny, fraud, limits ---------------------------------------------------------------


def test_deny_ends_the_request_in_one_step(pending):
    login_request, _, token, _ = pending
    services.login_request_deny(approval_token=token)
    assert LoginRequest.objects.get(pk=login_request.pk).status == LoginRequest.Status.DENIED
    assert actions()[-1] == "auth.denied"


def test_this_wasnt_me_reports_fraud_and_blocks_the_number_for_twenty_minutes(pending):
    login_request, _, token, _ = pending
    services.login_request_report_fraud(approval_token=token)
    report = FraudReport.objects.get()
    assert report.login_request_id == login_request.pk
    assert timedelta(minutes=19) < report.blocked_until - timezone.now() <= timedelta(minutes=20)
    assert actions()[-1] == "auth.fraud_reported"
    with pytest.raises(services.RateLimited) as exc:
        start(login_request.phone_number)
    assert exc.value.scope == "fraud_block" and 1100 < exc.value.retry_after <= 1201
    FraudReport.objects.update(blocked_until=timezone.now())
    start(login_request.phone_number)


def test_five_denials_in_an_hour_lock_the_number(settings):
    UserFactory(phone_number=DENIES)
    for _ in range(5):
        login_request, _ = start(DENIES)
        services.login_request_refresh(request_id=login_request.pk)
    with pytest.raises(services.RateLimited) as exc:
        start(DENIES)
    assert exc.value.scope == "denial_lock"


def test_staff_unlock_lifts_the_denial_lock(settings):
    user = UserFactory(phone_number=DENIES)
    for _ in range(5):
        login_request, _ = start(DENIES)
        services.login_request_refresh(request_id=login_request.pk)
    services.user_unlock(user=user, acting_user=UserFactory(is_staff=True))
    start(DENIES)
    assert actions().count("user.unlocked") == 1


def test_more_than_five_requests_for_one_number_from_one_network_in_the_window_are_refused():
    for _ in range(5):
        start("+13125550155", ClientContext(ip="198.51.100.7"))
    with pytest.raises(services.RateLimited) as exc:
        start("+13125550155", ClientContext(ip="198.51.100.7"))
    assert exc.value.scope == "phone" and 0 < exc.value.retry_after <= 900
    assert actions()[-1] == "auth.rate_limited"


def test_a_stranger_hammering_a_number_does_not_lock_its_owner_out():
    for _ in range(8):
        with contextlib.suppress(services.RateLimited):
            start("+13125550156", ClientContext(ip="203.0.113.66"))
    start("+13125550156", ClientContext(ip="198.51.100.8"))  # the owner, from their own network


def test_a_number_receives_at_most_ten_prompts_an_hour_whatever_the_networks():
    # Past the cap a request is still accepted (refusing it would lock the owner out), unprompted.
    requests = [start("+13125550157", ClientContext(ip=f"198.51.{i}.7"))[0] for i in range(12)]
    assert [r.prompted for r in requests] == [True] * 10 + [False] * 2


def test_more_than_twenty_requests_from_one_ip_in_the_window_are_refused():
    for i in range(20):
        start(f"+1312555{1000 + i:04d}", ClientContext(ip="198.51.100.50"))
    with pytest.raises(services.RateLimited) as exc:
        start("+13125551999", ClientContext(ip="198.51.100.50"))
    assert exc.value.scope == "ip"


def test_staff_unlock_also_lifts_the_per_network_limit_of_the_number():
    user = UserFactory(phone_number="+13125550158")
    for _ in range(5):
        start(user.phone_number, ClientContext(ip="198.51.100.9"))
    with pytest.raises(services.RateLimited):
        start(user.phone_number, ClientContext(ip="198.51.100.9"))
    services.user_unlock(user=user, acting_user=UserFactory(is_staff=True))
    start(user.phone_number, ClientContext(ip="198.51.100.9"))
