"""Coarse, non-identifying context about the device that asks to sign in: browser, OS, network."""

from dataclasses import dataclass

from django.http import HttpRequest
from user_agents import parse as parse_user_agent

from accounts.known_browsers import UNKNOWN, KnownBrowser, default_known_browser_signer, known_browser_from_request
from audit.services import mask_ip


@dataclass(frozen=True)
class ClientContext:
    browser: str = ""
    os: str = ""
    ip_masked: str = ""
    ip: str = ""  # only for rate limiting; never stored or logged
    known: KnownBrowser = UNKNOWN  # the numbers this browser signed in as before (verified)

    @classmethod
    def from_request(cls, request: HttpRequest | None) -> "ClientContext":
        if request is None:
            return cls()
        return cls.from_values(
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            ip=request.META.get("REMOTE_ADDR", ""),
            known=known_browser_from_request(request),
        )

    def knows(self, phone_number: str) -> bool:
        """Whether this browser signed in as `phone_number` before (its marker cookie is genuine)."""
        return default_known_browser_signer.knows(self.known, phone_number)

    @classmethod
    def from_values(cls, *, user_agent: str = "", ip: str = "", known: KnownBrowser | None = None) -> "ClientContext":
        agent = parse_user_agent((user_agent or "")[:512])
        browser = agent.browser.family if agent.browser.family != "Other" else ""
        if browser and agent.browser.version_string:
            browser = f"{browser} {agent.browser.version_string.split('.')[0]}"
        os_name = agent.os.family if agent.os.family != "Other" else ""
        return cls(browser=browser[:64], os=os_name[:64], ip_masked=mask_ip(ip), ip=ip or "", known=known or UNKNOWN)
