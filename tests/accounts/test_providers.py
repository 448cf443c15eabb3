import pytest
from django.core.checks import run_checks

from accounts import services
from accounts.context import ClientContext
from accounts.models import LoginRequest
from accounts.providers import Decision, ProviderError
from accounts.providers.ivalt import IvaltProvider
from audit.models import AuditEvent
from tests.accounts.fakes import FakeServer
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ivalt(settings):
    server = FakeServer().start()
    settings.DOCUID_BIOMETRIC_PROVIDER = "ivalt"
    settings.DOCUID_IVALT_BASE_URL = server.url
    settings.DOCUID_IVALT_API_KEY = "test-ivalt-key"
    settings.DOCUID_IVALT_RETRIES = 2
    settings.DOCUID_IVALT_TIMEOUT_SECONDS = 2
    yield server
    server.stop()


def start(phone):
    return services.login_request_start(phone_number=phone, client_context=ClientContext(ip="198.51.100.1"))


def test_ivalt_sends_the_push_with_the_api_key_and_the_e164_number(ivalt, django_capture_on_commit_callbacks):
    ivalt.answer("/biometric-auth-request", (200, {"data": {"status": True}}))
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        start(user.phone_number)
    sent = ivalt.requests[0]
    assert sent.path == "/biometric-auth-request"
    assert sent.headers["x-api-key"] == "test-ivalt-key"
    assert sent.json() == {"mobile": user.phone_number}


def test_ivalt_results_move_the_request_from_pending_to_approved(ivalt):
    ivalt.answer("/biometric-auth-request", (200, {"data": {"status": True}}))
    ivalt.answer(
        "/biometric-auth-result",
        (422, {"error": {"detail": "Authentication pending"}}),
        (200, {"data": {"details": {"id": 1, "name": "x"}}}),
    )
    login_request, claim_secret = start(UserFactory().phone_number)
    assert services.login_request_refresh(request_id=login_request.pk).status == LoginRequest.Status.PENDING
    assert services.login_request_refresh(request_id=login_request.pk).status == LoginRequest.Status.APPROVED
    claimed = services.login_request_claim(request_id=login_request.pk, claim_secret=claim_secret)
    assert claimed.device is None


def test_an_ivalt_denial_denies_the_request(ivalt):
    ivalt.answer("/biometric-auth-request", (200, {}))
    ivalt.answer(
        "/biometric-auth-result", (401, {"error": {"detail": "Denied - User denied biometric authentication."}})
    )
    login_request, _ = start(UserFactory().phone_number)
    assert services.login_request_refresh(request_id=login_request.pk).status == LoginRequest.Status.DENIED


def test_ivalt_is_retried_after_a_server_error(ivalt):
    ivalt.answer("/biometric-auth-result", (503, {}), (422, {"error": {"detail": "pending"}}))
    provider = IvaltProvider()
    login_request = LoginRequest(user=UserFactory(), phone_number="+13125550100")
    assert provider.poll(login_request=login_request) is None
    assert len(ivalt.requests) == 2


def test_ivalt_failing_every_retry_ends_the_request_as_a_provider_error(ivalt, django_capture_on_commit_callbacks):
    ivalt.answer("/biometric-auth-request", (503, {}))
    with django_capture_on_commit_callbacks(execute=True):
        login_request, _ = start(UserFactory().phone_number)
    assert len(ivalt.requests) == 3
    login_request.refresh_from_db()
    assert login_request.status == LoginRequest.Status.CANCELLED and login_request.failure_reason == "provider_error"
    assert AuditEvent.objects.filter(action="auth.failed").get().data["reason"] == "provider_error"


def test_an_unreachable_ivalt_is_a_clear_provider_error(settings):
    settings.DOCUID_IVALT_RETRIES = 0
    provider = IvaltProvider(base_url="http://127.0.0.1:9", api_key="k")
    with pytest.raises(ProviderError, match="did not answer"):
        provider.poll(login_request=LoginRequest(user=UserFactory(), phone_number="+13125550100"))


def test_ivalt_is_not_called_for_an_unknown_number(ivalt, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        start("+13125550142")
    assert ivalt.requests == []


def test_a_rejected_api_key_is_reported_not_treated_as_a_denial(ivalt):
    ivalt.answer("/biometric-auth-result", (400, {"message": "Invalid key"}))
    with pytest.raises(ProviderError):
        IvaltProvider().poll(login_request=LoginRequest(user=UserFactory(), phone_number="+13125550100"))


def test_decisions_are_the_only_answers_a_provider_gives():
    assert {d.value for d in Decision} == {"approved", "denied"}


def test_check_deploy_flags_the_simulator(settings):
    settings.DOCUID_BIOMETRIC_PROVIDER = "simulator"
    ids = {message.id for message in run_checks(include_deployment_checks=True)}
    assert "accounts.E001" in ids


def test_check_deploy_is_quiet_about_the_provider_with_webauthn(settings):
    settings.DOCUID_BIOMETRIC_PROVIDER = "webauthn"
    ids = {message.id for message in run_checks(include_deployment_checks=True)}
    assert "accounts.E001" not in ids


def test_the_webauthn_provider_sends_the_approval_link_by_sms(
    settings, webauthn_provider, enrolled, django_capture_on_commit_callbacks
):
    fake = FakeServer().start()
    try:
        settings.DOCUID_NOTIFIERS = ["sms"]
        settings.DOCUID_TWILIO_API_URL = fake.url
        settings.DOCUID_TWILIO_ACCOUNT_SID, settings.DOCUID_TWILIO_AUTH_TOKEN, settings.DOCUID_TWILIO_FROM = (
            "AC9",
            "t",
            "+15005550006",
        )
        fake.answer("/2010-04-01/Accounts/AC9/Messages.json", (201, {"sid": "SM9"}))
        user, _ = enrolled
        with django_capture_on_commit_callbacks(execute=True):
            login_request, _ = start(user.phone_number)
        body = fake.requests[-1].body.decode()
        assert login_request.approval_url.split("/approve/")[1].rstrip("/") in body
    finally:
        fake.stop()


def test_ivalt_reports_itself_up_or_down_for_the_auth_service_alert(ivalt, settings):
    from audit.metrics import biometric_provider_up

    ivalt.answer("/biometric-auth-result", (422, {}))
    provider = IvaltProvider()
    provider.poll(login_request=LoginRequest(user=UserFactory(), phone_number="+13125550100"))
    assert biometric_provider_up.labels("ivalt")._value.get() == 1
    ivalt.answer("/biometric-auth-result", (503, {}))
    with pytest.raises(ProviderError):
        provider.poll(login_request=LoginRequest(user=UserFactory(), phone_number="+13125550100"))
    assert biometric_provider_up.labels("ivalt")._value.get() == 0
