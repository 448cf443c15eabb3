"""Grant.via: the grant a grantee's grant was given under (issue #12, F2).

Grants given before this by grantees through the web form (their giver is neither
the document's owner nor staff) are linked to the giver's share grant, with their
expiry capped to it; where the giver holds no share grant any more, or gave the
grant to themselves, the grant is made to lapse now (the row stays, so the owner
sees it and can give it again).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import F, Q
from django.utils import timezone


def link_grants_given_by_grantees(apps, schema_editor):
    Grant = apps.get_model("documents", "Grant")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    memberships = User.groups.through.objects
    now = timezone.now()
    given_by_grantees = (
        Grant.objects.exclude(granted_by=None)
        .exclude(granted_by_id=F("document__owner_id"))
        .exclude(granted_by__is_staff=True)
    )
    suspect_ids = set(given_by_grantees.values_list("pk", flat=True))
    for grant in given_by_grantees.iterator():
        via = None
        if grant.granted_by_id != grant.user_id:
            givers_groups = memberships.filter(user_id=grant.granted_by_id).values("group_id")
            via = (
                Grant.objects.filter(Q(user_id=grant.granted_by_id) | Q(group_id__in=givers_groups))
                .filter(document_id=grant.document_id, permission="share")
                .exclude(pk__in=suspect_ids)
                .order_by(F("expires_at").desc(nulls_first=True), "pk")
                .first()
            )
        if via is None:
            if grant.expires_at is None or grant.expires_at > now:
                grant.expires_at = now
            grant.save(update_fields=["expires_at"])
            continue
        grant.via = via
        if via.expires_at is not None and (grant.expires_at is None or grant.expires_at > via.expires_at):
            grant.expires_at = via.expires_at
        if grant.permission == "share":
            grant.permission = "download"
        grant.save(update_fields=["via", "expires_at", "permission"])


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0003_list_cover_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="grant",
            name="via",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                help_text="The sharer's own grant this one was given under; empty when the owner or staff gave it.",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="delegated_grants",
                to="documents.grant",
            ),
        ),
        migrations.RunPython(link_grants_given_by_grantees, migrations.RunPython.noop),
    ]
