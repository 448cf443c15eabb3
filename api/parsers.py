"""The API's only body parser: JSON bounded in size and depth (docuid.json_parsing), else a 400 VALIDATION_ERROR."""

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from docuid.json_parsing import JSONBodyError, parse_json


class BoundedJSONParser(JSONParser):
    """DRF's JSONParser without its unbounded json.load: a deep body is a ParseError, never a RecursionError."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DOCUID_API_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return parse_json(raw.decode(encoding), max_bytes=limit)
        except UnicodeDecodeError:
            raise ParseError(f"The body is not {encoding} text.") from None
        except JSONBodyError as exc:
            raise ParseError(exc.message) from None
