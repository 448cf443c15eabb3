"""Grants (access for registered people and groups) and share links."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit import record
from audit.actions import Action, Outcome
from documents import notifications, watermark
from documents.errors import GrantRefused, ShareNotAllowed
from documents.models import (
    PERMISSION_RANK,
    SHARE_MAX_DAYS,
    Document,
    Grant,
    Permission,
    SecurityLevel,
    Share,
    ShareAccess,
)
from documents.selectors import document_permissions, grant_for_sharing
from documents.tokens import default_share_token_generator

SHARE_PASSWORD_MIN = 8


@dataclass(frozen=True)
class GrantTerms:
    """What a person may give: `via` is the grant a grantee gives under (None for the owner and
    staff); `expires_at` is the asked expiry, capped to `via`'s."""

    via: Grant | None
    expires_at: datetime | None
    capped: bool = False


def grant_terms(
    *, acting_user, document: Document, permission: str, expires_at: datetime | None, by_staff: bool = False
) -> GrantTerms:
    """Check what `acting_user` asks to give on `document`, before and whoever the recipient is.

    The owner gives anything; staff (`by_staff`, from the admin) give anything; a grantee
    with the share permission gives at most download, never past their own share grant.
    Raises ShareNotAllowed otherwise. Views call it before looking the recipient up, so a
    refusal never depends on who the recipient is.
    """
    if permission not in PERMISSION_RANK:
        raise ShareNotAllowed("Choose view, download or share.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ShareNotAllowed("The expiry must be in the future.")
    if by_staff:
        if not (acting_user.is_active and acting_user.is_staff):
            raise ShareNotAllowed("Only support staff grant access from the admin.")
        return GrantTerms(via=None, expires_at=expires_at)
    if document_permissions(acting_user, document).manage:
        return GrantTerms(via=None, expires_at=expires_at)
    via = grant_for_sharing(acting_user, document)
    if via is None:
        raise ShareNotAllowed("You may not share this document.")
    if permission == Permission.SHARE:
        raise ShareNotAllowed("Only the owner can let others share.")
    if via.expires_at is not None and (expires_at is None or expires_at > via.expires_at):
        return GrantTerms(via=via, expires_at=via.expires_at, capped=True)
    return GrantTerms(via=via, expires_at=expires_at)


def grant_add(
    *,
    acting_user,
    document: Document,
    user=None,
    group=None,
    permission: str = Permission.VIEW,
    expires_at: datetime | None = None,
    notify: bool = True,
    by_staff: bool = False,
    request=None,
) -> Grant:
    """Give a person or a group access to `document` (or change the access they have).

    A grantee (see grant_terms) gives people only, not themselves, and changes only the
    grants they gave: a grant the owner or someone else gave is left as it is, audited
    as a failure, and GrantRefused raised after the audit event commits.
    """
    terms = grant_terms(
        acting_user=acting_user, document=document, permission=permission, expires_at=expires_at, by_staff=by_staff
    )
    expires_at = terms.expires_at
    if user is not None and user.pk == document.owner_id:
        raise GrantRefused("The owner already has full access.")
    if terms.via is not None:
        if user is None:
            raise ShareNotAllowed("Only the owner can give a group access.")
        if user.pk == acting_user.pk:
            raise ShareNotAllowed("You cannot change your own access.")
    refused = False
    with transaction.atomic():
        lookup = {"document": document, "user": user} if user is not None else {"document": document, "group": group}
        existing = Grant.objects.select_for_update().filter(**lookup).first()
        audit = {
            "user_id": user.pk if user is not None else None,
            "group_id": group.pk if group is not None else None,
            "permission": str(permission),
            "expires_at": expires_at.isoformat() if expires_at else None,
        }
        if terms.via is not None:
            audit["via_grant_id"] = terms.via.pk
        if terms.via is not None and existing is not None and not _given_by(existing, acting_user):
            record(
                Action.GRANT_ADD,
                outcome=Outcome.FAILURE,
                actor=acting_user,
                target=document,
                request=request,
                data={"grant_id": existing.pk, **audit, "reason": "given_by_another"},
            )
            refused = True
        else:
            grant = existing or Grant(**lookup)
            grant.permission = permission
            grant.expires_at = expires_at
            grant.granted_by = acting_user
            grant.via = terms.via
            grant.full_clean(validate_constraints=False)
            grant.save()
            record(
                Action.GRANT_ADD,
                outcome=Outcome.SUCCESS,
                actor=acting_user,
                target=document,
                request=request,
                data={"grant_id": grant.pk, **audit, "changed": existing is not None},
            )
            if existing is not None:
                _bound_delegated(grant=grant, acting_user=acting_user, request=request)
            if notify and user is not None:
                grant_id = grant.pk
                transaction.on_commit(lambda: notifications.notify_grant(grant_id))
    if refused:
        raise GrantRefused("Only the owner, or whoever gave this person access, can change it.")
    return grant


def _given_by(grant: Grant, person) -> bool:
    return grant.via_id is not None and grant.granted_by_id == person.pk


def _bound_delegated(*, grant: Grant, acting_user, request) -> None:
    """Keep the grants given under `grant` within it: gone if it no longer shares, never outliving it."""
    for delegated in grant.delegated_grants.select_related("document"):
        if grant.permission != Permission.SHARE:
            _remove(delegated, acting_user=acting_user, request=request, reason="giver_no_longer_shares")
        elif grant.expires_at is not None and (delegated.expires_at is None or delegated.expires_at > grant.expires_at):
            delegated.expires_at = grant.expires_at
            delegated.save(update_fields=["expires_at"])
            record(
                Action.GRANT_ADD,
                outcome=Outcome.SUCCESS,
                actor=acting_user,
                target=delegated.document,
                request=request,
                data={
                    "grant_id": delegated.pk,
                    "user_id": delegated.user_id,
                    "group_id": delegated.group_id,
                    "permission": delegated.permission,
                    "expires_at": delegated.expires_at.isoformat(),
                    "changed": True,
                    "reason": "capped_to_giver",
                    "via_grant_id": grant.pk,
                },
            )


def _remove(grant: Grant, *, acting_user, request, reason: str = "") -> None:
    # The grants given under this one go with it (Grant.via cascades): each is audited first.
    for delegated in grant.delegated_grants.select_related("document"):
        _remove(delegated, acting_user=acting_user, request=request, reason="giver_access_removed")
    data = {"grant_id": grant.pk, "user_id": grant.user_id, "group_id": grant.group_id}
    if reason:
        data |= {"reason": reason, "via_grant_id": grant.via_id}
    record(
        Action.GRANT_REMOVE,
        outcome=Outcome.SUCCESS,
        actor=acting_user,
        target=grant.document,
        request=request,
        data=data,
    )
    grant.delete()


def grant_remove(*, acting_user, grant: Grant, request=None) -> None:
    """Remove a grant, and with it the grants its holder gave under it."""
    with transaction.atomic():
        _remove(grant, acting_user=acting_user, request=request)


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
            data={
                "share_id": share.pk,
                "kind": kind,
                **({"reason": reason} if reason else {}),
                # A stamped copy: its reference leads a leaked page back to this one event.
                **(watermark.audit_data(request) if outcome == Outcome.SUCCESS else {}),
            },
        )
    return counted
