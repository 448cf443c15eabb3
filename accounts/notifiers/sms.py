"""SMS through Twilio's Messages API (https://www.twilio.com/docs/messaging/api/message-resource)."""

import contextlib

import requests
from django.conf import settings

from accounts.notifiers.base import Message, NotifierError


class TwilioSmsNotifier:
    name = "sms"

    def __init__(
        self,
        *,
        api_url: str | None = None,
        account_sid: str | None = None,
        auth_token: str | None = None,
        from_number: str | None = None,
        timeout: float = 10,
    ):
        self.api_url = (api_url or settings.DOCUID_TWILIO_API_URL).rstrip("/")
        self.account_sid = account_sid or settings.DOCUID_TWILIO_ACCOUNT_SID
        self.auth_token = auth_token or settings.DOCUID_TWILIO_AUTH_TOKEN
        self.from_number = from_number or settings.DOCUID_TWILIO_FROM
        self.timeout = timeout

    def send(self, *, user, message: Message) -> bool:
        if not (self.account_sid and self.auth_token and self.from_number):
            raise NotifierError("SMS is not configured (DOCUID_TWILIO_ACCOUNT_SID, _AUTH_TOKEN, _FROM).")
        try:
            response = requests.post(
                f"{self.api_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json",
                data={"To": user.phone_number, "From": self.from_number, "Body": f"{message.body} {message.url}"},
                auth=(self.account_sid, self.auth_token),
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise NotifierError(f"Twilio could not be reached ({exc.__class__.__name__}).") from None
        if response.status_code != 201:
            code = ""
            with contextlib.suppress(ValueError, AttributeError):
                code = str(response.json().get("code", ""))
            raise NotifierError(f"Twilio refused the message (HTTP {response.status_code}, code {code or '-'}).")
        return True
