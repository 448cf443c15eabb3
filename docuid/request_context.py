"""Per-request context (request id, user id) that log lines and audit events pick up."""

import contextvars
import re
import uuid

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
user_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("user_id", default="-")

# Accept a caller's id only if it is short and plain: it is echoed in headers and logs.
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def clean_request_id(candidate: str | None) -> str:
    """Return the caller's X-Request-ID if well-formed, else a fresh one."""
    if candidate and _REQUEST_ID_RE.fullmatch(candidate) and not _looks_like_pii(candidate):
        return candidate
    return uuid.uuid4().hex


def _looks_like_pii(candidate: str) -> bool:
    # A caller could send a phone number or an IP as its "request id" and have it copied,
    # unmasked, into every log line and audit event of the request.
    from docuid.logging import mask_pii  # docuid.logging imports this module

    return mask_pii(candidate) != candidate


def current_request_id() -> str:
    return request_id_var.get()
