import base64
import json
import os
from urllib.parse import parse_qs

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from accounts import notifiers
from accounts.models import PushSubscription
from accounts.notifiers import Message, NotifierError
from accounts.notifiers.sms import TwilioSmsNotifier
from accounts.notifiers.webpush import WebPushNotifier
from tests.accounts.fakes import FakeServer
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

MESSAGE = Message(title="DocuID sign-in request", body="Open to approve.", url="http://localhost:8000/approve/abc/")


@pytest.fixture
def fake():
    server = FakeServer().start()
    yield server
    server.stop()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- SMS (Twilio) --------------------------------------------------------------------


def twilio(fake) -> TwilioSmsNotifier:
    return TwilioSmsNotifier(api_url=fake.url, account_sid="AC123", auth_token="tok", from_number="+15005550006")


def test_sms_posts_the_link_to_twilios_messages_api_with_basic_auth(fake):
    fake.answer("/2010-04-01/Accounts/AC123/Messages.json", (201, {"sid": "SM1", "status": "queued"}))
    user = UserFactory()
    assert twilio(fake).send(user=user, message=MESSAGE) is True
    sent = fake.requests[0]
    form = parse_qs(sent.body.decode())
    assert form["To"] == [user.phone_number] and form["From"] == ["+15005550006"]
    assert MESSAGE.url in form["Body"][0]
    assert sent.headers["authorization"] == "Basic " + base64.b64encode(b"AC123:tok").decode()


def test_sms_turns_a_twilio_refusal_into_a_clear_error_without_the_number(fake):
    fake.answer(
        "/2010-04-01/Accounts/AC123/Messages.json", (400, {"code": 21211, "message": "Invalid 'To'", "status": 400})
    )
    user = UserFactory()
    with pytest.raises(NotifierError) as exc:
        twilio(fake).send(user=user, message=MESSAGE)
    assert "21211" in str(exc.value) and user.phone_number not in str(exc.value)


def test_sms_reports_an_unreachable_twilio_as_a_notifier_error():
    notifier = TwilioSmsNotifier(
        api_url="http://127.0.0.1:9", account_sid="AC1", auth_token="t", from_number="+15005550006"
    )
    with pytest.raises(NotifierError):
        notifier.send(user=UserFactory(), message=MESSAGE)


def test_a_failing_backend_does_not_stop_the_others(settings, fake):
    settings.DOCUID_NOTIFIERS = ["sms", "webpush"]
    settings.DOCUID_TWILIO_API_URL = fake.url
    settings.DOCUID_TWILIO_ACCOUNT_SID, settings.DOCUID_TWILIO_AUTH_TOKEN, settings.DOCUID_TWILIO_FROM = (
        "AC1",
        "t",
        "+15005550006",
    )
    fake.answer("/2010-04-01/Accounts/AC1/Messages.json", (500, {"code": 20500}))
    assert notifiers.send(user=UserFactory(), message=MESSAGE) == []


# --- Web push ---------------------------------------------------------------------------


@pytest.fixture
def vapid(settings):
    key = ec.generate_private_key(ec.SECP256R1())
    settings.DOCUID_VAPID_PRIVATE_KEY = b64url(key.private_numbers().private_value.to_bytes(32, "big"))
    settings.DOCUID_VAPID_PUBLIC_KEY = b64url(
        key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return key


def subscribe(user, fake, path="/push/abc"):
    browser_key = ec.generate_private_key(ec.SECP256R1())
    auth = os.urandom(16)
    PushSubscription.objects.create(
        user=user,
        endpoint=fake.url + path,
        p256dh=b64url(
            browser_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        ),
        auth=b64url(auth),
    )
    return browser_key, auth


def test_web_push_sends_an_encrypted_vapid_signed_message_the_browser_can_read(vapid, fake):
    fake.answer("/push/abc", (201, None))
    user = UserFactory()
    browser_key, auth = subscribe(user, fake)
    assert WebPushNotifier().send(user=user, message=MESSAGE) is True
    sent = fake.requests[0]
    assert sent.headers["content-encoding"] == "aes128gcm"
    assert sent.headers["authorization"].startswith("vapid t=")
    payload = json.loads(http_ece.decrypt(sent.body, private_key=browser_key, auth_secret=auth, version="aes128gcm"))
    assert payload["url"] == MESSAGE.url and payload["title"] == MESSAGE.title


def test_web_push_forgets_a_subscription_the_push_service_says_is_gone(vapid, fake):
    fake.answer("/push/abc", (410, {"reason": "unsubscribed"}))
    user = UserFactory()
    subscribe(user, fake)
    assert WebPushNotifier().send(user=user, message=MESSAGE) is False
    assert PushSubscription.objects.count() == 0


def test_web_push_without_vapid_keys_is_a_clear_error(settings, fake):
    settings.DOCUID_VAPID_PRIVATE_KEY = ""
    user = UserFactory()
    subscribe(user, fake)
    with pytest.raises(NotifierError, match="VAPID"):
        WebPushNotifier().send(user=user, message=MESSAGE)


def test_web_push_with_no_subscription_sends_nothing():
    assert WebPushNotifier().send(user=UserFactory(), message=MESSAGE) is False


# --- console ----------------------------------------------------------------------------


def test_the_console_notifier_prints_the_link_in_development_only(settings, capsys):
    settings.DOCUID_NOTIFIERS = ["console"]
    user = UserFactory()
    settings.DEBUG = False
    assert notifiers.send(user=user, message=MESSAGE) == []
    settings.DEBUG = True
    assert notifiers.send(user=user, message=MESSAGE) == ["console"]
    err = capsys.readouterr().err
    assert MESSAGE.url in err and user.phone_number not in err
