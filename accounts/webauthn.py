"""DocuID's WebAuthn policy on top of django-otp-webauthn: user verification is always required.

The library's defaults ask for user verification only as "preferred" when registering and
"discouraged" for signed-in people. A DocuID approval stands for "the owner of the phone
used their fingerprint or face", so every registration and every assertion we accept must
carry the UV flag, and the server checks it whatever the client asked for.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django_otp_webauthn.helpers import WebAuthnHelper
from webauthn.helpers.structs import ResidentKeyRequirement, UserVerificationRequirement


class DocuIDWebAuthnHelper(WebAuthnHelper):
    def get_discoverable_credentials_preference(self) -> ResidentKeyRequirement:
        # Discoverable credentials let the approval page ask for "any passkey of this site"
        # without listing the user's credential ids, which would reveal whether a number is enrolled.
        return ResidentKeyRequirement.REQUIRED

    def get_generate_registration_options_kwargs(self, *, user: AbstractBaseUser) -> dict:
        kwargs = super().get_generate_registration_options_kwargs(user=user)
        kwargs["authenticator_selection"].user_verification = UserVerificationRequirement.REQUIRED
        return kwargs

    def get_registration_state(self, creation_options: dict) -> dict:
        return {"challenge": creation_options["challenge"], "require_user_verification": True}

    def register_complete(self, user: AbstractBaseUser, state: dict, data: dict):
        # Never trust a state that says otherwise: UV is checked on the server in every case.
        return super().register_complete(user, {**state, "require_user_verification": True}, data)

    def get_generate_authentication_options_kwargs(
        self, *, user: AbstractBaseUser | None = None, require_user_verification: bool = True
    ) -> dict:
        # No allowCredentials, even for a known user: the list would tell a stranger whether
        # a number has passkeys. The server checks the credential belongs to the right person.
        kwargs = super().get_generate_authentication_options_kwargs(user=None, require_user_verification=True)
        kwargs["user_verification"] = UserVerificationRequirement.REQUIRED
        return kwargs

    def get_authentication_state(self, options: dict) -> dict:
        return {"challenge": options["challenge"], "require_user_verification": True}

    def authenticate_complete(self, user: AbstractBaseUser | None, state: dict, data: dict):
        return super().authenticate_complete(user, {**state, "require_user_verification": True}, data)
