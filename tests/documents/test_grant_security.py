"""Issue #12, F1, F2 and F11: grants given through the grant form and by grantees.

Each test replays an attack seen against a running DocuID. Eve holds a share grant
from the owner that expires; Carol holds share and Dan view, both from the owner.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from documents import selectors, services
from documents.errors import GrantRefused, ShareNotAllowed
from documents.models import Grant, Permission
from tests.documents.conftest import login
from tests.factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(owner, document):
    eve, carol, dan, bob = (UserFactory(name=n) for n in ("Eve Grantee", "Carol Sharer", "Dan Viewer", "Bob Friend"))
    eve_until = timezone.now() + timedelta(days=3)
    for person, permission, until in (
        (eve, Permission.SHARE, eve_until),
        (carol, Permission.SHARE, None),
        (dan, Permission.VIEW, None),
    ):
        services.grant_add(
            acting_user=owner, document=document, user=person, permission=permission, expires_at=until, notify=False
        )
    return {"eve": eve, "carol": carol, "dan": dan, "bob": bob, "eve_until": eve_until}


def give(client, document, recipient, permission, expires_on=""):
    """Post the grant form; returns the messages it answered with."""
    response = client.post(
        reverse("documents:grant_create", args=[document.pk]),
        {"recipient": recipient, "permission": permission, "expires_on": expires_on},
        follow=True,
    )
    assert response.redirect_chain == [(reverse("documents:detail", args=[document.pk]), 302)]
    return [str(m) for m in response.context["messages"]]


def grant_of(document, person) -> Grant | None:
    return Grant.objects.filter(document=document, user=person).first()


def can_download(client, document) -> int:
    return client.get(reverse("documents:download", args=[document.pk])).status_code


# --- F1: a grantee raises, extends or rewrites grants through the form ----------------------


def test_a_grantee_cannot_raise_or_extend_their_own_grant(client, document, people):
    eve = people["eve"]
    login(client, eve)
    give(client, document, eve.phone_number, "download")
    give(client, document, eve.email, "view")
    mine = grant_of(document, eve)
    assert (mine.permission, mine.expires_at) == (Permission.SHARE, people["eve_until"])


def test_a_grantee_cannot_lower_a_share_grant_the_owner_gave_someone_else(client, document, people):
    login(client, people["eve"])
    give(client, document, people["carol"].phone_number, "view")
    assert grant_of(document, people["carol"]).permission == Permission.SHARE


def test_a_grantee_cannot_raise_a_view_grant_the_owner_gave_someone_else(client, owner, document, people):
    login(client, people["eve"])
    give(client, document, people["dan"].email, "download")
    dans = grant_of(document, people["dan"])
    assert (dans.permission, dans.granted_by_id, dans.via_id) == (Permission.VIEW, owner.pk, None)
    login(client, people["dan"])
    assert can_download(client, document) == 403


def test_a_refused_change_is_audited_as_a_failure_and_changes_nothing_else(document, people):
    with pytest.raises(GrantRefused):
        services.grant_add(
            acting_user=people["eve"], document=document, user=people["dan"], permission="download", notify=False
        )
    event = AuditEvent.objects.get(action="grant.add", outcome="failure")
    assert (event.data["reason"], event.data["user_id"]) == ("given_by_another", people["dan"].pk)
    assert grant_of(document, people["dan"]).permission == Permission.VIEW


def test_a_grantee_never_gives_the_share_permission_even_through_the_service(document, people):
    with pytest.raises(ShareNotAllowed):
        services.grant_add(
            acting_user=people["eve"], document=document, user=people["bob"], permission="share", notify=False
        )
    assert grant_of(document, people["bob"]) is None


def test_a_grant_a_grantee_gives_never_outlives_their_own(client, document, people):
    login(client, people["eve"])
    later = (people["eve_until"] + timedelta(days=30)).date().isoformat()
    answers = give(client, document, people["bob"].phone_number, "download", expires_on=later)
    bobs = grant_of(document, people["bob"])
    assert bobs.expires_at == people["eve_until"]
    assert "ends when yours does" in answers[0]
    give(client, document, people["bob"].phone_number, "download")  # and with no expiry asked
    assert grant_of(document, people["bob"]).expires_at == people["eve_until"]


def test_a_grantee_may_change_a_grant_they_gave(client, document, people):
    login(client, people["eve"])
    give(client, document, people["bob"].phone_number, "view")
    give(client, document, people["bob"].phone_number, "download")
    bobs = grant_of(document, people["bob"])
    assert (bobs.permission, bobs.granted_by_id) == (Permission.DOWNLOAD, people["eve"].pk)


def test_a_person_with_view_or_download_cannot_give_access(document, people):
    with pytest.raises(ShareNotAllowed):
        services.grant_add(acting_user=people["dan"], document=document, user=people["bob"], notify=False)


# --- F2: a grant a grantee gave ends with the grantee's --------------------------------------


def test_removing_a_grantees_grant_removes_the_grants_they_gave(client, owner, document, people):
    eve, bob = people["eve"], people["bob"]
    login(client, eve)
    give(client, document, bob.phone_number, "download")
    login(client, bob)
    assert can_download(client, document) == 200
    login(client, owner)
    client.post(reverse("documents:grant_delete", args=[document.pk, grant_of(document, eve).pk]), {"confirm": "yes"})
    login(client, bob)
    assert can_download(client, document) == 404
    assert grant_of(document, bob) is None
    removed = AuditEvent.objects.filter(action="grant.remove").order_by("id")
    assert [(e.data["user_id"], e.data.get("reason")) for e in removed] == [
        (bob.pk, "giver_access_removed"),
        (eve.pk, None),
    ]


def test_lowering_a_grantees_grant_below_share_removes_the_grants_they_gave(owner, document, people):
    services.grant_add(acting_user=people["eve"], document=document, user=people["bob"], notify=False)
    services.grant_add(acting_user=owner, document=document, user=people["eve"], permission="download", notify=False)
    assert grant_of(document, people["bob"]) is None
    assert selectors.document_permissions(people["bob"], document) == selectors.NO_PERMISSIONS


def test_shortening_a_grantees_grant_shortens_the_grants_they_gave(owner, document, people):
    services.grant_add(acting_user=people["eve"], document=document, user=people["bob"], notify=False)
    sooner = timezone.now() + timedelta(days=1)
    services.grant_add(
        acting_user=owner, document=document, user=people["eve"], permission="share", expires_at=sooner, notify=False
    )
    assert grant_of(document, people["bob"]).expires_at == sooner
    capped = AuditEvent.objects.filter(action="grant.add", data__reason="capped_to_giver").get()
    assert capped.data["user_id"] == people["bob"].pk


def test_a_grant_a_grantee_gave_stops_counting_when_theirs_expires(document, people):
    services.grant_add(acting_user=people["eve"], document=document, user=people["bob"], notify=False)
    # Stored expiries are capped; the check itself must not rely on that.
    Grant.objects.filter(document=document, user=people["bob"]).update(expires_at=None)
    after = people["eve_until"] + timedelta(minutes=1)
    assert selectors.document_permissions(people["bob"], document).view
    assert selectors.document_permissions(people["bob"], document, now=after) == selectors.NO_PERMISSIONS
    assert document not in selectors.documents_visible_to(people["bob"], now=after)


def test_a_grant_given_under_a_group_grant_ends_when_the_giver_leaves_the_group(owner, document):
    team, giver, friend = GroupFactory(), UserFactory(), UserFactory()
    giver.groups.add(team)
    services.grant_add(acting_user=owner, document=document, group=team, permission="share", notify=False)
    services.grant_add(acting_user=giver, document=document, user=friend, notify=False)
    assert document in selectors.documents_visible_to(friend)
    giver.groups.remove(team)
    assert document not in selectors.documents_visible_to(friend)
    assert not selectors.document_permissions(friend, document).view


def test_a_grant_ends_when_its_giver_is_deactivated(document, people):
    services.grant_add(acting_user=people["eve"], document=document, user=people["bob"], notify=False)
    type(people["eve"]).objects.filter(pk=people["eve"].pk).update(is_active=False)
    assert document not in selectors.documents_visible_to(people["bob"])
    assert not selectors.document_permissions(people["bob"], document).view


def test_a_grant_the_owner_gives_afresh_stands_on_its_own(owner, document, people):
    services.grant_add(acting_user=people["eve"], document=document, user=people["bob"], notify=False)
    services.grant_add(acting_user=owner, document=document, user=people["bob"], permission="view", notify=False)
    services.grant_remove(acting_user=owner, grant=grant_of(document, people["eve"]))
    assert selectors.document_permissions(people["bob"], document).view


# --- F11: the form tells nobody who has an account -------------------------------------------


def _answers_for(client, document, recipients):
    return {typed: [a.replace(typed, "<typed>") for a in give(client, document, typed, "view")] for typed in recipients}


@pytest.mark.parametrize("who", ["owner", "eve"])
def test_the_grant_form_answers_the_same_whether_or_not_an_account_exists(client, owner, document, people, who):
    victim = UserFactory(name="Vic Victim")
    gone = UserFactory(name="Ina Inactive", is_active=False)
    login(client, owner if who == "owner" else people["eve"])
    recipients = [
        victim.phone_number,
        victim.email,
        "+13125559876",  # nobody's
        "nobody@example.com",
        gone.email,
        people["dan"].email,  # already has access, from the owner
        owner.email if who == "eve" else people["carol"].email,
    ]
    answers = _answers_for(client, document, recipients)
    assert len({tuple(a) for a in answers.values()}) == 1, answers
    assert answers[victim.email][0].startswith("If <typed> belongs to a DocuID user, they now have access.")
    page = client.get(reverse("documents:detail", args=[document.pk])).content.decode()
    if who == "eve":
        assert "Vic Victim" not in page and "Dan Viewer" not in page


def test_the_answer_escapes_what_was_typed(client, owner, document):
    login(client, owner)
    page = client.post(
        reverse("documents:grant_create", args=[document.pk]),
        {"recipient": "<script>x</script>", "permission": "view"},
        follow=True,
    ).content.decode()
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page


# --- Grants grantees gave before the fix (migration 0004) ------------------------------------


def test_the_migration_ties_old_grants_to_their_givers_share_grant_or_lets_them_lapse(owner, document, staff):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("documents.migrations.0004_grant_via")
    sharer, removed_sharer, self_raiser, friend, orphan, staff_given = (UserFactory() for _ in range(6))
    until = timezone.now() + timedelta(days=2)
    sharers = Grant.objects.create(
        document=document, user=sharer, permission="share", granted_by=owner, expires_at=until
    )
    # As the old form left them: given by grantees, standing on their own.
    Grant.objects.create(document=document, user=friend, permission="share", granted_by=sharer)
    Grant.objects.create(document=document, user=orphan, permission="download", granted_by=removed_sharer)
    Grant.objects.create(document=document, user=self_raiser, permission="download", granted_by=self_raiser)
    Grant.objects.create(document=document, user=staff_given, permission="view", granted_by=staff)
    migration.link_grants_given_by_grantees(apps, None)
    friends = grant_of(document, friend)
    assert (friends.via_id, friends.expires_at, friends.permission) == (sharers.pk, until, "download")
    for person in (orphan, self_raiser):
        assert not selectors.document_permissions(person, document).view, person
    assert selectors.document_permissions(staff_given, document).view
    assert grant_of(document, sharer).via_id is None
