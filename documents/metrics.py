"""Text extraction metrics: time and failures counted where they happen, the backlog read from the database at scrape time."""

import logging

from prometheus_client import Counter, Gauge, Histogram

logger = logging.getLogger("docuid.documents")

extraction_seconds = Histogram(
    "docuid_extraction_seconds",
    "Time to extract one version's text, by extractor.",
    ["extractor"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
extraction_failures = Counter(
    "docuid_extraction_failures_total",
    "Extractions that failed, by reason (timeout, cpu, crashed, too_large, unsafe, damaged, ocr_failed, ...).",
    ["reason"],
)
# Set by /metrics from the database (like the backup gauges): whichever worker extracted, the
# database is the one place every process agrees on.
extraction_pending = Gauge(
    "docuid_extraction_pending",
    "Document versions whose text is not extracted yet (queued, or never queued).",
    multiprocess_mode="mostrecent",
)


def refresh_extraction_gauges() -> None:
    from documents.selectors import versions_pending_extraction_count

    try:
        pending = versions_pending_extraction_count()
    except Exception:  # noqa: BLE001 — /metrics must answer while the database is down
        logger.warning("extraction metrics not refreshed: database unavailable")
        return
    extraction_pending.set(pending)


# --- Renditions (issue #15): PDF renditions of Office files and thumbnails ----------------

rendition_seconds = Histogram(
    "docuid_rendition_seconds",
    "Time to render one version: kind pdf (LibreOffice conversion and thumbnail) or thumbnail (PDFs, images).",
    ["kind"],
    buckets=(0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120),
)
rendition_failures = Counter(
    "docuid_rendition_failures_total",
    "Renditions that failed, by reason (timeout, cpu, crashed, failed, storage, unavailable, error).",
    ["reason"],
)
renditions_pending = Gauge(
    "docuid_renditions_pending",
    "Document versions whose PDF rendition or thumbnail is not made yet (queued, or never queued).",
    multiprocess_mode="mostrecent",
)


def refresh_rendition_gauges() -> None:
    from documents.renditions import pending_count

    try:
        pending = pending_count()
    except Exception:  # noqa: BLE001 — /metrics must answer while the database is down
        logger.warning("rendition metrics not refreshed: database unavailable")
        return
    renditions_pending.set(pending)
