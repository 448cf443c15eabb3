"""Binding a login request to the client that started it.

The claim secret from accounts.services.login_request_start is wrapped, with the
request id, the API client and the caller's network, in a signed, time-limited
value: the add-in gets it as an HttpOnly cookie (its auth-result carries only the
phone number), v1 callers as `claimSecret`. Only that value, presented through the
same API client from the same network, can collect the token.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core import signing

SALT = "docuid.api.login-claim"
COOKIE_NAME = "docuid_login_claim"
HEADER_NAME = "X-Claim-Secret"


@dataclass(frozen=True)
class Claim:
    request_id: str
    secret: str
    client_id: int | None
    network: str


def claim_dump(*, request_id, secret: str, client_id: int | None, network: str) -> str:
    return signing.dumps([str(request_id), secret, client_id, network], salt=SALT, compress=True)


def claim_load(value: str | None) -> Claim | None:
    """The claim in `value`, or None when it is missing, forged, malformed or older than a login request."""
    if not value or len(value) > 1000:
        return None
    try:
        request_id, secret, client_id, network = signing.loads(
            value, salt=SALT, max_age=settings.DOCUID_LOGIN_REQUEST_TTL_SECONDS + 60
        )
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(secret, str) or not (client_id is None or isinstance(client_id, int)):
        return None
    return Claim(str(request_id), secret, client_id, str(network))


def claim_matches_caller(claim: Claim, *, client, network: str) -> bool:
    """Same API client (or both none) and same network as the starter."""
    return claim.client_id == (client.pk if client is not None else None) and claim.network == network


def login_start_bound(request, *, phone_number: str, channel: str, field: str):
    """Start a login for an API caller and bind it to that caller: (LoginRequest, claim).

    One place for both surfaces (the add-in's auth-request and v1's auth/login), so
    they validate, rate-limit and bind the claim to the client and network alike.
    """
    from django.core.exceptions import ValidationError

    from accounts import services as account_services
    from accounts.context import ClientContext
    from api.clients import request_client
    from api.errors import ApiError

    context = ClientContext.from_request(request._request)
    try:
        login_request, secret = account_services.login_request_start(
            phone_number=phone_number, client_context=context, channel=channel
        )
    except ValidationError as exc:
        raise ApiError(400, "INVALID_PHONE_NUMBER", exc.messages[0], {field: exc.messages}) from None
    except account_services.RateLimited as exc:
        raise ApiError(429, "RATE_LIMIT_EXCEEDED", exc.message, retry_after=exc.retry_after) from None
    client = request_client(request)
    claim = claim_dump(
        request_id=login_request.pk,
        secret=secret,
        client_id=client.pk if client else None,
        network=context.ip_masked,
    )
    return login_request, claim
