"""Seed for tests/security/test_attack_renditions_live.py, run by `manage.py shell` against the live server's database.

Prints one JSON line: the ids, session cookies, API credentials and share tokens the attacks use.
"""

import json
from datetime import timedelta

from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from accounts.context import ClientContext
from accounts.models import User
from accounts.services.api_tokens import api_client_create, api_token_issue
from documents import renditions, services
from documents.models import Permission, Share
from tests.documents.pdf_builder import pdf_with_text


def person(name: str, phone: str, email: str) -> User:
    user = User.objects.create_user(phone_number=phone, name=name, email=email)
    user.set_unusable_password()
    user.save()
    return user


def session_of(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def upload(owner: User, name: str, data: bytes, **fields):
    document = services.document_upload(acting_user=owner, file=ContentFile(data, name=name), name=name, **fields)
    renditions.build(version=document.current_version)  # the thumbnail (and nothing to convert for a PDF)
    return document


owner = person("Olive Owner", "+13125550401", "olive@example.org")
reader = person("Rita Reader", "+13125550402", "rita@example.org")
stranger = person("Sid Stranger", "+13125550403", "sid@example.org")

public = upload(owner, "Public plan.pdf", pdf_with_text(lambda p: [f"Public page {p + 1}"], pages=2))
secret = upload(
    owner, "Secret plan.pdf", pdf_with_text(lambda p: [f"Secret page {p + 1}"], pages=2), security_level="confidential"
)
for document in (public, secret):
    services.grant_add(acting_user=owner, document=document, user=reader, permission=Permission.VIEW, notify=False)
revoked = upload(owner, "Revoked.pdf", pdf_with_text(lambda p: ["Revoked page"], pages=1))
grant = services.grant_add(acting_user=owner, document=revoked, user=reader, permission=Permission.VIEW, notify=False)
grant.delete()
expired = upload(owner, "Expired.pdf", pdf_with_text(lambda p: ["Expired page"], pages=1))
services.grant_add(
    acting_user=owner,
    document=expired,
    user=reader,
    permission=Permission.VIEW,
    expires_at=timezone.now() + timedelta(seconds=60),
    notify=False,
)
from documents.models import Grant  # noqa: E402

Grant.objects.filter(document=expired, user=reader).update(expires_at=timezone.now() - timedelta(seconds=1))
deleted = upload(owner, "Deleted.pdf", pdf_with_text(lambda p: ["Deleted page"], pages=1))
deleted_id = deleted.pk
services.grant_add(acting_user=owner, document=deleted, user=reader, permission=Permission.VIEW, notify=False)
deleted.delete()

share, share_token = services.share_create(acting_user=owner, document=public, max_views=1)
used_share, used_token = services.share_create(acting_user=owner, document=public, max_views=1)
Share.objects.filter(pk=used_share.pk).update(view_count=1)
expired_share, expired_token = services.share_create(
    acting_user=owner, document=public, expires_at=timezone.now() + timedelta(seconds=60)
)
Share.objects.filter(pk=expired_share.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

_, api_key = api_client_create(name="Live attack add-in")


def token_of(user: User) -> str:
    return api_token_issue(user=user, client=None, client_context=ClientContext(), method="test").access_token


print(
    "SEED "
    + json.dumps(
        {
            "public": public.pk,
            "secret": secret.pk,
            "revoked": revoked.pk,
            "expired": expired.pk,
            "deleted": deleted_id,
            "sessions": {
                name: session_of(u) for name, u in (("owner", owner), ("reader", reader), ("stranger", stranger))
            },
            "tokens": {name: token_of(u) for name, u in (("reader", reader), ("stranger", stranger))},
            "api_key": api_key,
            "share": share_token,
            "used_share": used_token,
            "expired_share": expired_token,
        }
    )
)
