"""Short-lived download links for the add-in's /access answer: a signed (person, document) pair.

The link stands in for the bearer token for one document for DOCUID_API_LINK_SECONDS; the
download view still runs the full access check for that person, so a grant revoked in the
meantime ends the link too.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing

SALT = "docuid.api.download-link"


def link_signature(*, user, document_id: int) -> str:
    return signing.dumps([user.pk, int(document_id)], salt=SALT)


def link_user(signature: str | None, *, document_id) -> object | None:
    """The person a valid, unexpired signature for this document was made for; None otherwise."""
    if not signature or len(signature) > 300:
        return None
    try:
        user_id, signed_document = signing.loads(signature, salt=SALT, max_age=settings.DOCUID_API_LINK_SECONDS)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if str(signed_document) != str(document_id):
        return None
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()
