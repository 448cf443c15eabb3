"""Biometric providers: who tells the phone about a login request, and who reports the answer.

One small interface (`BiometricProvider`), chosen by DOCUID_BIOMETRIC_PROVIDER:
`webauthn` (our approval page and passkeys), `ivalt` (the external iVALT API) and
`simulator` (demo numbers; refused with DEBUG off unless DOCUID_ALLOW_SIMULATOR=1).
"""

from django.conf import settings

from accounts.providers.base import BiometricProvider, Decision, ProviderError


def get_provider(name: str | None = None) -> BiometricProvider:
    from accounts.providers.ivalt import IvaltProvider
    from accounts.providers.simulator import SimulatorProvider
    from accounts.providers.webauthn import WebAuthnProvider

    providers = {"webauthn": WebAuthnProvider, "ivalt": IvaltProvider, "simulator": SimulatorProvider}
    return providers[name or settings.DOCUID_BIOMETRIC_PROVIDER]()


__all__ = ["BiometricProvider", "Decision", "ProviderError", "get_provider"]
