"""Gunicorn's shared metric files: a fast scrape and a bounded number of files.

prometheus_client's multiprocess mode keeps one mmap file per worker and metric type
in PROMETHEUS_MULTIPROC_DIR and merges them on every scrape. Two costs grow with use:

- **Files.** A worker that exits (gunicorn's `max_requests` recycling, a reload, a
  crash) leaves its counter and histogram files behind, because its counts must stay
  in the totals. With recycling every thousand requests that is thousands of files a
  day, each read on every scrape. `compact_worker_files` (called from gunicorn's
  `child_exit` in the master) folds a dead worker's files into one archive file per
  type and mode, so the directory holds the live workers' files plus a few archives.
- **Per-sample work.** `MultiProcessCollector` + `generate_latest` JSON-decode every
  key of every file, build a `Sample` per value and validate and escape every label
  on every scrape: ~30 µs a series, 200-800 ms for DocuID's few thousand. `render`
  produces the same exposition (a test compares the two on real multi-process files)
  while summing values by their raw key and caching each key's parsed and rendered
  form for the life of the process, since a key's meaning never changes.

Readers take a shared lock on the directory and compaction an exclusive one, so a
scrape never sees a worker's counts both in its file and in the archive.

This module is imported by gunicorn's master: it must not import Django.
"""

import contextlib
import fcntl
import glob
import json
import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.utils import floatToGoString

LOCK_FILE = ".compaction.lock"
ARCHIVE = "archive"
# Gauges whose samples are per process (a `pid` label) cannot be folded into an archive;
# live* gauges of a dead worker are deleted by mark_process_dead instead.
_UNFOLDABLE_GAUGE_MODES = frozenset({"all", "liveall", "livesum", "livemax", "livemin", "livemostrecent"})


@contextlib.contextmanager
def _locked(path: str, *, exclusive: bool) -> Iterator[None]:
    fd = os.open(os.path.join(path, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _file_kind(filename: str) -> tuple[str, str, str]:
    """(type, gauge mode or "", pid) from `counter_123.db` / `gauge_max_123.db`."""
    parts = os.path.basename(filename)[: -len(".db")].split("_")
    if parts[0] == "gauge":
        return "gauge", parts[1], parts[2]
    return parts[0], "", parts[1]


def _values(filename: str) -> list[tuple[str, float, float]]:
    try:
        return [(key, value, timestamp) for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(filename)]
    except FileNotFoundError:  # a live gauge file removed by mark_process_dead meanwhile
        return []


# --- Compaction ----------------------------------------------------------------------


def _fold(mode: str, current: float, current_ts: float, value: float, ts: float) -> tuple[float, float]:
    if mode == "max":
        return max(current, value), max(current_ts, ts)
    if mode == "min":
        return min(current, value), max(current_ts, ts)
    if mode == "mostrecent":
        return (value, ts) if ts >= current_ts else (current, current_ts)
    return current + value, max(current_ts, ts)  # counters, histograms, summaries, sum gauges


def compact_worker_files(path: str, pid: int) -> int:
    """Fold an exited worker's files into the archives; returns how many files went."""
    folded = 0
    with _locked(path, exclusive=True):
        for filename in sorted(glob.glob(os.path.join(path, f"*_{pid}.db"))):
            typ, mode, _ = _file_kind(filename)
            if typ == "gauge" and mode in _UNFOLDABLE_GAUGE_MODES:
                continue
            archive_name = f"gauge_{mode}_{ARCHIVE}.db" if typ == "gauge" else f"{typ}_{ARCHIVE}.db"
            archive = MmapedDict(os.path.join(path, archive_name))
            try:
                existing = {key: (value, ts) for key, value, ts in archive.read_all_values()}
                for key, value, timestamp in _values(filename):
                    if key in existing:
                        value, timestamp = _fold(mode, *existing[key], value, timestamp)
                    archive.write_value(key, value, timestamp)
            finally:
                archive.close()
            os.unlink(filename)
            folded += 1
    return folded


# --- Exposition ----------------------------------------------------------------------


def _escape_label_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _labels_text(items) -> str:
    return ",".join(f'{name}="{_escape_label_value(str(value))}"' for name, value in items)


@dataclass(frozen=True, slots=True)
class _Key:
    family: str
    sample: str
    help: str
    labels: tuple[tuple[str, str], ...]  # sorted, without `le`
    labels_text: str  # rendered, without braces
    le: float | None  # a histogram bucket's bound
    prefix: str  # the sample line up to its value


_KEYS: dict[str, _Key] = {}


def _prefix(sample: str, labels_text: str) -> str:
    return f"{sample}{{{labels_text}}} " if labels_text else f"{sample} "


def _parse(key: str) -> _Key:
    parsed = _KEYS.get(key)
    if parsed is None:
        family, sample, labels, help_text = json.loads(key)
        le = labels.pop("le", None) if sample.endswith("_bucket") else None
        items = tuple(sorted(labels.items()))
        text = _labels_text(items)
        parsed = _KEYS[key] = _Key(
            family, sample, help_text, items, text, None if le is None else float(le), _prefix(sample, text)
        )
    return parsed


_NUMBERS: dict[float, str] = {}


def _number(value: float) -> str:
    """floatToGoString, remembered: counts repeat (0, 1, 2 …) across thousands of buckets."""
    text = _NUMBERS.get(value)
    if text is None:
        if len(_NUMBERS) > 50_000:
            _NUMBERS.clear()
        text = _NUMBERS[value] = floatToGoString(value)
    return text


# A histogram's cumulative bucket lines, by (family, labels, bound): their text never changes.
_BUCKET_PREFIXES: dict[tuple[str, str, float], str] = {}


def _bucket_prefix(family: str, labels_text: str, bound: float) -> str:
    slot = (family, labels_text, bound)
    prefix = _BUCKET_PREFIXES.get(slot)
    if prefix is None:
        le = f'le="{floatToGoString(bound)}"'
        prefix = _BUCKET_PREFIXES[slot] = _prefix(f"{family}_bucket", f"{labels_text},{le}" if labels_text else le)
    return prefix


class _Family:
    __slots__ = ("buckets", "help", "lines", "name", "type")

    def __init__(self, name: str, typ: str, help_text: str):
        self.name, self.type, self.help = name, typ, help_text
        self.lines: list[str] = []
        self.buckets: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))

    def header(self) -> str:
        name = self.name + "_total" if self.type == "counter" else self.name
        help_text = self.help.replace("\\", r"\\").replace("\n", r"\n")
        return f"# HELP {name} {help_text}\n# TYPE {name} {self.type}\n"


def render(path: str) -> bytes:
    """The text exposition of every metric in a multiprocess directory."""
    summed: dict[str, float] = defaultdict(float)
    summed_type: dict[str, str] = {}
    gauges: list[tuple[str, str, str, float, float]] = []
    with _locked(path, exclusive=False):
        for filename in glob.glob(os.path.join(path, "*.db")):
            typ, mode, pid = _file_kind(filename)
            if typ == "gauge":
                gauges.extend((key, mode, pid, value, ts) for key, value, ts in _values(filename))
                continue
            for key, value, _ in _values(filename):
                summed[key] += value
                summed_type[key] = typ

    families: dict[str, _Family] = {}

    def family(key: _Key, typ: str) -> _Family:
        found = families.get(key.family)
        if found is None:
            found = families[key.family] = _Family(key.family, typ, key.help)
        return found

    for raw, value in summed.items():
        key = _parse(raw)
        typ = summed_type[raw]
        if key.le is not None:
            family(key, typ).buckets[key.labels_text][key.le] += value
        else:
            family(key, typ).lines.append(key.prefix + _number(value) + "\n")

    folded: dict[tuple[str, str], tuple[_Key, str, float, float]] = {}
    for raw, mode, pid, value, ts in gauges:
        key = _parse(raw)
        plain = mode.removeprefix("live")
        if plain == "all":
            labels = tuple(sorted((*key.labels, ("pid", pid))))
            family(key, "gauge").lines.append(_prefix(key.sample, _labels_text(labels)) + _number(value) + "\n")
            continue
        slot = (key.sample, key.labels_text)
        if slot in folded:
            _, _, current, current_ts = folded[slot]
            value, ts = _fold(plain, current, current_ts, value, ts)
        folded[slot] = (key, plain, value, ts)
    for key, _, value, _ in folded.values():
        family(key, "gauge").lines.append(key.prefix + _number(value) + "\n")

    output: list[str] = []
    for name in sorted(families):
        fam = families[name]
        output.append(fam.header())
        for labels_text, bounds in fam.buckets.items():
            cumulative = 0.0
            for bound in sorted(bounds):
                cumulative += bounds[bound]
                output.append(_bucket_prefix(name, labels_text, bound) + _number(cumulative) + "\n")
            output.append(_prefix(f"{name}_count", labels_text) + _number(cumulative) + "\n")
        output.extend(fam.lines)
    return "".join(output).encode()
