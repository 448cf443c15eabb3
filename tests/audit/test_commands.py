"""audit_verify names the first tampered row or batch and overdue sealing; audit_export streams events and is itself audited."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from audit import record
from audit.actions import Action, Outcome
from audit.chain import format_time
from audit.models import AuditEvent
from tests.audit.conftest import seal_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain():
    """Five events, sealed in one batch."""
    events = [record(Action.DOCUMENT_VIEW, data={"n": n}) for n in range(5)]
    seal_all()
    return [AuditEvent.objects.get(pk=event.pk) for event in events]


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


# --- audit_verify ----------------------------------------------------------------------


def test_verify_passes_an_untouched_chain(chain):
    assert run("audit_verify").startswith("Audit chain OK: 5 events verified")


def test_verify_passes_an_empty_trail():
    assert run("audit_verify").startswith("Audit chain OK: 0 events verified")


def test_verify_names_a_row_whose_content_was_changed_behind_the_apps_back(chain, tamper):
    tamper(chain[2].pk, outcome="failure")
    with pytest.raises(CommandError) as failure:
        run("audit_verify")
    message = str(failure.value)
    assert f"event {chain[2].pk} at {chain[2].time.isoformat()} was altered" in message
    assert f", stored {chain[2].hash}" in message
    assert "after 2 good events" in message


def test_verify_names_a_row_whose_data_was_changed(chain, tamper):
    tamper(chain[1].pk, data=json.dumps({"n": 99}))
    with pytest.raises(CommandError, match=f"event {chain[1].pk} .* was altered"):
        run("audit_verify")


def test_verify_names_the_batch_of_a_forged_row_even_when_its_own_hash_was_recomputed(chain, tamper):
    # The attacker rewrites a row and its content hash; the batch's Merkle root no longer matches.
    forged = AuditEvent.objects.get(pk=chain[1].pk)
    forged.data = {"n": 42}
    from audit.chain import content_hash

    tamper(chain[1].pk, data=json.dumps(forged.data), hash=content_hash(forged))
    with pytest.raises(CommandError, match="sealed batch 1 Merkle root does not match its events"):
        run("audit_verify")


def test_verify_names_the_batch_a_deleted_row_was_sealed_in(chain, delete_raw):
    delete_raw(chain[3].pk)
    with pytest.raises(CommandError) as failure:
        run("audit_verify")
    message = str(failure.value)
    assert (
        f"sealed batch 1 does not hold exactly its events: expected 5 events ending at event {chain[4].pk}" in message
    )
    assert f"found 4 events ending at event {chain[4].pk}" in message


def test_verify_names_the_batch_an_event_was_slipped_into(postgres, chain, raw_insert):
    # A forged row with an older transaction id sorts inside the sealed range (here: before its first event).
    raw_insert(txid=chain[0].txid - 1, time=chain[2].time, hash="e" * 64)
    with pytest.raises(CommandError, match="sealed batch 1 does not hold exactly its events"):
        run("audit_verify")


def test_verify_says_how_many_events_wait_for_the_sealer(chain):
    record(Action.DOCUMENT_VIEW)
    output = run("audit_verify")
    assert output.startswith("Audit chain OK: 5 events verified in the legacy chain and 1 sealed batches")
    assert "1 events not sealed yet" in output


def test_verify_fails_on_an_event_unsealed_for_longer_than_the_delay(chain, settings):
    settings.AUDIT_SEAL_MAX_DELAY = 0  # every unsealed event is overdue: as if the sealer had stopped long ago
    late = record(Action.DOCUMENT_VIEW)
    with pytest.raises(CommandError) as failure:
        run("audit_verify")
    message = str(failure.value)
    assert "Audit trail intact" in message
    assert f"1 events have waited longer than 0 s to be sealed (oldest: event {late.pk} at" in message
    seal_all()
    assert run("audit_verify").startswith("Audit chain OK: 6 events verified")


def test_audit_seal_seals_what_is_final(chain):
    for n in range(3):
        record(Action.DOCUMENT_VIEW, data={"later": n})
    assert run("audit_seal").strip() == "Sealed 3 audit events in 1 batches."
    assert run("audit_seal", "--until-done").strip() == "Sealed 0 audit events in 0 batches."


def test_verify_on_postgres_catches_tampering_done_with_the_trigger_disabled(postgres, chain, tamper):
    tamper(chain[0].pk, target_repr="nothing to see")
    with pytest.raises(CommandError, match=f"event {chain[0].pk} .* was altered"):
        run("audit_verify")


# --- audit_export ----------------------------------------------------------------------


def test_export_jsonl_writes_one_object_per_event_in_chain_order(chain):
    lines = run("audit_export", "--format", "jsonl").splitlines()
    rows = [json.loads(line) for line in lines]
    assert [row["id"] for row in rows] == [event.pk for event in chain]
    assert rows[0]["time"] == format_time(chain[0].time)
    assert rows[0]["data"] == {"n": 0}
    assert rows[0]["hash"] == chain[0].hash
    assert rows[0]["txid"] == chain[0].txid


def test_export_csv_has_a_header_and_one_row_per_event(chain):
    rows = list(csv.DictReader(io.StringIO(run("audit_export", "--format", "csv"))))
    assert [int(row["id"]) for row in rows] == [event.pk for event in chain]
    assert json.loads(rows[2]["data"]) == {"n": 2}
    assert (rows[2]["prev_hash"], rows[2]["hash"]) == ("", chain[2].hash)
    assert rows[2]["txid"] == ("" if chain[2].txid is None else str(chain[2].txid))


def test_export_csv_defuses_cells_a_spreadsheet_would_run_as_formulas():
    record(Action.DOCUMENT_UPLOAD, target_repr='=HYPERLINK("http://evil.example","x")')
    [row] = csv.DictReader(io.StringIO(run("audit_export", "--format", "csv", "--action", "document.upload")))
    assert row["target_repr"] == '\'=HYPERLINK("http://evil.example","x")'


def test_export_filters_by_action(chain):
    record(Action.AUTH_DENIED, outcome=Outcome.FAILURE)
    rows = [json.loads(line) for line in run("audit_export", "--action", "auth.denied").splitlines()]
    assert [row["action"] for row in rows] == ["auth.denied"]


def test_export_filters_by_time_with_since_inclusive_and_until_exclusive(chain):
    since, until = format_time(chain[1].time), format_time(chain[3].time)
    rows = [json.loads(line) for line in run("audit_export", "--since", since, "--until", until).splitlines()]
    assert [row["id"] for row in rows] == [chain[1].pk, chain[2].pk]


def test_export_reads_a_naive_time_as_utc(chain):
    naive = (chain[0].time - timedelta(days=1)).replace(tzinfo=None).isoformat()
    assert len(run("audit_export", "--since", naive).splitlines()) == 5


def test_export_to_a_file_writes_the_file(chain, tmp_path):
    target = tmp_path / "audit.jsonl"
    assert run("audit_export", "--output", str(target)) == ""
    assert len(target.read_text().splitlines()) == 5


def test_export_records_that_it_happened(chain):
    run("audit_export", "--format", "csv", "--action", "document.view")
    event = AuditEvent.objects.order_by("-id").first()
    assert event.action == Action.OPS_AUDIT_EXPORT
    assert event.data == {
        "format": "csv",
        "since": None,
        "until": None,
        "action": "document.view",
        "destination": "stdout",
        "count": 5,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "--since must be an ISO 8601"),
        (["--until", "2025-13-45"], "--until must be an ISO 8601"),
        (["--since", "2025-02-01", "--until", "2025-01-01"], "--since must be before --until"),
        (["--action", "auth.teleported"], "Unknown --action"),
        (["--output", "/nonexistent-dir/audit.csv"], "Cannot write /nonexistent-dir/audit.csv"),
    ],
)
def test_export_explains_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message):
        run("audit_export", *args)
    assert not AuditEvent.objects.exists()
