"""iVALT (https://ivalt.com), for organisations whose people already use its app.

Protocol: POST {base}/biometric-auth-request {"mobile": "+1..."} with `x-api-key` sends the
push; POST {base}/biometric-auth-result {"mobile": ...} answers 200 (approved), 422 (pending),
401/403 (denied) or 404 (no such iVALT user).
"""

import logging

import requests
from django.conf import settings

from accounts.providers.base import BiometricProvider, Decision, ProviderError
from audit import metrics

logger = logging.getLogger("docuid.accounts.ivalt")


class IvaltProvider(BiometricProvider):
    name = "ivalt"

    def __init__(self, *, base_url: str | None = None, api_key: str | None = None, session=None):
        self.base_url = (base_url or settings.DOCUID_IVALT_BASE_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else settings.DOCUID_IVALT_API_KEY
        self.session = session or requests.Session()

    def _post(self, path: str, mobile: str) -> requests.Response:
        attempts = 1 + max(0, settings.DOCUID_IVALT_RETRIES)
        last_error = ""
        for attempt in range(1, attempts + 1):
            try:
                response = self.session.post(
                    f"{self.base_url}{path}",
                    json={"mobile": mobile},
                    headers={"x-api-key": self.api_key, "Accept": "application/json"},
                    timeout=settings.DOCUID_IVALT_TIMEOUT_SECONDS,
                )
            except requests.RequestException as exc:
                last_error = f"{exc.__class__.__name__}"
                logger.warning("iVALT %s attempt %d/%d failed: %s", path, attempt, attempts, last_error)
                continue
            if response.status_code >= 500 or response.status_code == 429:
                last_error = f"HTTP {response.status_code}"
                logger.warning("iVALT %s attempt %d/%d answered %s", path, attempt, attempts, last_error)
                continue
            metrics.biometric_provider_up.labels(self.name).set(1)
            return response
        # Feeds the DocuIDAuthServiceDown alert (deploy/prometheus/rules.yml).
        metrics.biometric_provider_up.labels(self.name).set(0)
        raise ProviderError(f"iVALT did not answer {path} after {attempts} attempts ({last_error}).")

    def notify(self, *, login_request, approval_url: str) -> None:
        if login_request.user is None:
            return
        response = self._post("/biometric-auth-request", login_request.phone_number)
        if response.status_code == 404:
            # Not an iVALT user: the request will simply expire, like any unknown number.
            logger.warning("iVALT does not know the number of login request %s", str(login_request.id)[:8])
            return
        if response.status_code != 200:
            raise ProviderError(f"iVALT refused the authentication request (HTTP {response.status_code}).")

    def poll(self, *, login_request) -> Decision | None:
        if login_request.user is None:
            return None
        response = self._post("/biometric-auth-result", login_request.phone_number)
        if response.status_code == 200:
            return Decision.APPROVED
        if response.status_code in (401, 403):
            return Decision.DENIED
        if response.status_code in (404, 422):
            return None
        raise ProviderError(f"iVALT answered the result query with HTTP {response.status_code}.")
