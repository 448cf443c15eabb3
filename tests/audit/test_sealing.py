"""The sealer: committed events, in the order they became final, into hash-linked Merkle batches (issue #16).

The PostgreSQL tests run real concurrent transactions (threads with their own
connections): an event of a transaction still open must not be sealed, an event
committed late must not be sealed "before" events already sealed, and no event
may be lost or sealed twice.
"""

import hashlib
import random
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone
from prometheus_client import REGISTRY

from audit import record
from audit.actions import Action
from audit.chain import GENESIS_HASH, batch_hash, content_hash, leaf_hash, merkle_root
from audit.metrics import refresh_audit_gauges
from audit.models import AuditBatch, AuditChainHead, AuditEvent
from audit.sealer import _full_xid, audit_seal
from audit.selectors import audit_chain_verify, unsealed_events
from tests.audit.conftest import seal_all, sealed_order

# --- the Merkle tree ---------------------------------------------------------------------


def _rfc6962(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, as written: split at the largest power of two below n."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _rfc6962(leaves[:k]) + _rfc6962(leaves[k:])).digest()


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33])
def test_the_merkle_root_is_rfc_6962s(n):
    leaves = [leaf_hash(position, position * 10, f"{position:064x}") for position in range(1, n + 1)]
    assert merkle_root(leaves) == _rfc6962(leaves).hex()


def test_the_content_and_batch_serialisations_never_change():
    # Stored hashes depend on them: a change would make every sealed event look tampered with.
    from datetime import UTC, datetime

    event = AuditEvent(
        time=datetime(2026, 12, 6, 12, 0, 0, 123456, tzinfo=UTC),
        action="document.view",
        outcome="success",
        actor_repr="Ada (+1•••0100)",
        target_type="documents.document",
        target_id="7",
        target_repr="Zoë ✓",
        request_id="r1",
        masked_ip="203.0.113.x",
        user_agent="UA",
        data={"n": 2.0, "list": [1, "x"]},
    )
    assert content_hash(event) == "5abd96356f92521b781e49a610c511d9ef9f471217b1404ec95dc63b27169097"
    batch = AuditBatch(
        seq=1,
        first_position=1,
        last_position=5,
        last_txid=None,
        last_event_id=5,
        event_count=5,
        merkle_root="ab" * 32,
        prev_hash=GENESIS_HASH,
        sealed_at=datetime(2026, 12, 6, 12, 0, 5, tzinfo=UTC),
    )
    assert batch_hash(batch) == "323234df5dbc42ac292807a2a011c4af38d5cf382733d63761d45454a97a79c7"


def test_a_leaf_binds_position_id_and_content():
    base = leaf_hash(1, 10, "a" * 64)
    assert len({base, leaf_hash(2, 10, "a" * 64), leaf_hash(1, 11, "a" * 64), leaf_hash(1, 10, "b" * 64)}) == 4


@pytest.mark.parametrize(
    ("xid32", "near", "full"),
    [(100, 100, 100), (2**32 - 1, 2**32 + 5, 2**32 - 1), (99, 2**32 + 5, 2**32 + 99), (7, 2**32 + 3, 2**32 + 7)],
)
def test_a_32_bit_xid_is_placed_in_the_right_epoch(xid32, near, full):
    assert _full_xid(xid32, near) == full


# --- sealing on any database ----------------------------------------------------------------


@pytest.mark.django_db
def test_sealing_gives_positions_in_id_order_and_chains_the_batches():
    events = [record(Action.DOCUMENT_VIEW, data={"n": n}) for n in range(12)]
    assert seal_all(batch_size=5) == 12
    batches = list(AuditBatch.objects.order_by("seq"))
    assert [(b.seq, b.first_position, b.last_position, b.event_count) for b in batches] == [
        (1, 1, 5, 5),
        (2, 6, 10, 5),
        (3, 11, 12, 2),
    ]
    assert [b.prev_hash for b in batches] == [GENESIS_HASH, batches[0].hash, batches[1].hash]
    assert all(batch_hash(b) == b.hash for b in batches)
    sealed = sealed_order()
    assert [e.pk for e in sealed] == [e.pk for e in events]
    assert (batches[0].last_event_id, batches[0].last_txid) == (events[4].pk, sealed[4].txid)
    first = sealed[:5]
    assert batches[0].merkle_root == merkle_root([leaf_hash(n, e.pk, content_hash(e)) for n, e in enumerate(first, 1)])
    head = AuditChainHead.objects.get()
    assert (head.last_batch_seq, head.last_batch_hash) == (3, batches[2].hash)


@pytest.mark.django_db
def test_a_second_run_with_nothing_new_seals_nothing():
    record(Action.DOCUMENT_VIEW)
    seal_all()
    result = audit_seal()
    assert (result.batches, result.events) == (0, 0)
    assert AuditBatch.objects.count() == 1


@pytest.mark.django_db
def test_a_run_seals_at_most_its_batches_and_the_next_run_carries_on():
    for n in range(7):
        record(Action.DOCUMENT_VIEW, data={"n": n})
    first = audit_seal(batch_size=2, max_batches=2)
    assert (first.batches, first.events) == (2, 4)
    seal_all(batch_size=2)
    assert AuditBatch.objects.count() == 4
    assert audit_chain_verify().ok


@pytest.mark.django_db
def test_an_event_of_a_rolled_back_savepoint_is_neither_sealed_nor_a_gap():
    record(Action.DOCUMENT_VIEW, data={"n": 1})
    try:
        with transaction.atomic():
            record(Action.DOCUMENT_VIEW, data={"n": "rolled back"})
            raise RuntimeError("the caller failed")
    except RuntimeError:
        pass
    record(Action.DOCUMENT_VIEW, data={"n": 2})
    assert seal_all() == 2
    assert [e.data for e in sealed_order()] == [{"n": 1}, {"n": 2}]
    assert audit_chain_verify().ok


# --- unsealed too long: verify, metrics ---------------------------------------------------------


@pytest.mark.django_db
def test_unsealed_events_are_counted_and_aged_for_the_metrics(settings):
    record(Action.DOCUMENT_VIEW)
    old = record(Action.DOCUMENT_VIEW)
    AuditEvent.objects.filter(pk=old.pk)  # (untouched: ages are measured from the event's own time)
    refresh_audit_gauges()
    assert REGISTRY.get_sample_value("docuid_audit_unsealed_events") == 2
    age = REGISTRY.get_sample_value("docuid_audit_oldest_unsealed_age_seconds")
    assert 0 <= age < 30
    assert REGISTRY.get_sample_value("docuid_audit_seal_max_delay_seconds") == settings.AUDIT_SEAL_MAX_DELAY
    seal_all()
    refresh_audit_gauges()
    assert REGISTRY.get_sample_value("docuid_audit_unsealed_events") == 0
    assert REGISTRY.get_sample_value("docuid_audit_oldest_unsealed_age_seconds") == 0


@pytest.mark.django_db
def test_an_event_unsealed_longer_than_the_delay_is_reported_with_its_age(settings):
    settings.AUDIT_SEAL_MAX_DELAY = 60
    event = record(Action.DOCUMENT_VIEW)
    later = event.time + __import__("datetime").timedelta(seconds=61)
    result = audit_chain_verify(now=later)
    assert result.intact and not result.ok
    assert (result.overdue.count, result.overdue.oldest_id) == (1, event.pk)
    assert result.unsealed.age_seconds(later) == pytest.approx(61, abs=1)
    assert audit_chain_verify(now=event.time).ok  # within the delay: fine


@pytest.mark.django_db
def test_the_metrics_endpoint_shows_a_stopped_sealer(client, settings):
    # /metrics reads the gauges from the database at each scrape, whichever process seals.
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    record(Action.DOCUMENT_VIEW)
    body = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert "docuid_audit_unsealed_events 1.0" in body
    assert "docuid_audit_oldest_unsealed_age_seconds" in body


# --- PostgreSQL: concurrent writers ---------------------------------------------------------------


def _in_thread(target, *args):
    errors: list[BaseException] = []

    def run():
        try:
            target(*args)
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


@pytest.mark.django_db(transaction=True)
def test_an_open_transactions_event_is_not_sealed_and_nothing_after_it_is_sealed_first(postgres):
    recorded, release = threading.Event(), threading.Event()
    held = {}

    def long_transaction():
        with transaction.atomic():
            held["event"] = record(Action.DOCUMENT_VIEW, data={"who": "long"})
            recorded.set()
            assert release.wait(30)

    thread, errors = _in_thread(long_transaction)
    assert recorded.wait(30)
    before = record(Action.DOCUMENT_VIEW, data={"who": "short, committed after the long one began"})
    audit_seal()
    # The long transaction began first (its id is lower) and may still commit: the short one's
    # event must wait behind it, and the long one's is not even visible.
    assert not AuditBatch.objects.exists()
    release.set()
    thread.join()
    assert errors == []
    seal_all()
    order = [e.pk for e in sealed_order()]
    assert order == [held["event"].pk, before.pk]
    assert audit_chain_verify().ok


@pytest.mark.django_db(transaction=True)
def test_a_late_committing_event_is_sealed_after_what_was_already_sealed(postgres):
    # The long transaction starts *after* a first event is sealed, records, and commits only after more
    # short transactions were sealed behind it: nothing sealed may ever move or get something inserted before it.
    first = record(Action.DOCUMENT_VIEW, data={"n": "first"})
    seal_all()
    recorded, release = threading.Event(), threading.Event()

    def long_transaction():
        with transaction.atomic():
            record(Action.DOCUMENT_VIEW, data={"n": "long"})
            recorded.set()
            assert release.wait(30)

    thread, errors = _in_thread(long_transaction)
    assert recorded.wait(30)
    shorts = [record(Action.DOCUMENT_VIEW, data={"n": f"short {n}"}) for n in range(3)]
    audit_seal()
    assert [e.pk for e in sealed_order()] == [first.pk]
    release.set()
    thread.join()
    assert errors == []
    seal_all()
    sealed = sealed_order()
    assert [e.data["n"] for e in sealed] == ["first", "long", "short 0", "short 1", "short 2"]
    assert {s.pk for s in shorts} <= {e.pk for e in sealed}
    assert audit_chain_verify().ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_and_a_running_sealer_lose_nothing_and_seal_in_commit_order(postgres):
    writers, per_writer = 8, 20
    start = threading.Barrier(writers + 1)
    done = threading.Event()
    rolled_back: list[int] = []

    def write(writer: int) -> None:
        rng = random.Random(writer)
        start.wait()
        for n in range(per_writer):
            try:
                with transaction.atomic():
                    event = record(Action.DOCUMENT_VIEW, data={"writer": writer, "n": n})
                    time.sleep(rng.choice([0, 0, 0.001, 0.005, 0.03]))  # short and long transactions interleave
                    if n % 7 == 3:
                        raise LookupError
            except LookupError:
                rolled_back.append(event.pk)

    def sealer() -> None:
        start.wait()
        while not done.is_set():
            audit_seal(batch_size=7)
            time.sleep(0.002)

    threads = [_in_thread(write, w) for w in range(writers)]
    sealing, sealer_errors = _in_thread(sealer)
    for thread, _ in threads:
        thread.join()
    done.set()
    sealing.join()
    assert [e for _, errors in threads for e in errors] == [] and sealer_errors == []

    seal_all(batch_size=7)
    committed = writers * per_writer - len(rolled_back)
    assert len(rolled_back) == writers * 3
    sealed = sealed_order()
    assert len(sealed) == committed and len({e.pk for e in sealed}) == committed, "every committed event sealed once"
    assert not AuditEvent.objects.filter(pk__in=rolled_back).exists()
    assert not unsealed_events().exists()
    # Commit order: when a run sealed, everything below its horizon was final and it sealed all of it
    # (its batches share the horizon). An event from below that horizon sealed by a later run would
    # have been final but skipped: sealed out of commit order. And no run sealed a running one.
    runs: dict[int, int] = {}
    for horizon, last in AuditBatch.objects.order_by("seq").values_list("horizon_txid", "last_position"):
        runs[horizon] = max(runs.get(horizon, 0), last)
    assert list(runs) == sorted(runs), "horizons only move forward"
    for horizon, last in runs.items():
        skipped = [e.pk for e in sealed[last:] if e.txid < horizon]
        assert not skipped, f"run with horizon {horizon}: events {skipped} were final then but sealed later"
    for batch in AuditBatch.objects.order_by("seq"):
        inside = sealed[batch.first_position - 1 : batch.last_position]
        assert all(e.txid < batch.horizon_txid for e in inside), f"batch {batch.seq} sealed a running transaction"
    assert len(runs) > 1, "the sealer ran while the writers wrote"
    result = audit_chain_verify()
    assert result.ok and result.checked == committed


@pytest.mark.django_db(transaction=True)
def test_two_sealers_never_seal_the_same_events(postgres):
    for n in range(30):
        record(Action.DOCUMENT_VIEW, data={"n": n})
    barrier = threading.Barrier(4)

    def seal_once():
        barrier.wait()
        audit_seal(batch_size=3)

    threads = [_in_thread(seal_once) for _ in range(4)]
    for thread, errors in threads:
        thread.join()
        assert errors == []
    seal_all()
    assert len({e.pk for e in sealed_order()}) == AuditEvent.objects.count() == 30
    assert audit_chain_verify().ok


@pytest.mark.django_db
def test_a_sealed_event_tampered_with_as_superuser_is_detected(postgres):
    events = [record(Action.DOCUMENT_VIEW, data={"n": n}) for n in range(4)]
    seal_all()
    with connection.cursor() as cursor:
        # session_replication_role = replica skips ordinary triggers: what a superuser could do.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE audit_auditevent SET target_repr = 'nothing to see' WHERE id = %s", [events[2].pk])
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    broken = audit_chain_verify().first_broken
    assert (broken.id, broken.field) == (events[2].pk, "hash")


@pytest.mark.django_db
def test_an_event_slipped_in_without_a_txid_is_reported_not_overlooked(postgres, raw_insert):
    record(Action.DOCUMENT_VIEW)
    seal_all()
    raw_insert(txid=None, time=timezone.now(), hash="e" * 64)  # the stamping trigger disabled
    audit_seal()
    assert unsealed_events().count() == 1  # never sealed, and counted by the gauges and audit_verify
