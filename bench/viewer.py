"""Viewer bench (issue #15). Sections, each a function of SECTIONS below:

* ``conversions`` — LibreOffice conversions to PDF per minute per core for docx/xlsx/pptx
  (wall clock, one at a time; and per minute of CPU time, which a loaded machine disturbs less):
  DocuID's ``documents.office.convert`` (fresh private profile per file, own network
  namespace, as nobody when root, rlimits, process group) against calling
  ``soffice --headless --convert-to pdf`` directly on the same files (its default profile,
  reused: the fastest plain call). One conversion at a time, so each run uses one core;
  ours and direct alternate file by file so a change in machine load hits both alike.
  Target: ours >= 0.8x direct. The thumbnail of each rendition (documents.thumbnails, a
  limited child) is timed too, as the rest of what a rendition costs.

* ``stamping`` — leak-tracing stamps on confidential PDFs (bench/viewer_stamp.py, also
  runnable alone): opens of a 100-page PDF through gunicorn, stamped against unstamped
  (target >= 0.5x), and the peak RSS growth while a 500 MB PDF is stamped (< 64 MB).

    .venv/bin/python bench/viewer.py [--section conversions|stamping] [--files 6] [--pages 100] [--big-mb 500]

Prints a table and writes var/bench/viewer.json (figures for bench/README.md, "Viewer").
"""

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from documents import office, thumbnails  # noqa: E402  (pure modules: no Django needed)
from tests.documents import office_files  # noqa: E402

WORDS = [
    "lease",
    "tenant",
    "landlord",
    "premises",
    "rent",
    "deposit",
    "clause",
    "schedule",
    "annex",
    "signature",
    "witness",
    "notice",
    "termination",
    "renewal",
    "maintenance",
    "insurance",
    "liability",
    "indemnity",
    "arbitration",
    "jurisdiction",
]
TIMEOUT_SECONDS = 120
MEMORY_MB = 2048


def sample_files(kind: str, count: int) -> list[bytes]:
    """Realistic small office files: a 5-page letter, a 3-sheet workbook, a 10-slide deck (distinct bytes)."""
    files = []
    for n in range(count):
        line = " ".join(WORDS[(n + i) % len(WORDS)] for i in range(60))
        if kind == "docx":
            files.append(office_files.docx_bytes([f"Page {p} of contract {n}. " + line * 6 for p in range(5)]))
        elif kind == "xlsx":
            sheets = {
                f"Sheet{s}": [[f"row {r}", *WORDS[(r + s) % 10 : (r + s) % 10 + 5], r * 1.5] for r in range(150)]
                for s in range(3)
            }
            files.append(office_files.xlsx_bytes(sheets))
        else:
            files.append(office_files.pptx_bytes([f"Slide {s} of deck {n}: {line[:80]}" for s in range(10)]))
    return files


def children_cpu() -> float:
    """CPU seconds (user + system) of every child process reaped so far, soffice.bin included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def direct(src: Path, out: Path) -> float:
    """soffice as one would call it by hand: default profile, no limits, no isolation."""
    started = time.perf_counter()
    subprocess.run(
        ["soffice", "--headless", "--norestore", "--convert-to", "pdf", "--outdir", str(out), str(src)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=TIMEOUT_SECONDS,
    )
    seconds = time.perf_counter() - started
    if not (out / f"{src.stem}.pdf").is_file():
        raise RuntimeError(f"direct soffice produced nothing for {src.name}")
    return seconds


def ours(src: Path, out: Path) -> tuple[float, Path]:
    started = time.perf_counter()
    pdf = office.convert(src, "pdf", out, timeout_seconds=TIMEOUT_SECONDS, memory_mb=MEMORY_MB, reuse_profile=True)
    return time.perf_counter() - started, pdf


def conversions(args) -> dict:
    if not office.available():
        sys.exit("LibreOffice (soffice) is not installed: sh deploy/install-prod-tools.sh")
    work = Path(tempfile.mkdtemp(prefix="docuid-bench-viewer-"))
    os.chmod(work, 0o755)  # LibreOffice runs as nobody when this runs as root
    results = {}
    try:
        # Warm both paths once (page cache for LibreOffice's libraries; the direct call's default profile).
        warm = work / "warm.docx"
        warm.write_bytes(sample_files("docx", 1)[0])
        direct(warm, work)
        ours(warm, work)
        for kind in ("docx", "xlsx", "pptx"):
            timings = {"ours": [], "direct": [], "thumbnail": []}
            cpu = {"ours": 0.0, "direct": 0.0}
            for n, data in enumerate(sample_files(kind, args.files)):
                src = work / f"{kind}-{n}.{kind}"
                src.write_bytes(data)
                # Alternate which runs first, so neither always meets a warmer cache.
                order = ("ours", "direct") if n % 2 == 0 else ("direct", "ours")
                for who in order:
                    out = work / f"out-{who}-{kind}-{n}"
                    out.mkdir()
                    before = children_cpu()
                    if who == "direct":
                        timings["direct"].append(direct(src, out))
                        cpu["direct"] += children_cpu() - before
                    else:
                        seconds, pdf = ours(src, out)
                        cpu["ours"] += children_cpu() - before
                        timings["ours"].append(seconds)
                        started = time.perf_counter()
                        thumbnails.run(str(pdf), "pdf", str(out / "t.webp"), timeout_seconds=30, memory_mb=1024)
                        timings["thumbnail"].append(time.perf_counter() - started)
            row = {
                who: {
                    "median_s": round(statistics.median(values), 3),
                    "per_minute_per_core": round(60 / statistics.mean(values), 1),
                }
                for who, values in timings.items()
            }
            for who in ("ours", "direct"):
                # What one core does when it does nothing else: conversions per minute of CPU time.
                row[who]["cpu_s"] = round(cpu[who] / len(timings[who]), 3)
                row[who]["per_cpu_minute"] = round(60 * len(timings[who]) / cpu[who], 1)
            row["ratio"] = round(row["ours"]["per_minute_per_core"] / row["direct"]["per_minute_per_core"], 2)
            row["cpu_ratio"] = round(row["ours"]["per_cpu_minute"] / row["direct"]["per_cpu_minute"], 2)
            results[kind] = row
            print(
                f"{kind:5}  ours {row['ours']['per_minute_per_core']:6.1f}/min  "
                f"direct {row['direct']['per_minute_per_core']:6.1f}/min  ratio {row['ratio']:.2f}x  |  per CPU-minute: "
                f"ours {row['ours']['per_cpu_minute']:6.1f}  direct {row['direct']['per_cpu_minute']:6.1f}  "
                f"ratio {row['cpu_ratio']:.2f}x  (thumbnail {row['thumbnail']['median_s'] * 1000:.0f} ms)",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"isolation": office.isolation()[0], "files_per_type": args.files, "types": results}


def stamping(args) -> dict:
    """Stamped against unstamped opens, and memory for a 500 MB PDF (bench/viewer_stamp.py)."""
    from bench import viewer_stamp

    with tempfile.TemporaryDirectory(prefix="docuid-bench-stamp-") as tmp:
        return {
            "memory": viewer_stamp.memory_bench(Path(tmp), args.big_mb),
            "throughput": viewer_stamp.throughput_bench(Path(tmp), args.pages, args.requests),
        }


SECTIONS = {"conversions": conversions, "stamping": stamping}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--section", choices=sorted(SECTIONS), action="append", help="default: all")
    parser.add_argument("--files", type=int, default=6, help="files per type (conversions)")
    parser.add_argument("--pages", type=int, default=100, help="pages of the opened PDF (stamping)")
    parser.add_argument("--requests", type=int, default=40, help="opens per run (stamping)")
    parser.add_argument("--big-mb", type=int, default=500, help="size of the memory-test PDF (stamping)")
    args = parser.parse_args()
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "load_before": os.getloadavg(),
        "libreoffice": subprocess.run(["soffice", "--version"], capture_output=True, text=True).stdout.strip(),
    }
    for name in args.section or list(SECTIONS):
        print(f"== {name}", flush=True)
        report[name] = SECTIONS[name](args)
    report["load_after"] = os.getloadavg()
    target = ROOT / "var" / "bench" / "viewer.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, indent=2))
    print(f"load average before {report['load_before']}, after {report['load_after']}; written to {target}")


if __name__ == "__main__":
    main()
