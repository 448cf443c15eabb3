"""Phone numbers are DocuID's identity: one normal form (E.164) everywhere."""

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


def normalize_phone(raw: str, *, region: str | None = None) -> str:
    """Return `raw` as E.164 (+12025550123) or raise ValidationError."""
    raw = (raw or "").strip()
    if not raw or len(raw) > 32:
        raise ValidationError("Enter a valid phone number, e.g. +1 202 555 0123.", code="invalid_phone")
    try:
        number = phonenumbers.parse(raw, region or settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise ValidationError("Enter a valid phone number, e.g. +1 202 555 0123.", code="invalid_phone") from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError("That phone number is not valid.", code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class PhoneNumberField(models.CharField):
    """A CharField that accepts any valid format and stores E.164."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 16)
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        return normalize_phone(value) if value else value


def readable_phone(e164: str) -> str:
    """+13125550100 → "+1 312-555-0100", for showing a number to its own owner (never to logs)."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164


def mask_phone(e164: str) -> str:
    """+12025550123 → +1******0123: enough for a person to recognise, not to dial."""
    if len(e164) <= 6:
        return "*" * len(e164)
    return e164[:2] + "*" * (len(e164) - 6) + e164[-4:]


def country_calling_code(e164: str) -> str:
    return str(phonenumbers.parse(e164).country_code)
