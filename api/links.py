"""Short-lived download links for the add-in's /access answer: a signed (person, document, credential).

The link stands in for the bearer token for one document for DOCUID_API_LINK_SECONDS, and
only while the credential that minted it is live: the API token (not revoked by logout or
sign-out-everywhere, not refreshed, not expired, its client active), or the browser session
(not signed out or revoked). The download view still runs the full access check for that
person, so a grant revoked in the meantime ends the link too.
"""

from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.core import signing

from accounts import selectors as account_selectors
from accounts.models import ApiToken
from api.errors import ApiError

SALT = "docuid.api.download-link"
TOKEN, SESSION = "t", "s"


def _minted_by(request) -> list:
    """What the link must outlive no longer than: the caller's API token or browser session (never its key)."""
    token = getattr(request, "auth", None)
    if isinstance(token, ApiToken):
        return [TOKEN, token.pk]
    session_key = request.session.session_key
    row = (
        account_selectors.sessions_for(user=request.user).filter(session_key=session_key).first()
        if session_key
        else None
    )
    return [SESSION, row.pk if row is not None else 0]  # 0: a session nobody can list is no credential


def link_signature(*, request, document_id: int) -> str:
    return signing.dumps([request.user.pk, int(document_id), *_minted_by(request)], salt=SALT)


def _token_live(user, token_id) -> bool:
    # The model's own rule (accounts.ApiToken.is_live): unrevoked, unrotated, unexpired.
    token = ApiToken.objects.select_related("client").filter(pk=token_id, user=user).first()
    return token is not None and token.is_live() and (token.client_id is None or token.client.is_active)


def _session_live(user, row_id) -> bool:
    row = account_selectors.sessions_for(user=user).filter(pk=row_id).first()
    if row is None:
        return False
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key=row.session_key).load()
    return data.get(SESSION_KEY) == str(user.pk)  # an expired, flushed or deleted session loads empty


def link_user(signature: str | None, *, document_id) -> object | None:
    """The person a valid, unexpired signature for this document was made for, while its credential lives."""
    if not signature or len(signature) > 300:
        return None
    try:
        user_id, signed_document, kind, credential = signing.loads(
            signature, salt=SALT, max_age=settings.DOCUID_API_LINK_SECONDS
        )
    except (signing.BadSignature, ValueError, TypeError):
        return None  # also a link in the old two-field form: it named no credential
    if str(signed_document) != str(document_id) or not isinstance(credential, int):
        return None
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    live = {TOKEN: _token_live, SESSION: _session_live}.get(kind)
    return user if live is not None and live(user, credential) else None


def caller_or_link_user(request, *, document_id):
    """The signed-in caller, else the person a `?sig=` link for this document names; else 401.

    One rule for every view that accepts an /access link instead of a token, so they cannot drift apart.
    """
    if request.user.is_authenticated:
        return request.user
    user = link_user(request.query_params.get("sig"), document_id=document_id)
    if user is None:
        raise ApiError(401, "INVALID_TOKEN", "Sign in, or use a fresh link from /access.")
    return user
