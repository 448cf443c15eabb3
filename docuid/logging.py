"""JSON log lines with PII masked.

Every handler carries two filters: RequestContextFilter adds request_id and
user_id; PIIMaskingFilter rewrites the message, its arguments, extra fields and
the traceback text so that phone numbers, emails, secrets and IPs never leave
the process unmasked. The masking rules are documented in
docs/OPERATIONS_GUIDE.md (Logging).
"""

import logging
import re

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from docuid.request_context import request_id_var, user_id_var

# Order matters: secrets and links first (they may contain digits that look like
# phone numbers), then emails, then IPs, then phone numbers.
_SECRET_PATTERNS = [
    # Authorization headers and bearer tokens.
    (re.compile(r"(?i)\b(bearer|token|basic)(\s+|=|:\s*)[A-Za-z0-9._~+/=-]{8,}"), r"\1\2[REDACTED]"),
    # API keys and other key=value secrets in query strings, JSON or headers.
    (
        re.compile(
            r"(?i)(\b(?:x-api-key|api[_-]?key|apikey|secret|password|passwd|claim|claim_secret|"
            r"access[_-]?token|refresh[_-]?token|accessToken|refreshToken|sessionid|csrftoken|signature)"
            r"[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;}]+"
        ),
        r"\1[REDACTED]",
    ),
    # Links carrying a one-time secret: /approve/<token>, /enroll/<token>, /s/<token>.
    (
        re.compile(r"(/(?:approve|approval|enroll|enrollment|s|share|shares/link|reset)/)[A-Za-z0-9_-]{16,}"),
        r"\1[REDACTED]",
    ),
]
_EMAIL_RE = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+\.)+[A-Za-z]{2,}")
_IPV4_RE = re.compile(
    r"(?<![\d.])((?:25[0-5]|2[0-4]\d|1?\d?\d)\.(?:25[0-5]|2[0-4]\d|1?\d?\d))\.(?:25[0-5]|2[0-4]\d|1?\d?\d)\.(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"
)
_IPV6_RE = re.compile(
    r"(?<![0-9A-Fa-f:])((?:[0-9A-Fa-f]{1,4}:){2}[0-9A-Fa-f]{1,4})(?::[0-9A-Fa-f]{0,4}){1,5}(?![0-9A-Fa-f:])"
)
# A phone number: optional +, optional (area), digits with spaces, dots, dashes;
# 7 to 15 digits in all. Timestamps and ids are spared by requiring a separator
# pattern typical of phone numbers or a leading + / 00.
_PHONE_RE = re.compile(
    r"(?<![\w/.+-])"
    r"(?:\+|00)?\d{0,3}[\s.-]?(?:\(\d{1,4}\)|\d{1,4})[\s.-]?\d{2,4}[\s.-]?\d{2,4}(?:[\s.-]?\d{1,4})?"
    r"(?![\w/-])"
)
_PERCENT_PLUS_RE = re.compile(r"%2B(\d{7,15})", re.IGNORECASE)


def _mask_phone_match(match: re.Match) -> str:
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    has_plus = text.lstrip().startswith(("+", "00"))
    if len(digits) < 7 or len(digits) > 15:
        return text
    # A bare run of digits with no separators and no '+' is more often an id or a
    # count than a phone number; mask it only if it is long enough to dial.
    if not has_plus and re.fullmatch(r"\d+", text) and len(digits) < 10:
        return text
    return ("+" if has_plus else "") + "*" * (len(digits) - 4) + digits[-4:]


def mask_pii(text: str) -> str:
    """Mask phone numbers, emails, secrets and IP host parts in `text`."""
    if not text:
        return text
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    text = _EMAIL_RE.sub(lambda m: f"{m.group(1)}***@***", text)
    text = _PERCENT_PLUS_RE.sub(lambda m: "%2B" + "*" * (len(m.group(1)) - 4) + m.group(1)[-4:], text)
    text = _IPV4_RE.sub(lambda m: f"{m.group(1)}.x.x", text)
    text = _IPV6_RE.sub(lambda m: f"{m.group(1)}::x", text)
    return _PHONE_RE.sub(_mask_phone_match, text)


# Attributes of every LogRecord that are not user data.
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "user_id",
}


class PIIMaskingFilter(logging.Filter):
    """Mask PII in the message, its args, string extras and the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 — a broken format string must not lose the line
            message = f"{record.msg!r} {record.args!r}"
        record.msg = mask_pii(message)
        record.args = ()
        if record.exc_info:
            record.exc_text = mask_pii(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = mask_pii(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_pii(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key in _RESERVED:
                continue
            if isinstance(value, str):
                setattr(record, key, mask_pii(value))
            elif not isinstance(value, int | float | bool | type(None)):
                # Objects (requests, models) are rendered as masked text, never raw.
                setattr(record, key, mask_pii(str(value)))
        return True


class RequestContextFilter(logging.Filter):
    """Attach the current request id and user id to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(record, "request_id", None) or request_id_var.get()
        record.user_id = getattr(record, "user_id", None) or user_id_var.get()
        return True


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object per line: timestamp, level, logger, message, context, extras."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("timestamp", "timestamp")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger", "exc_info": "exception"})
        super().__init__("%(levelname)s %(name)s %(message)s %(request_id)s %(user_id)s", *args, **kwargs)
