"""The child process side of the sandbox: extract one file, answer with JSON on stdout."""

import json
import sys


def main() -> None:
    from documents.extraction import ExtractionError, ExtractionSkipped, Limits
    from documents.extraction.registry import extract

    request = json.loads(sys.stdin.read())
    limits = Limits(**request["limits"])
    try:
        result = extract(request["path"], request["mime_type"], limits)
        answer = {"status": "done", "text": result.text, "extractor": result.extractor}
    except ExtractionSkipped as exc:
        answer = {"status": "skipped", "error": str(exc), "reason": exc.reason}
    except ExtractionError as exc:
        answer = {"status": "failed", "error": str(exc), "reason": exc.reason}
    except MemoryError:
        answer = {"status": "failed", "error": "The file needs more memory than allowed.", "reason": "memory"}
    except RecursionError:
        answer = {"status": "failed", "error": "The file is nested too deeply.", "reason": "too_large"}
    except Exception as exc:  # noqa: BLE001 — any library failure on a hostile file is the file's failure
        answer = {
            "status": "failed",
            "error": f"The file could not be read ({type(exc).__name__}).",
            "reason": "damaged",
        }
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
