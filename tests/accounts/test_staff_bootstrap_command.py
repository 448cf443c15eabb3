"""staff_bootstrap prints a QR code an authenticator app can scan from the terminal."""

import io

import segno
from django.core.management import call_command


def _qr_rows(output: str) -> list[str]:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Scan this"))
    end = next(i for i, line in enumerate(lines) if "otpauth://totp/" in line and i > start)
    return lines[start + 1 : end]


def test_the_terminal_qr_code_has_no_blank_line_between_its_rows(db):
    out = io.StringIO()
    call_command("staff_bootstrap", "+13125557011", stdout=out)
    rows = _qr_rows(out.getvalue())
    while rows and not rows[-1].strip():
        rows.pop()  # the blank line before the URI
    assert rows, "no QR code printed"
    assert all(row.strip() for row in rows), "a blank line inside the QR code makes it unscannable"


def test_the_terminal_qr_code_is_compact_two_modules_per_character_row(db):
    out = io.StringIO()
    call_command("staff_bootstrap", "+13125557012", stdout=out)
    text = out.getvalue()
    uri = next(line for line in text.splitlines() if line.startswith("otpauth://totp/"))
    rows = [row for row in _qr_rows(text) if row.strip()]
    _width, height = segno.make(uri, error="m").symbol_size(border=4)
    assert len(rows) == (height + 1) // 2
