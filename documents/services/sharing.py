"""Grants (access for registered people and groups) and share links."""

from datetime import datetime, timedelta

from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit import record
from audit.actions import Action, Outcome
from documents import notifications
from documents.errors import ShareNotAllowed
from documents.models import (
    SHARE_MAX_DAYS,
    Document,
    Grant,
    Permission,
    SecurityLevel,
    Share,
    ShareAccess,
)
from documents.tokens import default_share_token_generator

SHARE_PASSWORD_MIN = 8


def grant_add(
    *,
    acting_user,
    document: Document,
    user=None,
    group=None,
    permission: str = Permission.VIEW,
    expires_at: datetime | None = None,
    notify: bool = True,
    request=None,
) -> Grant:
    """Give a person or a group access to `document` (or change the access they have)."""
    if user is not None and user.pk == document.owner_id:
        raise ShareNotAllowed("The owner already has full access.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ShareNotAllowed("The expiry must be in the future.")
    with transaction.atomic():
        lookup = {"document": document, "user": user} if user is not None else {"document": document, "group": group}
        grant = Grant.objects.filter(**lookup).first() or Grant(**lookup)
        created = grant.pk is None
        grant.permission = permission
        grant.expires_at = expires_at
        grant.granted_by = acting_user
        grant.full_clean(validate_constraints=False)
        grant.save()
        record(
            Action.GRANT_ADD,
            outcome=Outcome.SUCCESS,
            actor=acting_user,
            target=document,
            request=request,
            data={
                "grant_id": grant.pk,
                "user_id": user.pk if user is not None else None,
                "group_id": group.pk if group is not None else None,
                "permission": str(permission),
                "expires_at": expires_at.isoformat() if expires_at else None,
                "changed": not created,
            },
        )
        if notify and user is not None:
            grant_id = grant.pk
            transaction.on_commit(lambda: notifications.notify_grant(grant_id))
    return grant


def grant_remove(*, acting_user, grant: Grant, request=None) -> None:
    with transaction.atomic():
        record(
            Action.GRANT_REMOVE,
            outcome=Outcome.SUCCESS,
            actor=acting_user,
            target=grant.document,
            request=request,
            data={"grant_id": grant.pk, "user_id": grant.user_id, "group_id": grant.group_id},
        )
        grant.delete()


def _check_expiry(expires_at: datetime, *, created_at: datetime) -> None:
    now = timezone.now()
    if expires_at <= now:
        raise ShareNotAllowed("The expiry must be in the future.")
    if expires_at > created_at + timedelta(days=SHARE_MAX_DAYS):
        raise ShareNotAllowed(f"A share link can last at most {SHARE_MAX_DAYS} days from its creation.")


def share_create(
    *,
    acting_user,
    document: Document,
    access: str = ShareAccess.VIEW,
    expires_at: datetime | None = None,
    password: str = "",
    recipient_email: str = "",
    recipient_phone: str = "",
    require_login: bool = False,
    max_views: int | None = None,
    request=None,
) -> tuple[Share, str]:
    """Make a share link; returns the share and its token (shown once, never stored)."""
    from documents.selectors import document_permissions

    if not document_permissions(acting_user, document).share:
        raise ShareNotAllowed("You may not share this document.")
    if document.security_level == SecurityLevel.RESTRICTED:
        raise ShareNotAllowed("Restricted documents cannot be shared by link; grant access to a person instead.")
    if password and len(password) < SHARE_PASSWORD_MIN:
        raise ShareNotAllowed(f"A share password needs at least {SHARE_PASSWORD_MIN} characters.")
    if max_views is not None and max_views < 1:
        raise ShareNotAllowed("The number of views must be at least 1.")
    now = timezone.now()
    expires_at = expires_at or (now + timedelta(days=7))
    _check_expiry(expires_at, created_at=now)
    token = default_share_token_generator.make_token()
    with transaction.atomic():
        share = Share(
            document=document,
            created_by=acting_user,
            access=access,
            token_hash=default_share_token_generator.hash(token),
            expires_at=expires_at,
            password_hash=make_password(password) if password else "",
            recipient_email=recipient_email,
            recipient_phone=recipient_phone,
            require_login=require_login,
            max_views=max_views,
            created_at=now,
        )
        share.full_clean()
        share.save()
        record(
            Action.SHARE_CREATE,
            outcome=Outcome.SUCCESS,
            actor=acting_user,
            target=document,
            request=request,
            data={
                "share_id": share.pk,
                "access": str(access),
                "expires_at": expires_at.isoformat(),
                "requires_password": bool(password),
                "require_login": require_login,
                "max_views": max_views,
            },
        )
    return share, token


def share_update(*, acting_user, share: Share, expires_at: datetime, request=None) -> Share:
    """Extend or shorten a link (never past 90 days from its creation)."""
    if share.revoked_at:
        raise ShareNotAllowed("This link has been revoked; make a new one.")
    _check_expiry(expires_at, created_at=share.created_at)
    with transaction.atomic():
        previous = share.expires_at
        share.expires_at = expires_at
        share.save(update_fields=["expires_at"])
        record(
            Action.SHARE_UPDATE,
            outcome=Outcome.SUCCESS,
            actor=acting_user,
            target=share.document,
            request=request,
            data={"share_id": share.pk, "from": previous.isoformat(), "to": expires_at.isoformat()},
        )
    return share


def share_revoke(*, acting_user, share: Share, request=None) -> Share:
    with transaction.atomic():
        if share.revoked_at is None:
            share.revoked_at = timezone.now()
            share.save(update_fields=["revoked_at"])
        record(
            Action.SHARE_REVOKE,
            outcome=Outcome.SUCCESS,
            actor=acting_user,
            target=share.document,
            request=request,
            data={"share_id": share.pk},
        )
    return share


def share_password_matches(share: Share, password: str) -> bool:
    return bool(share.password_hash) and check_password(password or "", share.password_hash)


def share_access_record(
    *,
    share: Share,
    kind: str,
    outcome: str = Outcome.SUCCESS,
    reason: str = "",
    actor=None,
    request=None,
    count_view: bool = True,
) -> bool:
    """Audit one use of a link; a successful open or download also counts a view.

    Returns False when the view limit was reached meanwhile (the access must then be refused).
    """
    with transaction.atomic():
        counted = True
        if outcome == Outcome.SUCCESS and kind in {"open", "download"} and count_view:
            limit = Q() if share.max_views is None else Q(view_count__lt=share.max_views)
            counted = bool(
                Share.objects.filter(limit, pk=share.pk).update(
                    view_count=F("view_count") + 1, last_accessed_at=timezone.now()
                )
            )
            if not counted:
                outcome, reason = Outcome.FAILURE, "used_up"
        record(
            Action.SHARE_ACCESS,
            outcome=outcome,
            actor=actor if actor is not None and actor.is_authenticated else None,
            target=share.document,
            request=request,
            data={"share_id": share.pk, "kind": kind, **({"reason": reason} if reason else {})},
        )
    return counted
