"""JSON log lines with PII masked.

Every handler carries two filters: RequestContextFilter adds request_id and
user_id; PIIMaskingFilter rewrites the message, its arguments, extra fields and
the traceback text so that phone numbers, emails, secrets and IPs never leave
the process unmasked. The masking rules are documented in
docs/OPERATIONS_GUIDE.md (Logging).

The patterns run on every log line, including attacker-controlled text (URLs,
bodies, headers), so each one is anchored at the start of a token by a
lookbehind and uses atomic groups / possessive quantifiers: matching stays
linear in the length of the line (tests feed them 100 kB strings).

phonenumbers.PhoneNumberMatcher was considered and rejected here: it gives up
silently after `max_tries` candidates (a padded line would then leak), does not
see national numbers of other regions or the 00 prefix, and is ~100x slower.
"""

import ipaddress
import json
import logging
import re
from datetime import UTC, datetime

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from docuid.request_context import request_id_var, user_id_var

REDACTED = "[REDACTED]"

# --- Secrets ----------------------------------------------------------------------
# Run first: tokens may contain digit runs that would otherwise be half-masked
# as phone numbers, leaving the rest of the secret readable.

_TOKEN_CHARS = r"[A-Za-z0-9._~+/=-]"
# `Authorization: <scheme> <credentials>` (header dumps, JSON header maps): the whole value goes.
_AUTH_HEADER_RE = re.compile(
    r"(?i)(?<![A-Za-z0-9])((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)(?:[A-Za-z]+\s+)?+" + _TOKEN_CHARS + r"++"
)
# A bare scheme and credentials anywhere else. `Token` needs a long value: it is also an English word.
_SCHEME_RE = re.compile(
    r"(?i)(?<![A-Za-z0-9])((?:bearer|basic)\s+)" + _TOKEN_CHARS + r"{8,}+"
    r"|(?<![A-Za-z0-9])(token\s+)" + _TOKEN_CHARS + r"{20,}+"
)
# key=value / "key": "value" / key: value, in query strings, JSON, headers and cookies.
_SECRET_KEYS = (
    r"x-api-key|api[_-]?key|apikey|private[_-]?key|secret[_-]?key|client[_-]?secret|claim[_-]?secret|secret"
    r"|token|access[_-]?token|refresh[_-]?token|id[_-]?token|auth[_-]?token|accesstoken|refreshtoken"
    r"|password|passwd|pwd|passcode|otp|sessionid|session[_-]?key|csrftoken|csrfmiddlewaretoken|signature"
)
_KEY_VALUE_RE = re.compile(
    r"(?i)(?<![A-Za-z0-9])((?:" + _SECRET_KEYS + r")[\"']?\s*[:=]\s*)"
    r"(\"[^\"\n]*+\"|'[^'\n]*+'|[^\s\"'&,;}\])]++)"
)
# A JSON Web Token wherever it appears (logged bodies, URLs).
_JWT_RE = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]*+")
# Links carrying a one-time secret: /approve/<token>, /enroll/<token>, /s/<token>...
_SECRET_LINK_RE = re.compile(
    r"(/(?:approve|approval|enroll|enrollment|s|share|shares/link|reset|verify|claim)/)[A-Za-z0-9_-]{16,}+"
)

# --- Emails -----------------------------------------------------------------------
# Also the URL-encoded form (`%40`), as it appears in logged query strings.
_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(?:@|%40)(?:[A-Za-z0-9-]++\.)+[A-Za-z]{2,}+"
)

# --- IP addresses -----------------------------------------------------------------
# Keep the network part (IPv4 /16, IPv6 /48): enough to see "one network is hammering
# us" without identifying a household.
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4_RE = re.compile(rf"(?<![\d.])({_OCTET}\.{_OCTET})\.{_OCTET}\.{_OCTET}(?![\d.]*\d)")
# Candidates only; ipaddress decides. At least two colons, hex and colons only.
_IPV6_CANDIDATE_RE = re.compile(r"(?<![0-9A-Za-z:.])(?:[0-9A-Fa-f]{0,4}+:){2,7}+[0-9A-Fa-f]{0,4}+(?![0-9A-Za-z:]|\.\d)")

# --- Phone numbers ----------------------------------------------------------------
# A candidate is a maximal run of digit groups with phone separators, taken whole
# (atomic) so that a timestamp or decimal cannot be matched piecemeal; _mask_phone
# then decides. Never starts inside a word, a decimal, a UUID segment or a time.
# A bracketed group is an area code: short and followed by more digits, so that
# "port 8000 (pid 12345)"-like text is not read as one number.
_PHONE_GROUP = r"(?:\(\d{1,4}+\)\x20?+(?=\d)|\d++)"
_PHONE_SEP = r"(?:\x20?+[-.]\x20?+|\x20{1,2}+)"
_PHONE_RE = re.compile(
    r"(?<![A-Za-z0-9.%+-])(?<!\d:)"
    rf"(?>(?:\+\x20?+)?+{_PHONE_GROUP}(?:{_PHONE_SEP}?+{_PHONE_GROUP})*+)"
    r"(?![A-Za-z0-9%+]|[-.:/]\d)"
)
# The same number URL-encoded in a logged query string or form body: `%2B1202...`,
# `202%20555%200123`, `202+555+0123` (form-encoded spaces).
_URLENCODED_PHONE_RE = re.compile(
    r"(?i)(?<![A-Za-z0-9.%+-])(?<!\d:)(%2B|\+)?+((?:%28)?+\d++(?:(?:%20|%2D|%2E|%28|%29|[-.+])++\d++)*+)"
    r"(?![A-Za-z0-9]|%[0-9A-F]{2}\d|[-.:/]\d)"
)
_DATE_RE = re.compile(r"\d{4}[-.]\d{1,2}[-.]\d{1,2}|\d{1,2}[-.]\d{1,2}[-.]\d{4}")
# The end of an access line (Django's dev server, `"GET /path HTTP/1.1" 429 2055`): a status code and a
# size in bytes, never a phone number ("429 2055" has a phone's shape). Only that exact tail, at the very
# end of the line, is kept out of the phone pass; the request line before it is masked as usual.
_ACCESS_TAIL_RE = re.compile(r'HTTP/\d(?:\.\d)?+"\x20[1-5]\d\d\x20(?:\d++|-)')


def _masked_digits(digits: str) -> str:
    return "*" * (len(digits) - 4) + digits[-4:]


def _mask_phone(match: re.Match) -> str:
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    international = text.startswith(("+", "00"))
    separators = set(re.sub(r"[\d()+]", "", text))
    if len(digits) < 7 or _DATE_RE.fullmatch(text):
        return text
    if len(digits) > 15:
        # Longer than any phone number: a bare run is an id or a hash; a spaced run
        # may be several numbers side by side, so it is masked whole.
        return text if not separators else "*" * len(digits)
    if not separators and not international and "(" not in text and len(digits) < 10:
        return text  # a short bare run: an id or a count, not a dialable number
    if "." in separators and (separators != {"."} or text.count(".") < 2 or len(digits) < 10):
        return text  # a decimal or a version string; dotted phones are all dots and long
    return ("+" if international else "") + _masked_digits(digits)


def _mask_ipv6(match: re.Match) -> str:
    text = match.group(0)
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return text
    if address.is_loopback or address.is_unspecified:
        return text
    network = address.exploded.split(":")[:3]
    return ":".join(part.lstrip("0") or "0" for part in network) + "::x"


def _mask_key_value(match: re.Match) -> str:
    value = match.group(2)
    quote = value[0] if value[:1] in {'"', "'"} else ""
    return f"{match.group(1)}{quote}{REDACTED}{quote}"


def _mask_urlencoded_phone(match: re.Match) -> str:
    prefix, number = match.group(1) or "", match.group(2)
    if not prefix and "%" not in number and "+" not in number:
        return match.group(0)  # plain text: the phone pass below decides
    digits = re.sub(r"(?i)%2[0-9A-F]|\D", "", number)
    if not 7 <= len(digits) <= 15:
        return match.group(0)
    return prefix + _masked_digits(digits)


def mask_pii(text: str) -> str:
    """Mask phone numbers, emails, secrets and IP host parts in `text`."""
    if not text:
        return text
    text = _AUTH_HEADER_RE.sub(lambda m: m.group(1) + REDACTED, text)
    text = _SCHEME_RE.sub(lambda m: (m.group(1) or m.group(2)) + REDACTED, text)
    text = _KEY_VALUE_RE.sub(_mask_key_value, text)
    text = _JWT_RE.sub(REDACTED, text)
    text = _SECRET_LINK_RE.sub(lambda m: m.group(1) + REDACTED, text)
    text = _EMAIL_RE.sub(lambda m: f"{m.group(1)}***@***", text)
    text = _URLENCODED_PHONE_RE.sub(_mask_urlencoded_phone, text)
    text = _IPV4_RE.sub(lambda m: f"{m.group(1)}.x.x", text)
    text = _IPV6_CANDIDATE_RE.sub(_mask_ipv6, text)
    tail = ""
    start = text.rfind("HTTP/")
    if start != -1 and _ACCESS_TAIL_RE.fullmatch(text, start):
        status_at = text.index('"', start) + 1
        text, tail = text[:status_at], text[status_at:]
    return _PHONE_RE.sub(_mask_phone, text) + tail


def mask_value(value):
    """Mask a log field, keeping its JSON shape (dicts, lists, numbers) where it is safe."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        # A phone number can travel as an int (`extra={"mobile": 12025550123}`).
        masked = mask_pii(str(value))
        return value if masked == str(value) else masked
    if isinstance(value, str):
        return mask_pii(value)
    if isinstance(value, dict):
        return {mask_pii(str(key)): mask_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask_value(item) for item in value]
    # Objects (requests, models) are rendered as masked text, never raw.
    return mask_pii(str(value))


# Attributes of every LogRecord that are not user data (message and context are masked too).
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__)


class PIIMaskingFilter(logging.Filter):
    """Mask PII in the message, its args, every extra field and the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_pii_masked", False):
            return True  # a record reaching a second handler is already clean
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
            if key not in _RESERVED:
                setattr(record, key, mask_value(value))
        record._pii_masked = True
        return True


class RequestContextFilter(logging.Filter):
    """Attach the current request id and user id to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(record, "request_id", None) or request_id_var.get()
        record.user_id = getattr(record, "user_id", None) or user_id_var.get()
        return True


class ClientErrorFilter(logging.Filter):
    """Django's security logger reports a client's bad request (too many fields or files, a body over the limit,
    a foreign Host) at ERROR with a traceback: anyone could fill the error logs and alerts at will. The client
    got a 400; it is a WARNING, without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        return True


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object per line: timestamp, level, logger, message, context, extras."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("timestamp", "timestamp")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger", "exc_info": "exception"})
        super().__init__("%(levelname)s %(name)s %(message)s %(request_id)s %(user_id)s", *args, **kwargs)

    def add_fields(self, log_data, record, message_dict):
        super().add_fields(log_data, record, message_dict)
        log_data.pop("_pii_masked", None)

    def format(self, record: logging.LogRecord) -> str:
        """The same JSON as python-json-logger's, built directly for the common record: already
        masked, no traceback or stack, every extra field a plain JSON value (the access line,
        once per request). Anything else takes the library's path."""
        if (
            not getattr(record, "_pii_masked", False)
            or record.exc_info
            or record.exc_text
            or record.stack_info
            or isinstance(record.msg, dict)
            or self.defaults
            or self.static_fields
        ):
            return super().format(record)
        record.message = record.getMessage()
        fields = record.__dict__
        data = {self._get_rename(name): fields.get(name) for name in self._required_fields}
        for key, value in fields.items():
            if key in self._skip_fields or key.startswith("_"):
                continue
            if value.__class__ not in _JSON_PLAIN:
                return super().format(record)
            data[self._get_rename(key)] = value
        data[self._get_rename("timestamp")] = datetime.fromtimestamp(record.created, tz=UTC).isoformat()
        return self.prefix + json.dumps(data, ensure_ascii=self.json_ensure_ascii)


_JSON_PLAIN = frozenset({str, int, float, bool, type(None)})
