"""The sandboxed side of an extraction: read one file, answer with a JSON-able dict.

Runs in the zygote's grandchild (documents.extraction.zygote), under its CPU and memory
limits. Every failure becomes an answer with a reason; only a crash (a signal, or the
memory limit hit while answering) leaves the parent without one.
"""


def answer(request: dict) -> dict:
    from documents.extraction import ExtractionError, ExtractionSkipped, Limits
    from documents.extraction.registry import extract

    limits = Limits(**request["limits"])
    try:
        result = extract(request["path"], request["mime_type"], limits)
        return {"status": "done", "text": result.text, "extractor": result.extractor}
    except ExtractionSkipped as exc:
        return {"status": "skipped", "error": str(exc), "reason": exc.reason}
    except ExtractionError as exc:
        return {"status": "failed", "error": str(exc), "reason": exc.reason}
    except MemoryError:
        return {"status": "failed", "error": "The file needs more memory than allowed.", "reason": "memory"}
    except RecursionError:
        return {"status": "failed", "error": "The file is nested too deeply.", "reason": "too_large"}
    except Exception as exc:  # noqa: BLE001 — any library failure on a hostile file is the file's failure
        return {"status": "failed", "error": f"The file could not be read ({type(exc).__name__}).", "reason": "damaged"}
