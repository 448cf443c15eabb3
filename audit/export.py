"""Audit events as CSV or JSON lines, one row at a time."""

import csv
import json
from collections.abc import Iterable
from typing import TextIO

from audit.chain import format_time
from audit.models import AuditEvent

COLUMNS = (
    "id",
    "time",
    "action",
    "outcome",
    "actor_id",
    "actor_repr",
    "target_type",
    "target_id",
    "target_repr",
    "request_id",
    "masked_ip",
    "user_agent",
    "data",
    "prev_hash",
    "hash",
)
# Exported after COLUMNS (which bench/backup.py also uses to seed legacy rows): with `id`, the
# sealing order (txid, id); with the batches, an auditor can recompute every Merkle root.
EXPORT_COLUMNS = (*COLUMNS, "txid")
# A cell starting with one of these runs as a formula in Excel or LibreOffice
# (CSV injection): a document titled "=HYPERLINK(...)" must stay text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def event_row(event: AuditEvent) -> dict:
    row = {column: getattr(event, column) for column in EXPORT_COLUMNS if column not in {"time", "data"}}
    row["time"] = format_time(event.time)
    row["data"] = event.data
    return {column: row[column] for column in EXPORT_COLUMNS}


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True, ensure_ascii=False)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_csv(events: Iterable[AuditEvent], out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for event in events:
        writer.writerow([_csv_cell(value) for value in event_row(event).values()])
        count += 1
    return count


def write_jsonl(events: Iterable[AuditEvent], out: TextIO) -> int:
    count = 0
    for event in events:
        out.write(json.dumps(event_row(event), ensure_ascii=False, sort_keys=False) + "\n")
        count += 1
    return count
