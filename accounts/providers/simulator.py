from django.conf import settings
from django.utils import timezone

from accounts.providers.base import BiometricProvider, Decision

# The demo numbers of API_CONTRACT.md (fictional 555-01xx numbers).
APPROVES = "+12025550100"
DENIES = "+12025550101"
NEVER_ANSWERS = "+12025550102"


class SimulatorProvider(BiometricProvider):
    """Demo and test stand-in for a phone: no biometric at all, so it is refused in production.

    +12025550101 denies, +12025550102 never answers, every other known number (the demo
    people) approves once DOCUID_SIMULATOR_APPROVE_DELAY_SECONDS have passed. The delay is
    checked when the starting page polls, so no request thread ever sleeps.
    """

    name = "simulator"

    def poll(self, *, login_request) -> Decision | None:
        if login_request.user is None or login_request.phone_number == NEVER_ANSWERS:
            return None
        if login_request.phone_number == DENIES:
            return Decision.DENIED
        waited = (timezone.now() - login_request.created_at).total_seconds()
        if waited >= settings.DOCUID_SIMULATOR_APPROVE_DELAY_SECONDS:
            return Decision.APPROVED
        return None
