"""Parsing JSON that came from outside (request bodies), bounded in size and depth.

Python's json module recurses once per nesting level: a few kilobytes of `[[[[...`
raised RecursionError, a 500 with an ERROR traceback (issue #12 F4). Every JSON
request body goes through `parse_json` — the API's parser (api.parsers), the web
views' `read_json`, the Alertmanager webhook — so a body is either a bounded value
or a `JSONBodyError` the caller turns into its own 400.
"""

import json
from typing import Any

MAX_BYTES = 64 * 1024
# Our deepest real body is a WebAuthn credential (4 levels); search filters are 3.
MAX_DEPTH = 32


class JSONBodyError(ValueError):
    """The body is not JSON we accept; `reason` is one of malformed, too_large, too_deep."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def _refuse_constant(name: str):
    # NaN and Infinity are not JSON (RFC 8259); Python accepts them by default.
    raise ValueError(f"{name} is not a JSON value")


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest more than `limit` levels (a scalar is 0, `{}` is 1); iterative, no recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def parse_json(raw: bytes | str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value in `raw` (UTF-8/16/32 bytes or text), or JSONBodyError; never RecursionError."""
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > max_bytes:
        raise JSONBodyError("too_large", f"The JSON body is larger than {max_bytes} bytes.")
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        # Nesting deeper than the interpreter's stack: far past max_depth, refused the same way.
        raise JSONBodyError("too_deep", f"The JSON body nests deeper than {max_depth} levels.") from None
    except (ValueError, UnicodeDecodeError):
        raise JSONBodyError("malformed", "The body is not valid JSON.") from None
    if isinstance(value, dict | list) and _deeper_than(value, max_depth):
        raise JSONBodyError("too_deep", f"The JSON body nests deeper than {max_depth} levels.")
    return value
