"""DocuID against a real primary and a streaming replica, as a separate process (tests/deploy/test_replica.py).

Run with DATABASE_URL (the primary, migrated) and DATABASE_REPLICA_URL (its replica), and
REPLICA_STOP: the command that stops the replica. Every step commits for real (a
replica only sees committed WAL), so this cannot run inside pytest-django's test
transaction. Prints one JSON object of observations; the test asserts on them.
"""

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from docuid import db_routers  # noqa: E402
from documents import selectors  # noqa: E402
from documents.models import Grant, Permission  # noqa: E402
from tests.factories import UserFactory, make_document  # noqa: E402


def replica_sql(query: str):
    with connections["replica"].cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchone()[0]


def wait_replica(query: str, expected, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while replica_sql(query) != expected:
        if time.monotonic() > deadline:
            raise SystemExit(f"replica never answered {expected!r} to {query!r}")
        time.sleep(0.05)


def listed(client: Client, title: str) -> bool:
    response = client.get(reverse("documents:list"))
    assert response.status_code == 200, response.status_code
    return title in response.content.decode()


def median_ms(client: Client, rounds: int = 30) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        assert client.get(reverse("documents:list")).status_code == 200
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 2)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def main() -> dict:
    seen: dict = {}
    owner, viewer = UserFactory(), UserFactory()
    # A fresh database reuses user ids: a mark left in a shared Redis by an earlier run must not pin them.
    cache.delete_many([f"docuid:fresh:{owner.pk}", f"docuid:fresh:{viewer.pk}"])
    shared = make_document(owner, name="shared-before-pause.pdf", title="Shared before pause")
    grant = Grant.objects.create(document=shared, user=viewer, permission=Permission.VIEW, granted_by=owner)
    started = time.monotonic()
    wait_replica(f"SELECT count(*) FROM {Grant._meta.db_table} WHERE id = {int(grant.pk)}", 1)
    seen["replica_caught_up_seconds"] = round(time.monotonic() - started, 3)
    seen["replica_in_recovery"] = replica_sql("SELECT pg_is_in_recovery()")

    replica_sql("SELECT pg_wal_replay_pause()::text")
    wait_replica("SELECT pg_get_wal_replay_pause_state()", "paused")
    make_document(owner, name="written-while-paused.pdf", title="Written while paused")
    make_document(viewer, name="viewers-while-paused.pdf", title="Viewer wrote while paused")
    owner_client, owner_elsewhere, viewer_client = signed_in(owner), signed_in(owner), signed_in(viewer)

    # Reads routed to the replica: the new document is only on the primary.
    seen["owner_sees_new_doc_from_replica"] = listed(owner_client, "Written while paused")
    seen["owner_sees_old_doc"] = listed(owner_client, "Shared before pause")
    seen["viewer_sees_shared_before_revoke"] = listed(viewer_client, "Shared before pause")

    # A write (the owner removes the viewer's grant through the page): read-your-writes.
    started = time.monotonic()
    response = owner_client.post(reverse("documents:grant_delete", args=[shared.pk, grant.pk]), {"confirm": "yes"})
    seen["revoke_status"] = response.status_code
    seen["fresh_cookie"] = "docuid_fresh" in response.cookies
    seen["owner_sees_new_doc_after_writing"] = listed(owner_client, "Written while paused")
    seen["owner_elsewhere_sees_new_doc"] = listed(owner_elsewhere, "Written while paused")
    # Someone who has not written still reads the replica.
    seen["viewer_sees_own_new_doc_from_replica"] = listed(viewer_client, "Viewer wrote while paused")

    # The revoked grant is still on the lagging replica, and still never shows the document.
    with db_routers.replica_reads() as alias:
        stale = selectors.documents_list(viewer, filters=selectors.DocumentFilters())
    seen["replica_alias"] = alias
    seen["replica_still_has_grant"] = shared.pk in {d.pk for d in stale.documents}
    seen["viewer_sees_shared_after_revoke"] = listed(viewer_client, "Shared before pause")
    seen["viewer_detail_after_revoke"] = viewer_client.get(reverse("documents:detail", args=[shared.pk])).status_code
    seen["lag_gauge"] = db_routers.replica_lag_seconds._value.get()
    seen["routing_seconds"] = round(time.monotonic() - started, 3)

    # What routing costs a list page here (tiny library: the page query is cheap, so this is the
    # overhead — the re-check on the primary and the lag probe — not the gain).
    settings.DOCUID_REPLICA_LAG_CHECK_SECONDS = 2  # the default: probe at most every 2 s, not per request
    with (
        CaptureQueriesContext(connections["default"]) as on_primary,
        CaptureQueriesContext(connections["replica"]) as on_replica,
    ):
        viewer_client.get(reverse("documents:list"))
    seen["list_queries"] = {"primary": len(on_primary), "replica": len(on_replica)}
    seen["list_sql"] = [q["sql"][:90] for q in on_primary.captured_queries + on_replica.captured_queries]
    seen["list_ms_replica"] = median_ms(viewer_client)
    pinned = signed_in(viewer)
    pinned.cookies["docuid_fresh"] = f"{time.time() + 600:.0f}"
    seen["list_ms_primary"] = median_ms(pinned)

    # Replica down (still paused: what it lacks can only come from the primary): the pages read the primary.
    subprocess.run(os.environ["REPLICA_STOP"], shell=True, check=True, capture_output=True, timeout=60)
    started = time.monotonic()
    seen["down_viewer_sees_own_new_doc"] = listed(viewer_client, "Viewer wrote while paused")
    seen["down_first_request_seconds"] = round(time.monotonic() - started, 3)
    seen["down_viewer_sees_shared"] = listed(viewer_client, "Shared before pause")
    seen["down_usable"] = db_routers.replica_usable()
    seen["down_gauge"] = db_routers.replica_lag_seconds._value.get()
    return seen


if __name__ == "__main__":
    print(json.dumps(main()))
